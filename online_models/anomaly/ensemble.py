"""Combining detectors: a reading is as anomalous as its most alarmed detector says."""

from __future__ import annotations

from river import base


class MaxScore(base.AnomalyDetector):
    """The highest score of several detectors, each learning every reading.

    `last_driver(x)` names the detector that gave the highest score, for explanations.

    Parameters
    ----------
    detectors
        The detectors to combine, each a River `AnomalyDetector` on the same `x`.

    Examples
    --------
    >>> from online_models.anomaly import Flatline, SeasonalZScore
    >>> model = MaxScore([SeasonalZScore(), Flatline()])
    >>> for i in range(100):
    ...     model.learn_one({"value": 10.0 + (i % 5), "t": 60 * i})
    >>> model.score_one({"value": 40.0, "t": 6000}) > 0.9
    True
    >>> model.driver({"value": 40.0, "t": 6000})
    'SeasonalZScore'

    """

    def __init__(self, detectors: list[base.AnomalyDetector]) -> None:
        self.detectors = detectors

    def score_one(self, x: dict) -> float:
        best = 0.0
        for detector in self.detectors:
            score = detector.score_one(x)
            if score > best:
                best = score
        return best

    def driving(self, x: dict) -> base.AnomalyDetector:
        """The detector with the highest score for `x`."""
        return max(self.detectors, key=lambda detector: detector.score_one(x))

    def driver(self, x: dict) -> str:
        """Class name of the detector with the highest score for `x`."""
        return type(self.driving(x)).__name__

    def learn_one(self, x: dict) -> None:
        for detector in self.detectors:
            detector.learn_one(x)
