"""Remaining useful life from the most similar labelled moments of past asset lives."""

from __future__ import annotations

import math

import numpy as np
from river import base


class NeighbourRUL(base.Regressor):
    """k-nearest-neighbour regression over a bounded window of labelled examples.

    Each labelled example (features of an asset at one moment, and its true remaining life)
    is kept, up to the `window` most recent; a prediction is the mean target of the `k`
    stored examples nearest to `x`, every feature standardised by the mean and variance of
    the stored examples *at prediction time*, so early examples are not frozen with early,
    poor scaling. A feature that never varies weighs nothing. Forgetting old examples
    (`forget_before`) is how the model adapts after a drift, as in KNN with ADWIN (Bifet
    et al., "Efficient data stream classification via probabilistic adaptive windows", SAC
    2013); `predict_many_since` gives, at the cost of one prediction, what a model of
    recent examples only would say.

    Instance-based learning suits delayed labels: an asset's whole life becomes known at
    once when it fails, and storing it costs nothing to what was learnt before. The feature
    names are fixed by the first example learnt; a missing feature counts as average, an
    unknown one is ignored.

    Parameters
    ----------
    k
        Number of neighbours averaged.
    window
        Most labelled examples kept (the oldest go first).

    Examples
    --------
    >>> model = NeighbourRUL(k=2)
    >>> for wear, rul in [(0.1, 90.0), (0.2, 80.0), (0.8, 20.0), (0.9, 10.0)]:
    ...     model.learn_one({"wear": wear}, rul)
    >>> model.predict_one({"wear": 0.85})
    15.0

    """

    def __init__(self, k: int = 100, window: int = 50_000) -> None:
        self.k = k
        self.window = window
        self._names: list[str] | None = None
        self._x = np.empty((0, 0))
        self._y = np.empty(0)
        self._serial = np.empty(0, dtype=np.int64)  # learning order of each stored example
        self._count = 0  # examples stored so far; slot of example i is i % window
        self._serial_next = 0
        self._cache: tuple | None = None
        self._sum = np.empty(0)
        self._sum_sq = np.empty(0)

    @property
    def n_stored(self) -> int:
        """Number of labelled examples currently kept."""
        return min(self._count, self.window)

    @property
    def n_learnt(self) -> int:
        """Number of examples learnt so far: the serial number of the next one."""
        return self._serial_next

    def learn_one(self, x: dict, y: float) -> None:
        if self._names is None:
            self._names = sorted(x)
            width = len(self._names)
            self._x = np.zeros((min(self.window, 1024), width))
            self._y = np.zeros(len(self._x))
            self._serial = np.zeros(len(self._x), dtype=np.int64)
            self._sum = np.zeros(width)
            self._sum_sq = np.zeros(width)
        row = self._vector(x)
        slot = self._count % self.window
        if self._count >= self.window:
            old = self._x[slot]
            self._sum -= old
            self._sum_sq -= old * old
        elif slot == len(self._x):
            grown = min(self.window, 2 * len(self._x))
            self._x = np.resize(self._x, (grown, self._x.shape[1]))
            self._y = np.resize(self._y, grown)
            self._serial = np.resize(self._serial, grown)
        self._x[slot] = row
        self._y[slot] = y
        self._serial[slot] = self._serial_next
        self._serial_next += 1
        self._sum += row
        self._sum_sq += row * row
        self._count += 1

    def predict_one(self, x: dict) -> float:
        return self.predict_many_since(x, [0])[0]

    def predict_many_since(self, x: dict, since: list[int]) -> list[float]:
        """Predictions from the examples learnt since each serial number in `since`.

        One distance computation serves them all, which is how a challenger model trained
        on recent examples only costs next to nothing (`NaN` when it has no example yet).
        """
        n = self.n_stored
        if n == 0:
            return [0.0 if start == 0 else math.nan for start in since]
        scaled, squared_norms, centre, scale = self._scaled()
        query = (self._vector(x) - centre) * scale
        distance = squared_norms - 2.0 * (scaled @ query) + query @ query
        targets = self._y[:n]
        predictions = []
        for start in since:
            allowed = np.flatnonzero(self._serial[:n] >= start) if start else np.arange(n)
            if not len(allowed):
                predictions.append(math.nan)
                continue
            k = min(self.k, len(allowed))
            nearest = allowed[np.argpartition(distance[allowed], k - 1)[:k]]
            predictions.append(float(targets[nearest].mean()))
        return predictions

    def _scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stored examples standardised, their squared norms, the centre and the scales.

        Cached until the next example is learnt or forgotten.
        """
        if self._cache is None or self._cache[0] != self._serial_next:
            n = self.n_stored
            mean = self._sum / n
            variance = np.maximum(self._sum_sq / n - mean * mean, 0.0)
            scale = np.divide(
                1.0, np.sqrt(variance), out=np.zeros_like(variance), where=variance > 1e-12
            )
            # Centre before scaling so that large readings do not cost precision.
            scaled = (self._x[:n] - mean) * scale
            self._cache = (self._serial_next, scaled, (scaled * scaled).sum(axis=1), mean, scale)
        return self._cache[1:]

    def count_since(self, start: int) -> int:
        """Number of stored examples learnt at or after serial number `start`."""
        return int(np.count_nonzero(self._serial[: self.n_stored] >= start))

    def forget_before(self, start: int) -> None:
        """Forget every example learnt before serial number `start`."""
        n = self.n_stored
        order = np.argsort(self._serial[:n])
        order = order[self._serial[:n][order] >= start]
        x, y, serial = self._x[order].copy(), self._y[order].copy(), self._serial[order].copy()
        keep = len(order)
        self._x[:keep], self._y[:keep], self._serial[:keep] = x, y, serial
        self._count = keep
        self._cache = None
        self._sum = x.sum(axis=0)
        self._sum_sq = (x * x).sum(axis=0)

    def _vector(self, x: dict) -> np.ndarray:
        assert self._names is not None
        n = self.n_stored
        fallback = self._sum / n if n else np.zeros(len(self._names))
        return np.array([float(x.get(name, fallback[i])) for i, name in enumerate(self._names)])
