"""Prediction intervals and failure probabilities from a model's recent errors."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np


class ConformalBand:
    """Split-conformal bands for remaining-life predictions, one band per range of RUL.

    The signed errors `actual - predicted` of the latest `window` labelled predictions are
    kept with the range of predicted RUL, cut by `edges`, they fell in (a Mondrian conformal
    predictor: Vovk et al., "Algorithmic Learning in a Random World", 2005), because a
    model is surer of a nearly worn-out asset than of a new one. The interval around a new
    prediction spans the errors' `(1 - coverage) / 2` and `(1 + coverage) / 2` quantiles;
    the probability that the asset fails within `horizon` is the share of past errors that
    would have put the true RUL at or under it. A range with fewer than `min_errors` of those errors
    borrows those of all ranges.

    Examples
    --------
    >>> band = ConformalBand(coverage=0.8, min_errors=5)
    >>> for error in [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 8.0]:
    ...     band.update(predicted=50.0, actual=50.0 + error)
    >>> band.interval(40.0)
    (37.8, 46.2)
    >>> band.failure_probability(predicted=40.0, horizon=40.0)
    0.4

    """

    def __init__(
        self,
        coverage: float = 0.9,
        window: int = 1000,
        edges: Sequence[float] = (),
        min_errors: int = 30,
    ) -> None:
        if not 0 < coverage < 1:
            raise ValueError("coverage must be between 0 and 1")
        self.coverage = coverage
        self.window = window
        self.edges = sorted(edges)
        self.min_errors = min_errors
        self._errors = np.zeros(window)  # a ring of the latest errors
        self._ranges = np.zeros(window, dtype=np.int64)  # the range each one fell in
        self._count = 0

    @property
    def ready(self) -> bool:
        """Whether enough errors are known to give bands."""
        return self._count >= self.min_errors

    def update(self, predicted: float, actual: float) -> None:
        """Record the error of one prediction whose true value became known."""
        slot = self._count % self.window
        self._errors[slot] = actual - predicted
        self._ranges[slot] = self._range(predicted)
        self._count += 1

    def interval(self, predicted: float) -> tuple[float, float]:
        """The band around `predicted`, never below zero."""
        tail = (1 - self.coverage) / 2
        low, high = predicted + np.quantile(self._errors_for(predicted), [tail, 1 - tail])
        return max(float(low), 0.0), max(float(high), 0.0)

    def failure_probability(self, predicted: float, horizon: float) -> float:
        """Probability that the true RUL is at most `horizon`."""
        return float(np.mean(predicted + self._errors_for(predicted) <= horizon))

    def _errors_for(self, predicted: float) -> np.ndarray:
        known = min(self._count, self.window)
        if not known:
            return np.zeros(1)
        errors = self._errors[:known]
        in_range = errors[self._ranges[:known] == self._range(predicted)]
        return in_range if len(in_range) >= self.min_errors else errors

    def _range(self, predicted: float) -> int:
        return bisect.bisect_right(self.edges, predicted)
