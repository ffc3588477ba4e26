"""Condition features of an asset over rolling windows of its signals."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping

import numpy as np


class RollingFeatures:
    """Level and trend of each signal of each asset, over its recent readings.

    For every signal the features are its mean over the last `window` readings
    (`<signal>_mean`) and its least-squares slope over the last `trend_window` readings,
    multiplied by `trend_window` so that it reads as the change across that window
    (`<signal>_trend`); `age` (run time or cycles since the asset was new or last
    restored) is passed through. A level says how worn an asset looks; a trend says how fast
    it is wearing, which the level alone cannot tell for assets that degrade at different
    speeds. Start a new life with `reset(asset_id)` after a failure or a repair.

    Windows count readings, not time: assets are expected to report at a steady rate.

    Examples
    --------
    >>> features = RollingFeatures(window=2, trend_window=3)
    >>> for vibration in [1.0, 2.0, 3.0, 5.0]:
    ...     x = features.update("pump-1", {"vibration": vibration}, age=vibration)
    >>> x
    {'age': 5.0, 'vibration_mean': 4.0, 'vibration_trend': 4.5}

    """

    def __init__(self, window: int = 10, trend_window: int = 50) -> None:
        if not 1 <= window <= trend_window:
            raise ValueError("need 1 <= window <= trend_window")
        self.window = window
        self.trend_window = trend_window
        self._history: dict[Hashable, tuple[list[str], deque[list[float]]]] = {}

    def update(
        self, asset_id: Hashable, signals: Mapping[str, float], age: float
    ) -> dict[str, float]:
        """Add one reading of `asset_id` and return its features.

        The signals are those of the asset's first reading in this life; one missing
        from a later reading keeps its previous value.
        """
        names, history = self._history.setdefault(
            asset_id, (list(signals), deque(maxlen=self.trend_window))
        )
        previous = history[-1] if history else [math.nan] * len(names)
        history.append([float(signals.get(name, previous[i])) for i, name in enumerate(names)])
        series = np.asarray(history)
        level = series[-self.window :].mean(axis=0)
        trend = _slopes(series) * self.trend_window
        features = {"age": float(age)}
        for i, name in enumerate(names):
            features[f"{name}_mean"] = float(level[i])
            features[f"{name}_trend"] = float(trend[i])
        return features

    def reset(self, asset_id: Hashable) -> None:
        """Forget the history of `asset_id`: its next reading starts a new life."""
        self._history.pop(asset_id, None)


def _slopes(series: np.ndarray) -> np.ndarray:
    """Least-squares slope of each column against the row index (0 below 3 rows).

    >>> _slopes(np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])).tolist()
    [2.0, 0.0]
    """
    n = len(series)
    if n < 3:
        return np.zeros(series.shape[1])
    centred_index = np.arange(n) - (n - 1) / 2
    return centred_index @ (series - series.mean(axis=0)) / (centred_index @ centred_index)
