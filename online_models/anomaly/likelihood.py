"""Per-sensor score calibration: the anomaly likelihood of a detector's recent scores."""

from __future__ import annotations

import math
from collections import deque

from river import base


class AnomalyLikelihood(base.AnomalyDetector):
    """A detector's score made comparable across sensors: how unusual its recent scores are.

    Each sensor's raw scores have their own spread (a noisy sensor scores high all the time).
    Following Numenta's anomaly likelihood (Ahmad, Lavin, Purdy & Agha, Neurocomputing 2017),
    the last `window` raw scores of this sensor are fitted with a normal distribution, and
    the mean of the `short` most recent raw scores (the reading's own included) is scored by
    the normal's lower tail, `L = 1 - Q((recent mean - mean) / std)`. As in that paper, the
    score is its log form, `ln(1 - L) / ln(1e-10)` (clipped to [0, 1]): 0.5 when the recent
    scores are higher than this sensor's own are 99.999 % of the time, 0.7 at 1 - 1e-7, so
    that thresholds near 1 stay far apart.

    Examples
    --------
    >>> import random
    >>> from online_models.anomaly.seasonal import SeasonalZScore
    >>> rng = random.Random(2)
    >>> model = AnomalyLikelihood(SeasonalZScore())
    >>> t = 1767571200  # a Monday
    >>> for i in range(3000):
    ...     model.learn_one({"value": 50 + rng.gauss(0, 1), "t": t + 60 * i})
    >>> usual = model.score_one({"value": 50.5, "t": t + 60 * 3000})
    >>> for i in range(3000, 3005):  # a level shift of five scales
    ...     model.learn_one({"value": 55 + rng.gauss(0, 1), "t": t + 60 * i})
    >>> shifted = model.score_one({"value": 55.0, "t": t + 60 * 3005})
    >>> usual < 0.1 < 0.5 < shifted
    True

    """

    def __init__(
        self, detector: base.AnomalyDetector, window: int = 2000, short: int = 5, warmup: int = 100
    ) -> None:
        self.detector = detector
        self.window = window
        self.short = short
        self.warmup = warmup
        self._scores: deque[float] = deque(maxlen=window)
        self._recent: deque[float] = deque(maxlen=max(short - 1, 1))
        self._sum = 0.0
        self._sum_sq = 0.0

    def score_one(self, x: dict) -> float:
        n = len(self._scores)
        if n < self.warmup:
            return 0.0
        raw = self.detector.score_one(x)
        mean = self._sum / n
        std = math.sqrt(max(self._sum_sq / n - mean * mean, 1e-8))
        recent = self._recent if self.short > 1 else ()
        recent_mean = (sum(recent) + raw) / (len(recent) + 1)
        tail = 0.5 * math.erfc((recent_mean - mean) / (std * math.sqrt(2)))  # 1 - L
        return min(1.0, math.log(tail + 1e-10) / math.log(1e-10))

    def learn_one(self, x: dict) -> None:
        raw = self.detector.score_one(x)  # scored again: scoring never changes the model
        if len(self._scores) == self.window:
            old = self._scores[0]
            self._sum -= old
            self._sum_sq -= old * old
        self._scores.append(raw)
        self._recent.append(raw)
        self._sum += raw
        self._sum_sq += raw * raw
        self.detector.learn_one(x)
