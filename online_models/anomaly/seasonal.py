"""Deviation from a robust seasonal baseline (time of day, weekday or weekend)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import base

_DAY_S = 86_400.0
_HOUR_S = 3_600.0
_WIDTHS = [m for m in range(1, 1441) if 1440 % m == 0]
"""Slot widths in minutes that divide a day."""


@dataclass
class _Prior:
    """What the young slots of one kind of day (weekday, weekend) are shrunk towards."""

    scale: float = 0.0  # the seasonal residuals' scale ...
    ratio: float = 0.0  # ... and their size relative to the expected value
    seen: int = 0  # seasonal residuals learnt
    weight: int = 0  # residuals the scale it started from stands for, besides its own


class SeasonalZScore(base.AnomalyDetector):
    """Scores how far a reading lies from what is usual at that time of day.

    The baseline is a mean per `slot_minutes` of the day (half-hours by default), kept apart
    for weekdays and weekends, interpolated linearly between neighbouring slots; at the end
    of the warm-up, once the usual interval between readings is known, the slots widen if
    they must to fill in about two working weeks (three hours for a reading an hour). Until both
    neighbouring slots have seen `min_slot_weight` readings, the baseline falls back to an
    exponentially weighted level of recent readings, so the detector is useful at once; its
    scale is that of recent readings, but never below the seasonal residuals' once other
    slots have learnt them (a young weekend slot after calm hours is not a hair trigger),
    and √n times wider after a gap of n usual intervals, whose first reading then mostly
    replaces the stale level.

    The residual is divided by the slot's own scale (mean absolute residual, as a standard
    deviation, interpolated like the means), since noise is rarely the same at 3 am and at
    rush hour. While a slot is young its scale is shrunk towards a prior: the scale of all
    seasonal residuals of that kind of day (weekdays and weekends apart: a weekend's slots
    fill in far later, and their first readings must not widen the weekdays'), starting from
    the recent level's scale or the other kind of day's prior, whichever is wider (the first
    seasonal residuals are averaged with it as if it were `min_slot_weight` of them), or their
    relative size times the expected value, whichever is larger (noise may be constant or
    grow with the signal). The scale is never below the sensor's
    resolution, the smallest change between consecutive values it has shown, so that one
    step of a quantised signal that held still for hours is not an anomaly (a signal that
    never changed: a thousandth of its value); it is never a share of the value of one that
    did, so a level far from 0 (a pressure in Pa) is judged by its noise. The resulting z
    maps to a score in
    [0, 1]: `score = z² / (z² + half_score_z²)`, which is 0.5 at `z = half_score_z`.

    Slots learn slowly (running means at first, then weight `slot_alpha`) and clip
    residuals at `clip` scales; such outliers move the means five times and the scales a
    hundred times more slowly, so that a level shift stays anomalous for hours and a slow
    drift cannot widen the scale on its way up.

    Parameters
    ----------
    slot_alpha
        Smallest weight of a new reading in its slot (the first readings are averaged).
    slot_minutes
        Width of a slot; must divide a day.
    level_alpha
        Weight of a new reading in the fallback level.
    scale_alpha
        Weight of a new absolute residual in the fallback level's scale.
    min_slot_weight
        Readings a slot needs before the seasonal baseline is trusted; also the weight of
        the prior in a young slot's scale.
    warmup
        Readings seen before any non-zero score.
    half_score_z
        The z at which the score is 0.5.
    clip
        Residuals are clipped at this many scales when learning.
    utc_offset_hours
        Offset of the city's local time from UTC, so that hours are local hours.
    level_follow
        Weight of a new seasonal residual in a local level added to the seasonal means
        (0: none). With it the baseline follows a trend or a random walk instead of lagging
        it by many scales; the slots then learn the values less that level. After readings
        the slots could not judge (young slots, a first weekend), the local level is
        doubted by how far the fallback level wandered meanwhile: the doubt widens the
        scale, the level catches up by a Kalman step (at most a fifth of the way per
        reading) and the scales do not learn while the doubt outweighs the noise.

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
    >>> round(model.score_one({"value": daily + 30, "t": t}), 2)  # six noise scales up
    0.75

    """

    # a model pickled before these existed knows no usual interval and no doubt yet, and
    # keeps the slots of `slot_minutes`
    _slot_s = 0.0
    _slots_fitted = True
    _last_t: float | None = None
    _interval = 0.0
    _anchor: float | None = None
    _offset_doubt = 0.0
    _wander = 0.0

    def __init__(
        self,
        slot_alpha: float = 0.01,
        slot_minutes: int = 30,
        level_alpha: float = 0.1,
        scale_alpha: float = 0.02,
        min_slot_weight: float = 30.0,
        warmup: int = 10,
        half_score_z: float = 2.6,
        clip: float = 4.0,
        utc_offset_hours: float = 0.0,
        level_follow: float = 0.0,
    ) -> None:
        if slot_minutes <= 0 or 1440 % slot_minutes:
            raise ValueError(f"slot_minutes must divide a day, got {slot_minutes}")
        self.slot_alpha = slot_alpha
        self.slot_minutes = slot_minutes
        self.level_alpha = level_alpha
        self.scale_alpha = scale_alpha
        self.min_slot_weight = min_slot_weight
        self.warmup = warmup
        self.half_score_z = half_score_z
        self.clip = clip
        self.utc_offset_hours = utc_offset_hours
        self.level_follow = level_follow
        self._offset = 0.0  # the local level's distance from the seasonal means
        self._per_day = 1440 // slot_minutes
        n = 2 * self._per_day
        self._means = [0.0] * n
        self._weights = [0.0] * n
        self._scales = [0.0] * n
        self._scale_weights = [0.0] * n
        self._level: float | None = None
        self._level_scale = 0.0
        self._priors = (_Prior(), _Prior())  # of weekday and weekend slots
        self._seen = 0
        self._previous: float | None = None
        self._resolution = 0.0  # smallest change between consecutive values seen (0: none yet)
        self._memo: tuple[float, tuple] | None = None  # (t, expectation) until the next learn
        self._last_t: float | None = None
        self._interval = 0.0  # usual time between readings (0: not known yet)
        # the local level's doubt (a variance, in value units²) after readings the slots
        # could not judge: how far the fallback level wandered from where it stood (the
        # anchor) at the last seasonal reading
        self._anchor: float | None = None
        self._offset_doubt = 0.0
        self._wander = 0.0
        self._slot_s = 0.0  # the slots' width in seconds, once fitted (0: `slot_minutes`)
        self._slots_fitted = False

    def __getstate__(self) -> dict:
        # the memo is a cache: not part of the model (scoring stays free of side effects)
        return {**self.__dict__, "_memo": None}

    def __setstate__(self, state: dict) -> None:
        if "_priors" not in state:  # pickled with one prior for every day: both start from it
            shared = [state.pop(f"_seasonal_{name}") for name in ("scale", "ratio", "seen")]
            state["_priors"] = (_Prior(*shared), _Prior(*shared))
        self.__dict__.update(state)

    def _slots(self, t: float) -> tuple[int, int, float]:
        """The two neighbouring slots of time `t` and the weight of the second."""
        local = t + self.utc_offset_hours * _HOUR_S
        day = int(local // _DAY_S)
        per_day = self._per_day
        weekend = per_day if (day + 3) % 7 >= 5 else 0  # 1970-01-01 was a Thursday
        position = (local - day * _DAY_S) / (self._slot_s or 60.0 * self.slot_minutes) - 0.5
        low = math.floor(position)
        frac = position - low
        return weekend + low % per_day, weekend + (low + 1) % per_day, frac

    def _expectation(self, t: float) -> tuple[float, float, bool, tuple[int, int, float]]:
        """Expected value, its scale, whether it is seasonal, and the slots used."""
        memo = self._memo
        if memo is not None and memo[0] == t:
            return memo[1]
        low, high, frac = slots = self._slots(t)
        weights = self._weights
        k = self.min_slot_weight
        if weights[low] >= k and weights[high] >= k:
            means = self._means
            expected = means[low] + frac * (means[high] - means[low]) + self._offset
            kind = self._priors[low >= self._per_day]
            prior = max(kind.scale, kind.ratio * abs(expected))
            sw, scales = self._scale_weights, self._scales
            s_low = (sw[low] * scales[low] + k * prior) / (sw[low] + k)
            s_high = (sw[high] * scales[high] + k * prior) / (sw[high] + k)
            scale = s_low + frac * (s_high - s_low)
            doubt = self._offset_doubt + self._wander
            if doubt:  # the level's own uncertainty widens the expectation's
                scale = math.hypot(scale, math.sqrt(doubt) / 1.2533)
            result = (expected, scale, True, slots)
        else:
            # the recent level's scale, but never below the seasonal residuals' once the
            # slots have known them: hours of calm on a young (weekend) slot do not make the
            # stream's usual changes anomalies; after a gap of n usual intervals, √n wider
            level = self._level if self._level is not None else 0.0
            scale = self._level_scale
            for kind in self._priors:
                if kind.seen and kind.scale > scale:
                    scale = kind.scale
            gap = self._gap(t)
            if gap > 1.0:
                scale *= math.sqrt(gap)
            result = (level, scale, False, slots)
        self._memo = (t, result)
        return result

    def _gap(self, t: float) -> float:
        """Time since the last reading learnt, in usual intervals (1 while unknown)."""
        if self._last_t is None or not self._interval:
            return 1.0
        return (t - self._last_t) / self._interval

    def _sigma(self, scale: float, expected: float) -> float:
        # mean absolute deviation -> standard deviation for a normal, with floors: the
        # sensor's resolution (one step of a quantised signal is never more than one sigma,
        # however long it held still) and, for a signal that never changed, a share of its
        # value; not a share of the value once it has changed, which would make the
        # detector blind on a level far from 0 (20 Pa of noise on 101,325 Pa)
        return max(scale * 1.2533, self._resolution or 1e-3 * abs(expected), 1e-12)

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

    def _fit_slots(self) -> None:
        """Slots that fill in two working weeks at the usual interval, once it is known.

        A slot is trusted after `min_slot_weight` readings; a weekday slot should get them in
        about ten weekdays, so it must be `min_slot_weight / 10` usual intervals wide, and
        never narrower than `slot_minutes`: half-hours at five minutes, three hours at one
        reading an hour (half-hours would take six weeks, judged by the fallback level
        meanwhile). The slots the warm-up taught are dropped when the width changes.
        """
        wanted = max(float(self.slot_minutes), self.min_slot_weight / 10 * self._interval / 60)
        width = next(m for m in _WIDTHS if m >= wanted - 1e-9) if wanted <= 1440 else 1440
        self._slot_s = 60.0 * width
        self._slots_fitted = True
        if width != self.slot_minutes:
            self._per_day = 1440 // width
            n = 2 * self._per_day
            self._means, self._weights = [0.0] * n, [0.0] * n
            self._scales, self._scale_weights = [0.0] * n, [0.0] * n
        self._memo = None

    def learn_one(self, x: dict) -> None:
        if not self._slots_fitted and self._seen >= max(self.warmup, 2):
            self._fit_slots()
        value = x["value"]
        previous = self._previous
        if previous is not None and value != previous:
            step = abs(value - previous)
            if not self._resolution or step < self._resolution:
                self._resolution = step
        self._previous = value
        t = x["t"]
        expected, scale, seasonal, (low, high, frac) = self._expectation(t)
        gap = self._gap(t)
        self._memo = None
        if self._last_t is not None and t > self._last_t:
            # outages do not teach the usual interval: a step counts at most 4 usual ones
            dt = t - self._last_t
            self._interval += (
                0.05 * (min(dt, 4.0 * self._interval) - self._interval) if self._interval else dt
            )
        self._last_t = t
        sigma = self._sigma(scale, expected)
        outlier = False
        if self._seen >= self.warmup:
            limit = self.clip * sigma
            outlier = abs(value - expected) > limit
            value = min(max(value, expected - limit), expected + limit)
        self._seen += 1
        residual = abs(value - expected)
        doubt = self._offset_doubt + self._wander if seasonal and self.level_follow else 0.0
        gain = 0.0
        scales_learn = seasonal
        if doubt:
            # a Kalman step of the local level (its doubt against the reading's noise),
            # at most a fifth of the way, so that one odd reading cannot move it far; while
            # the doubt outweighs the noise, the residual says little of the scales
            noise = max(sigma * sigma - doubt, 1e-12)
            gain = min(0.2, doubt / (doubt + noise))
            scales_learn = doubt <= noise
            self._offset_doubt = (1.0 - gain) * doubt if doubt > 1e-3 * noise else 0.0
            self._wander = 0.0

        # running means while young, exponential ones after: no cold-start bias towards 0;
        # an outlier barely moves a scale, or a long anomaly would teach itself away
        scale_alpha = max(self.scale_alpha, 1.0 / self._seen)
        if outlier:
            scale_alpha *= 0.01
        if self._level is None:
            self._level = value
        else:
            self._level_scale += scale_alpha * (abs(value - self._level) - self._level_scale)
            alpha = max(self.level_alpha, 1.0 / self._seen)
            if gap > 1.0:  # as if the readings the gap lacks had all been this one
                alpha = 1.0 - (1.0 - alpha) ** gap
            self._level += alpha * (value - self._level)
        if self.level_follow:
            if seasonal or self._anchor is None:  # (the first reading anchors the first days)
                self._anchor = self._level
            else:
                self._wander = (self._level - self._anchor) ** 2
        prior = self._priors[low >= self._per_day]
        if seasonal:
            # the prior learns as slowly as a slot does over a day; its first seasonal
            # residuals are averaged with the scale it held before (the recent level's,
            # wider), weighted as `min_slot_weight` readings: one small first residual
            # must not become the scale of every young slot
            prior.seen += 1
            g = max(
                self.slot_alpha / self._per_day,
                1.0 / (prior.seen + prior.weight + self.min_slot_weight),
            )
            if outlier:
                g *= 0.01
            if not scales_learn:
                g = 0.0
            prior.scale += g * (residual - prior.scale)
            if expected:
                prior.ratio += g * (min(residual / abs(expected), 1.0) - prior.ratio)
        elif not prior.seen:
            # until its slots judge: the recent level's scale; once the other kind of day's
            # slots judge, the widest of its prior and the recent level's scales so far,
            # with the weight of the residuals that prior learnt (a first weekend's
            # residuals say little of the next weekend's)
            other = self._priors[low < self._per_day]
            if other.seen:
                prior.scale = max(prior.scale, self._level_scale, other.scale)
                prior.ratio, prior.weight = other.ratio, other.seen
            else:
                prior.scale = self._level_scale

        slot_alpha, means, weights = self.slot_alpha, self._means, self._weights
        if self.level_follow and weights[low] > 0.0 and weights[high] > 0.0:
            # the local level follows the seasonal residuals (a trend, a random walk), also
            # while the slots are young; the slots learn the values without it, so that the
            # rhythm is kept apart from the level
            seasonal_expected = means[low] + frac * (means[high] - means[low]) + self._offset
            step = max(self.level_follow * (0.2 if outlier else 1.0), gain)
            self._offset += step * (value - seasonal_expected)
        value -= self._offset
        # the two slots learn the line between them (least squares on the interpolation, as
        # they are read): averaging raw values would flatten a rhythm by the slot's width
        fitted = None
        if weights[low] > 0.0 and weights[high] > 0.0:
            fitted = means[low] + frac * (means[high] - means[low])
        scales, scale_weights = self._scales, self._scale_weights
        for slot, weight in ((low, 1.0 - frac), (high, frac)):
            if weight <= 0.0:
                continue
            if scales_learn:
                scale_weights[slot] += weight
                beta = max(slot_alpha * weight, weight / scale_weights[slot])
                if outlier:
                    beta *= 0.01
                scales[slot] += beta * (residual - scales[slot])
            # a slot's first reading sets its mean, outlier or not (it is clipped already):
            # a fifth of the way from the 0 it starts at is far from any value on a level
            # far from 0 (a pressure in Pa, a temperature in K)
            first = weights[slot] == 0.0
            weights[slot] += weight
            alpha = max(slot_alpha * weight, weight / weights[slot])
            if outlier and not first:
                alpha *= 0.2
            means[slot] += alpha * (value - (means[slot] if fitted is None else fitted))
