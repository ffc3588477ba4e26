"""Turning scores into flags with a threshold that adapts to each signal."""

from __future__ import annotations


class AdaptiveThreshold:
    """Flags a score above both a floor and a running upper quantile of recent scores.

    The quantile is tracked by stochastic approximation (each score moves the estimate up by
    `step * q` if above it, down by `step * (1 - q)` otherwise), so a signal whose scores run
    high because its detector fits it poorly gets a higher threshold instead of an alert
    storm, while a well-behaved signal is held to `floor`.

    Parameters
    ----------
    q
        Quantile of recent scores to track.
    floor
        Lowest threshold; a score must exceed it to be flagged.
    step
        Learning rate of the quantile estimate, in score units.

    Examples
    --------
    >>> threshold = AdaptiveThreshold(q=0.99, floor=0.8)
    >>> for score in [0.1, 0.2, 0.15] * 100:
    ...     threshold.learn_one(score)
    >>> threshold.classify(0.5), threshold.classify(0.9)
    (False, True)
    >>> for score in [0.85, 0.9, 0.95] * 200:  # a poorly fitting signal
    ...     threshold.learn_one(score)
    >>> threshold.classify(0.9), threshold.value > 0.9
    (False, True)

    """

    def __init__(self, q: float = 0.995, floor: float = 0.7, step: float = 0.01) -> None:
        self.q = q
        self.floor = floor
        self.step = step
        self._quantile = floor

    @property
    def value(self) -> float:
        """The current threshold."""
        return max(self.floor, self._quantile)

    def classify(self, score: float) -> bool:
        """Whether `score` is anomalous (no side effects)."""
        return score > self.floor and score > self._quantile

    def learn_one(self, score: float) -> None:
        """Update the quantile estimate with one score."""
        if score > self._quantile:
            self._quantile += self.step * self.q
            if self._quantile > 1.0:
                self._quantile = 1.0
        else:
            self._quantile -= self.step * (1.0 - self.q)
            if self._quantile < 0.0:
                self._quantile = 0.0
