"""Point-wise scores of anomaly flags against labels: F1, false- and missed-alarm rates.

SKAB's leaderboard scores outlier detection this way (Katser and Kozitsin, 2020): every
test row counts once, flagged or not, anomalous or not.

>>> counts = PointCounts()
>>> for flagged, anomalous in [(True, True), (True, False), (False, True), (False, False)]:
...     counts.add(flagged, anomalous)
>>> counts.f1(), counts.far_percent(), counts.mar_percent()
(0.5, 50.0, 50.0)
>>> (counts + counts).rows
8
>>> best_threshold_f1([0.9, 0.8, 0.3, 0.1], [True, False, True, False])
(0.3, 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class PointCounts:
    """True and false positives and negatives over the rows scored so far."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, flagged: bool, anomalous: bool) -> None:
        """Count one row."""
        if flagged:
            if anomalous:
                self.tp += 1
            else:
                self.fp += 1
        elif anomalous:
            self.fn += 1
        else:
            self.tn += 1

    def __add__(self, other: PointCounts) -> PointCounts:
        """The counts of both, as if counted together."""
        return PointCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def rows(self) -> int:
        """Rows counted."""
        return self.tp + self.fp + self.fn + self.tn

    def precision(self) -> float:
        """The share of flagged rows that are anomalous (0 with none flagged)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    def recall(self) -> float:
        """The share of anomalous rows that are flagged (0 with none anomalous)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def f1(self) -> float:
        """Harmonic mean of precision and recall (0 without a true positive)."""
        if not self.tp:
            return 0.0
        precision, recall = self.precision(), self.recall()
        return 2 * precision * recall / (precision + recall)

    def far_percent(self) -> float:
        """False-alarm rate: the share of normal rows flagged, in %."""
        normal = self.fp + self.tn
        return 100 * self.fp / normal if normal else 0.0

    def mar_percent(self) -> float:
        """Missed-alarm rate: the share of anomalous rows not flagged, in %."""
        anomalous = self.fn + self.tp
        return 100 * self.fn / anomalous if anomalous else 0.0


def best_threshold_f1(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """The threshold on `scores` (flag when ≥ it) with the best point-wise F1, and that F1."""
    positives = sum(labels)
    if not positives:
        return float("inf"), 0.0
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best, best_at, tp, fp = 0.0, float("inf"), 0, 0
    for rank, i in enumerate(order):
        if labels[i]:
            tp += 1
        else:
            fp += 1
        tied = rank + 1 < len(order) and scores[order[rank + 1]] == scores[i]
        if tied:
            continue  # a threshold flags every row of the same score
        f1 = 2 * tp / (2 * tp + fp + (positives - tp))
        if f1 > best:
            best, best_at = f1, scores[i]
    return best_at, best
