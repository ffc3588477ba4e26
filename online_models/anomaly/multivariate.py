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
        smoothing: float = 0.95,
        alarm_ratio: float = 1.5,
        alpha: float = 0.001,
    ) -> None:
        self.warmup = warmup
        self.shrinkage = shrinkage
        self.smoothing = smoothing
        self.alarm_ratio = alarm_ratio
        self.alpha = alpha
        self._keys: tuple[str, ...] | None = None
        self._seen: list[list[float]] = []
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

    def _z(self, x: dict) -> np.ndarray | None:
        if self._precision is None or self._metrics(x) != self._keys:
            return None
        values = np.fromiter((x[k] for k in self._keys), float, len(self._keys))
        return (values - self._center) / self._scale - self._mean

    def _distance(self, z: np.ndarray) -> float:
        return float(z @ self._precision @ z) / len(z)

    def _smooth(self, previous: float, distance: float) -> float:
        return self.smoothing * previous + (1.0 - self.smoothing) * distance

    def _ratio(self, x: dict) -> float | None:
        z = self._z(x)
        if z is None:
            return None
        return self._smooth(self._smoothed, self._distance(z)) / self._reference

    def distance(self, x: dict) -> float | None:
        """Unsmoothed distance of `x` relative to the warm-up's largest; None before warm-up.

        This is the statistic to watch for change points (see `ChangePoint`).
        """
        z = self._z(x)
        return None if z is None else self._distance(z) / self._reference

    def score_one(self, x: dict) -> float:
        ratio = self._ratio(x)
        if ratio is None:
            return 0.0
        half = self.alarm_ratio / 2.0
        return ratio * ratio / (ratio * ratio + half * half)

    def drivers(self, x: dict, top: int = 2) -> list[str]:
        """The metrics that contribute most to the distance of `x`, largest first."""
        z = self._z(x)
        if z is None:
            return []
        contributions = z * (self._precision @ z)
        order = np.argsort(-contributions)[:top]
        return [self._keys[i] for i in order if contributions[i] > 0]

    def learn_one(self, x: dict) -> None:
        if self._keys is None:
            self._keys = self._metrics(x)
        if self._precision is None:
            if self._metrics(x) == self._keys:
                self._seen.append([float(x[k]) for k in self._keys])
                if len(self._seen) >= self.warmup:
                    self._fit_warmup()
            return
        z = self._z(x)
        if z is None:
            return
        self._smoothed = self._smooth(self._smoothed, self._distance(z))
        if self._smoothed < self._reference and self.alpha > 0:
            self._mean = self._mean + self.alpha * z
            centred = z - self.alpha * z
            self._cov = (1 - self.alpha) * self._cov + self.alpha * np.outer(centred, centred)
            self._updates += 1
            if self._updates % 50 == 0:
                self._precision = self._invert(self._cov)

    def _invert(self, cov: np.ndarray) -> np.ndarray:
        d = len(cov)
        return np.linalg.inv((cov + self.shrinkage * np.eye(d)) / (1.0 + self.shrinkage))

    def _fit_warmup(self) -> None:
        data = np.asarray(self._seen)
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
