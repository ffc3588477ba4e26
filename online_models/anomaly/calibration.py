"""Scores that mean the same on every stream: the tail probability of a detector's score.

A detector's raw score says how far a reading lies from what the detector expects, in the
detector's own units; on a stream it fits poorly (a trend the baseline lags, heavy-tailed
noise, a signal whose scale collapsed) normal readings score high all the time. `TailCalibrated`
turns the raw score into how rare it is *on this stream*: the probability that the stream's
own scores reach it, estimated online by peaks over threshold (Pickands 1975; Siffer et al.
2017, "Anomaly Detection in Streams with Extreme Value Theory", KDD): above a running upper
quantile `u` of the stream's scores, their excesses are modelled as exponential (a
generalised Pareto tail of shape 0), so that probabilities far beyond the scores seen so
far are extrapolated rather than read off an empty histogram.
"""

from __future__ import annotations

import math

from river import base

_PRIOR_U = 0.5875
_PRIOR_EXCESS = 0.1308
"""The 98 % quantile of `y` and the mean excess above it for a Gaussian residual scored as
`z² / (z² + 2.6²)` (`SeasonalZScore`): what the calibration assumes before it has data."""
_MAX_Y = -math.log(1e-12)


def _y(score: float) -> float:
    """The raw score on an unbounded scale: `-log(1 - score)` (about `2 log z` for large z)."""
    return -math.log(1.0 - score) if score < 1.0 - 1e-12 else _MAX_Y


class TailCalibrated(base.AnomalyDetector):
    """A detector whose score is the rarity of its raw score on the stream so far.

    The raw score `s` is taken as `y = -log(1 - s)`. Its upper `1 - tail_share` quantile `u`
    is tracked by stochastic approximation, and the mean excess `beta` of the scores above
    it by a running mean, both forgetting with a memory of `memory` readings and starting
    from a Gaussian prior worth `prior_weight` readings. Above `u`, the tail probability is
    `p = tail_share * exp(-(y - u) / beta)`; the calibrated score is `log10(1 / p) / decades`,
    capped at 1: with the defaults, 0.9 means `p <= 3e-5` and 0.7 `p <= 3e-4`, whatever the
    stream. Below `u` the score rises linearly to its value at `u`. A reading rarer than
    `1e-4` is learnt as if it were at that rarity and with half the weight, so that
    an anomaly, however long, cannot make itself normal at once.

    Parameters
    ----------
    detector
        The detector whose scores are calibrated.
    tail_share
        The share of scores above the threshold `u` whose excesses are modelled.
    memory
        Readings after which the estimates forget (the smallest learning rate is 1 / memory).
    prior_weight
        Readings the Gaussian prior is worth.
    decades
        Decades of rarity mapped onto the score: `p = 10**-decades` scores 1.

    Examples
    --------
    >>> import random
    >>> from online_models.anomaly.seasonal import SeasonalZScore
    >>> rng = random.Random(3)
    >>> raw, calibrated = SeasonalZScore(), TailCalibrated(SeasonalZScore())
    >>> t0 = 1767225600
    >>> for i in range(5000):  # heavy-tailed noise: huge deviations are common here
    ...     noise = rng.gauss(0, 1) / math.sqrt(rng.gammavariate(1, 1))
    ...     x = {"value": 10 + noise, "t": t0 + 60 * i}
    ...     raw.learn_one(x)
    ...     calibrated.learn_one(x)
    >>> x = {"value": 25.0, "t": t0 + 60 * 5000}  # a deviation this stream shows now and then
    >>> raw.score_one(x) > 0.9, calibrated.score_one(x) < 0.7
    (True, True)
    >>> calibrated.score_one({"value": 1e4, "t": t0 + 60 * 5000})  # but not this one
    1.0

    """

    def __init__(
        self,
        detector: base.AnomalyDetector,
        tail_share: float = 0.02,
        memory: int = 20_000,
        prior_weight: float = 200.0,
        decades: float = 5.0,
    ) -> None:
        self.detector = detector
        self.tail_share = tail_share
        self.memory = memory
        self.prior_weight = prior_weight
        self.decades = decades
        self._u = _PRIOR_U
        self._excess = _PRIOR_EXCESS
        self._seen = 0
        self._exceeded = 0

    _scored: tuple[dict, float] | None = None
    """The last reading scored and its raw score, until the next learn: the flow scores a
    reading then learns it, and the raw score need not be computed twice."""

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_scored", None)  # a cache, not part of the model
        return state

    @property
    def alert_kind(self) -> str:
        return getattr(self.detector, "alert_kind", "anomaly")

    def _score(self, y: float) -> float:
        at_u = math.log10(1.0 / self.tail_share) / self.decades
        if y <= self._u:
            return at_u * y / self._u if self._u > 0 else 0.0
        decades = at_u + (y - self._u) / (self._excess * math.log(10.0)) / self.decades
        return decades if decades < 1.0 else 1.0

    def _raw(self, x: dict) -> float:
        scored = self._scored
        if scored is not None and scored[0] == x:
            return scored[1]
        raw = self.detector.score_one(x)
        self._scored = (dict(x), raw)  # a copy: the caller may reuse its dict
        return raw

    def score_one(self, x: dict) -> float:
        return self._score(_y(self._raw(x)))

    def learn_one(self, x: dict) -> None:
        y = _y(self._raw(x))
        self._scored = None
        self.detector.learn_one(x)
        u, excess, share = self._u, self._excess, self.tail_share
        self._seen += 1
        # a score rarer than 1e-4 is learnt at that rarity and with half the weight:
        # an anomaly, however long, does not teach itself normal within hours
        rarest = u + excess * math.log(share / 1e-4)
        weight = 1.0
        if y > rarest:
            y, weight = rarest, 0.5
        rate = weight * max(1.0 / (self._seen + self.prior_weight), 1.0 / self.memory)
        if y > u:
            self._exceeded += 1
            young = 1.0 / (self._exceeded + self.prior_weight * share)
            excess_rate = min(1.0, max(weight * young, rate / share))
            self._excess += excess_rate * ((y - u) - excess)
            self._u += rate * 10.0 * excess * (1.0 - share)
        else:
            self._u -= rate * 10.0 * excess * share
            if self._u < 0.0:
                self._u = 0.0
        if self._excess < 1e-3:
            self._excess = 1e-3
