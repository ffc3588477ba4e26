"""A detector that never scores, to measure what the other parts of a plan do alone."""

from __future__ import annotations

from river import base


class Silent(base.AnomalyDetector):
    """Scores every reading 0 and learns nothing.

    Examples
    --------
    >>> Silent().score_one({"value": 1e9})
    0.0

    """

    def learn_one(self, x: dict) -> None:
        return None

    def score_one(self, x: dict) -> float:
        return 0.0
