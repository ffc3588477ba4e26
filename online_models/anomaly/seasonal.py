"""Deviation from a robust seasonal baseline (time of day, weekday or weekend)."""

from __future__ import annotations

import math

from river import base

_DAY_S = 86_400.0
_HOUR_S = 3_600.0


class SeasonalZScore(base.AnomalyDetector):
    """Scores how far a reading lies from what is usual at that time of day.

    The baseline is a mean per hour of the day, kept apart for weekdays and weekends
    (48 slots), interpolated linearly between neighbouring hours. Until both neighbouring
    slots have seen `min_slot_weight` readings, the baseline falls back to an exponentially
    weighted level of recent readings, so the detector is useful from its first hour.

    The residual is divided by a robust scale (exponentially weighted mean absolute
    residual, as a standard deviation) and the resulting z maps to a score in [0, 1]:
    `score = z² / (z² + half_score_z²)`, which is 0.5 at `z = half_score_z`.
    Learning clips residuals at `clip` scales, so a spike barely moves the baseline, and
    such outliers update the baseline five times and the scale a hundred times more
    slowly, so that a long anomaly (a level shift) stays anomalous for hours instead of
    widening the scale until it looks normal.

    Parameters
    ----------
    slot_alpha
        Smallest weight of a new reading in its slot mean (the first readings are averaged).
    level_alpha
        Weight of a new reading in the fallback level.
    scale_alpha
        Weight of a new absolute residual in the scale.
    min_slot_weight
        Readings a slot needs before the seasonal baseline is trusted.
    warmup
        Readings seen before any non-zero score.
    half_score_z
        The z at which the score is 0.5.
    clip
        Residuals are clipped at this many scales when learning.
    utc_offset_hours
        Offset of the city's local time from UTC, so that hours are local hours.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> model = SeasonalZScore()
    >>> for minute in range(3 * 24 * 60):  # three days of a noisy daily rhythm
    ...     t = 1767225600 + 60 * minute
    ...     daily = 100 + 50 * math.sin(2 * math.pi * (t % 86400) / 86400)
    ...     model.learn_one({"value": daily + rng.gauss(0, 5), "t": t})
    >>> t += 60
    >>> daily = 100 + 50 * math.sin(2 * math.pi * (t % 86400) / 86400)
    >>> round(model.score_one({"value": daily, "t": t}), 2)
    0.0
    >>> round(model.score_one({"value": daily + 60, "t": t}), 2)
    0.9

    """

    def __init__(
        self,
        slot_alpha: float = 0.01,
        level_alpha: float = 0.1,
        scale_alpha: float = 0.02,
        min_slot_weight: float = 30.0,
        warmup: int = 10,
        half_score_z: float = 3.5,
        clip: float = 4.0,
        utc_offset_hours: float = 0.0,
    ) -> None:
        self.slot_alpha = slot_alpha
        self.level_alpha = level_alpha
        self.scale_alpha = scale_alpha
        self.min_slot_weight = min_slot_weight
        self.warmup = warmup
        self.half_score_z = half_score_z
        self.clip = clip
        self.utc_offset_hours = utc_offset_hours
        self._means = [0.0] * 48
        self._weights = [0.0] * 48
        self._level: float | None = None
        self._seasonal_scale = 0.0
        self._level_scale = 0.0
        self._seen = 0

    def _slots(self, t: float) -> tuple[int, int, float]:
        """The two neighbouring slots of time `t` and the weight of the second."""
        local = t + self.utc_offset_hours * _HOUR_S
        day = int(local // _DAY_S)
        weekend = 24 if (day + 3) % 7 >= 5 else 0  # 1970-01-01 was a Thursday
        position = (local - day * _DAY_S) / _HOUR_S - 0.5
        low = math.floor(position)
        frac = position - low
        return weekend + low % 24, weekend + (low + 1) % 24, frac

    def _expectation(self, t: float) -> tuple[float, float, bool, tuple[int, int, float]]:
        """Expected value, its scale, whether it is seasonal, and the slots used."""
        low, high, frac = slots = self._slots(t)
        weights = self._weights
        if weights[low] >= self.min_slot_weight and weights[high] >= self.min_slot_weight:
            means = self._means
            expected = means[low] + frac * (means[high] - means[low])
            return expected, self._seasonal_scale, True, slots
        level = self._level if self._level is not None else 0.0
        return level, self._level_scale, False, slots

    def _sigma(self, scale: float, expected: float) -> float:
        # mean absolute deviation -> standard deviation for a normal, with a floor so that a
        # constant signal does not divide by zero
        return max(scale * 1.2533, 1e-3 * abs(expected), 1e-6)

    def residual_z(self, x: dict) -> float | None:
        """Signed distance of `x` from its expectation, in scales; None during warm-up."""
        if self._seen < self.warmup:
            return None
        expected, scale, _, _ = self._expectation(x["t"])
        return (x["value"] - expected) / self._sigma(scale, expected)

    def score_one(self, x: dict) -> float:
        if self._seen < self.warmup:
            return 0.0
        expected, scale, _, _ = self._expectation(x["t"])
        z = abs(x["value"] - expected) / self._sigma(scale, expected)
        z2 = z * z
        return z2 / (z2 + self.half_score_z * self.half_score_z)

    def learn_one(self, x: dict) -> None:
        value = x["value"]
        expected, scale, seasonal, (low, high, frac) = self._expectation(x["t"])
        sigma = self._sigma(scale, expected)
        outlier = False
        if self._seen >= self.warmup:
            limit = self.clip * sigma
            outlier = abs(value - expected) > limit
            value = min(max(value, expected - limit), expected + limit)
        self._seen += 1

        # running means while young, exponential ones after: no cold-start bias towards 0;
        # an outlier barely moves the scale, or a long anomaly would teach itself away
        scale_alpha = max(self.scale_alpha, 1.0 / self._seen)
        if outlier:
            scale_alpha *= 0.01
        residual = abs(value - expected)
        if seasonal:
            self._seasonal_scale += scale_alpha * (residual - self._seasonal_scale)
        if self._level is None:
            self._level = value
        else:
            level_residual = abs(value - self._level)
            self._level_scale += scale_alpha * (level_residual - self._level_scale)
            self._level += max(self.level_alpha, 1.0 / self._seen) * (value - self._level)
        if not seasonal:
            # keep a seasonal scale ready for when the slots are trained
            self._seasonal_scale = self._level_scale

        for slot, weight in ((low, 1.0 - frac), (high, frac)):
            if weight <= 0.0:
                continue
            self._weights[slot] += weight
            # a weighted running mean at first, an exponential one once the slot is trained
            alpha = max(self.slot_alpha * weight, weight / self._weights[slot])
            if outlier:
                alpha *= 0.2
            self._means[slot] += alpha * (value - self._means[slot])
