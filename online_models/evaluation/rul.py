"""Scores of remaining-useful-life predictions against the true remaining life."""

from __future__ import annotations

import math


def rmse_and_score(predicted: list[float], actual: list[float]) -> tuple[float, float]:
    """RMSE and the asymmetric PHM score (late predictions cost more; Saxena et al. 2008).

    >>> rmse_and_score([10.0, 20.0], [10.0, 10.0])
    (7.0710678118654755, 1.718281828459045)
    """
    d = [p - a for p, a in zip(predicted, actual, strict=True)]
    rmse = math.sqrt(sum(e * e for e in d) / len(d))
    score = sum(math.exp(-e / 13) - 1 if e < 0 else math.exp(e / 10) - 1 for e in d)
    return rmse, score
