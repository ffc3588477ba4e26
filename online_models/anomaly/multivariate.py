"""Distance of a whole device's reading from the device's normal state (Hotelling's T²)."""

from __future__ import annotations

import math

import numpy as np
from river import base


class DeviceDistance(base.AnomalyDetector):
    """Scores a device's reading, all its metrics at once, by its distance from normal.

    A pump whose current, pressure and vibration each stay in range may still be broken if
    they no longer move together; only a model of the metrics jointly sees it. Over its first
    `warmup` readings the detector learns the device's normal state: the mean of each metric
    and their correlations. Afterwards a reading's distance is Hotelling's T² statistic,
    `z' R⁻¹ z / d` for the standardised reading `z`, where the correlation matrix is shrunk
    towards the identity, `R = (C + shrinkage·I) / (1 + shrinkage)`, so that a metric that
    never moved during warm-up does not make the distance explode. Distances are smoothed
    exponentially (collective anomalies last; single noisy readings do not) and compared
    with the largest smoothed distance of the warm-up itself (its first quarter excepted):
    the ratio `r` maps to `score = r² / (r² + (alarm_ratio / 2)²)`, which is 0.8 at
    `r = alarm_ratio`.

    Some metrics have no fixed normal state: a temperature that climbs while a pump runs.
    Each metric therefore gets a level that follows it, a local-level model (Harvey 1989,
    ch. 2): its steady-state gain comes from the warm-up, from how much more the metric
    moves over `drift_lag` readings than from one reading to the next, and each step of the
    level is capped at `clip` noise scales, so that a slow drift is followed and a sudden
    shift is not. A gain below `min_gain` is what white noise shows by chance (99 % of
    400-reading warm-ups of white noise give less than 0.13): such a metric keeps the
    warm-up's mean. The distance is that of the readings' deviations from these levels.

    After warm-up the normal state keeps adapting, slowly (weight `alpha`), and only from
    readings whose ratio is below 1, so that an anomaly cannot teach the model that it is
    normal. A reading whose set of metrics differs from the learnt one scores 0.

    This is the T² chart of statistical process control (Hotelling 1947; Montgomery,
    *Introduction to Statistical Quality Control*, ch. 11) learnt online, with
    Ledoit-Wolf-style shrinkage of the covariance.

    Parameters
    ----------
    warmup
        Readings learnt before the first non-zero score.
    shrinkage
        Weight of the identity in the shrunk correlation matrix.
    smoothing
        Weight of the previous smoothed distance (0 = no smoothing).
    alarm_ratio
        Ratio of the smoothed distance to the warm-up's largest at which the score is 0.8.
    alpha
        Weight of a normal reading in the adapting mean and covariance after warm-up.
    drift_lag
        Readings over which a metric's drift is told from its noise during warm-up.
    min_gain
        Smallest gain of a metric's level; below it the level stays at the warm-up mean.
    clip
        Largest step of a level, in the metric's noise scales.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> model = DeviceDistance(warmup=200)
    >>> for _ in range(300):  # current and pressure move together
    ...     load = rng.gauss(0, 1)
    ...     model.learn_one({"current": 10 + load, "pressure": 2 + 0.2 * load + rng.gauss(0, 0.02)})
    >>> model.score_one({"current": 11.0, "pressure": 2.2}) < 0.5  # both up: normal
    True
    >>> scores = []
    >>> for _ in range(30):  # current up, pressure down: a blockage
    ...     x = {"current": 11.0, "pressure": 1.8}
    ...     scores.append(model.score_one(x))
    ...     model.learn_one(x)
    >>> scores[-1] > 0.8
    True
    >>> sorted(model.drivers({"current": 11.0, "pressure": 1.8}))
    ['current', 'pressure']

    """

    def __init__(
        self,
        warmup: int = 400,
        shrinkage: float = 1.0,
        smoothing: float = 0.92,
        alarm_ratio: float = 1.15,
        alpha: float = 0.001,
        drift_lag: int = 20,
        min_gain: float = 0.15,
        clip: float = 2.0,
    ) -> None:
        self.warmup = warmup
        self.shrinkage = shrinkage
        self.smoothing = smoothing
        self.alarm_ratio = alarm_ratio
        self.alpha = alpha
        self.drift_lag = drift_lag
        self.min_gain = min_gain
        self.clip = clip
        self._keys: tuple[str, ...] | None = None
        self._seen: list[list[float]] = []
        self._gains: np.ndarray | None = None  # per metric, of its level
        self._steps: np.ndarray | None = None  # largest step of each level
        self._levels: np.ndarray | None = None
        self._center: np.ndarray | None = None  # standardisation, fixed after warm-up
        self._scale: np.ndarray | None = None
        self._mean: np.ndarray | None = None  # adapting, in standard units
        self._cov: np.ndarray | None = None
        self._precision: np.ndarray | None = None
        self._updates = 0
        self._smoothed = 0.0
        self._reference = 1.0

    @staticmethod
    def _metrics(x: dict) -> tuple[str, ...]:
        return tuple(sorted(k for k in x if k != "t"))

    _looked_at: tuple[dict, np.ndarray, np.ndarray, float] | None = None
    """The last reading scored, its values, deviations and distance, until the next learn.

    The flow scores a reading, asks its distance, then learns it: all three need the same
    deviations, which cost more than the rest of the detector's work.
    """

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_looked_at", None)  # a cache, not part of the model
        return state

    def _values(self, x: dict) -> np.ndarray | None:
        if self._precision is None or self._metrics(x) != self._keys:
            return None
        return np.fromiter((x[k] for k in self._keys), float, len(self._keys))

    def _standard(self, values: np.ndarray) -> np.ndarray:
        return (values - self._levels - self._center) / self._scale - self._mean

    def _look(self, x: dict) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The values, deviations and distance of `x`; None before warm-up or if it differs."""
        looked = self._looked_at
        if looked is not None and looked[0] == x:
            return looked[1:]
        values = self._values(x)
        if values is None:
            return None
        z = self._standard(values)
        distance = self._distance(z)
        self._looked_at = (dict(x), values, z, distance)
        return values, z, distance

    def _distance(self, z: np.ndarray) -> float:
        return float(z @ self._precision @ z) / len(z)

    def _smooth(self, previous: float, distance: float) -> float:
        return self.smoothing * previous + (1.0 - self.smoothing) * distance

    def distance(self, x: dict) -> float | None:
        """Unsmoothed distance of `x` relative to the warm-up's largest; None before warm-up.

        This is the statistic to watch for change points (see `ChangePoint`).
        """
        looked = self._look(x)
        return None if looked is None else looked[2] / self._reference

    def score_one(self, x: dict) -> float:
        looked = self._look(x)
        if looked is None:
            return 0.0
        ratio = self._smooth(self._smoothed, looked[2]) / self._reference
        half = self.alarm_ratio / 2.0
        return ratio * ratio / (ratio * ratio + half * half)

    def drivers(self, x: dict, top: int = 2) -> list[str]:
        """The metrics that contribute most to the distance of `x`, largest first."""
        looked = self._look(x)
        if looked is None:
            return []
        keys = self._keys
        assert keys is not None  # set with the first reading, before `_look` can be
        z = looked[1]
        contributions = z * (self._precision @ z)
        order = np.argsort(-contributions)[:top]
        return [keys[i] for i in order if contributions[i] > 0]

    def learn_one(self, x: dict) -> None:
        if self._keys is None:
            self._keys = self._metrics(x)
        if self._precision is None:
            if self._metrics(x) == self._keys:
                self._seen.append([float(x[k]) for k in self._keys])
                if len(self._seen) >= self.warmup:
                    self._fit_warmup()
            return
        looked = self._look(x)
        self._looked_at = None  # learning changes what a reading's deviations are
        if looked is None:
            return
        values, z, distance = looked
        assert self._mean is not None and self._cov is not None  # fitted with the warm-up
        self._follow(values)
        self._smoothed = self._smooth(self._smoothed, distance)
        if self._smoothed < self._reference and self.alpha > 0:
            self._mean = self._mean + self.alpha * z
            centred = z - self.alpha * z
            self._cov = (1 - self.alpha) * self._cov + self.alpha * np.outer(centred, centred)
            self._updates += 1
            if self._updates % 50 == 0:
                self._precision = self._invert(self._cov)

    def _follow(self, values: np.ndarray) -> None:
        """One step of each metric's level towards `values`, capped (see the class doc)."""
        assert self._levels is not None and self._steps is not None and self._gains is not None
        step = np.clip(values - self._levels, -self._steps, self._steps)
        self._levels = self._levels + self._gains * step

    def _invert(self, cov: np.ndarray) -> np.ndarray:
        d = len(cov)
        return np.linalg.inv((cov + self.shrinkage * np.eye(d)) / (1.0 + self.shrinkage))

    def _fit_levels(self, data: np.ndarray) -> np.ndarray:
        """Fit each metric's level model to the warm-up; return the deviations from it."""
        lag = min(self.drift_lag, len(data) - 1)
        # mean squares, not variances: a steady climb is a drift to follow as well
        one = np.mean(np.diff(data, axis=0) ** 2, axis=0)
        many = np.mean((data[lag:] - data[:-lag]) ** 2, axis=0) if lag > 1 else one
        drift = np.maximum((many - one) / max(lag - 1, 1), 0.0)  # variance of a level step
        noise = np.maximum((one - drift) / 2.0, 1e-24)
        q = drift / noise
        gains = (np.sqrt(q * q + 4.0 * q) - q) / 2.0  # steady-state Kalman gain
        self._gains = np.where(gains >= self.min_gain, gains, 0.0)
        self._steps = self.clip * np.sqrt(one / 2.0)
        self._levels = np.where(self._gains > 0, data[0], data.mean(axis=0))
        deviations = np.empty_like(data)
        for i, row in enumerate(data):
            deviations[i] = row - self._levels
            self._follow(row)
        return deviations

    def _fit_warmup(self) -> None:
        data = self._fit_levels(np.asarray(self._seen))
        self._seen = []
        self._center = data.mean(axis=0)
        scale = data.std(axis=0)
        self._scale = np.where(scale > 1e-12, scale, 1.0)
        z = (data - self._center) / self._scale
        self._mean = np.zeros(z.shape[1])
        self._cov = np.atleast_2d(np.cov(z.T, bias=True))
        self._precision = self._invert(self._cov)
        smoothed, peak = 0.0, 0.0
        for i, row in enumerate(z):
            smoothed = self._smooth(smoothed, self._distance(row))
            if i >= len(z) // 4:
                peak = max(peak, smoothed)
        self._smoothed = smoothed
        self._reference = peak if peak > 0 and math.isfinite(peak) else 1.0
