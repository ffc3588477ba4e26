"""Remaining useful life of a fleet of assets, learnt online from delayed labels."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from online_models.maintenance.conformal import ConformalBand
from online_models.maintenance.features import RollingFeatures
from online_models.maintenance.neighbours import NeighbourRUL

if TYPE_CHECKING:
    from river import drift, metrics

# River's `drift` and `metrics` import SciPy's statistics (about a second): they are imported
# when a model is made, so that a flow without assets does not wait for them at start.


def _mae() -> metrics.MAE:
    from river import metrics

    return metrics.MAE()


def _rmse() -> metrics.RMSE:
    from river import metrics

    return metrics.RMSE()


@dataclass(frozen=True)
class Prediction:
    """What the model says about one asset at one moment (times in the caller's unit)."""

    rul: float
    rul_low: float
    rul_high: float
    failure_prob: float


@dataclass(frozen=True)
class ModelEvent:
    """Something that happened to the model itself, e.g. a drift it adapted to."""

    kind: str
    t: float
    detail: str


@dataclass
class _Pending:
    t: float
    features: dict[str, float]
    prediction: Prediction | None
    reported: bool
    challenger: tuple[int, float] | None  # (challenger's start, its RUL) during a trial


@dataclass
class _Metrics:
    mae: metrics.MAE = field(default_factory=_mae)
    rmse: metrics.RMSE = field(default_factory=_rmse)
    covered: int = 0
    brier_sum: float = 0.0
    count: int = 0


class RemainingLife:
    """Remaining useful life (RUL), its interval and the risk of failure, per asset.

    `observe` turns an asset's reading into rolling features (`RollingFeatures`) and, once
    the model has learnt from `min_labels` labelled moments, returns a `Prediction`: the
    RUL (`NeighbourRUL`), a conformal interval at `coverage` (`ConformalBand`) and the
    probability of failing within `horizon`. Every reading waits for its label: the model
    never sees the future. `failed(asset, t)` reveals the true RUL of the asset's waiting
    readings (`t - t_i`); `restored(asset, t, rul=...)` does the same after a repair whose
    inspection measured the RUL the asset had left (without it, those readings are censored
    and only counted). Both start a new life for the asset.

    Revealed labels are learnt after the prediction made for them, if one was returned, is
    scored, prequentially: MAE, RMSE, interval coverage and the Brier score of the failure
    probability (`metrics()`). The mean absolute error of each revealed life (errors within
    a life are not independent) feeds an ADWIN drift detector (Bifet & Gavaldà, SDM 2007).
    When it finds that errors grew, a challenger starts: the same model
    restricted to the examples learnt from then on. After `trial_labels` labelled
    predictions of both, the challenger replaces the model if its mean absolute error was
    smaller (the model forgets what came before the drift), else it is dismissed. Each step
    is returned as a `ModelEvent` (`drift`, `challenger_promoted`, `challenger_dismissed`).

    Times and RULs share one unit (hours, cycles...); `cap` caps RUL targets (C-MAPSS
    usage: 125 cycles), beyond which wear cannot be told apart.

    Examples
    --------
    Assets that wear linearly at different rates, observed every hour:

    >>> model = RemainingLife(horizon=24, min_labels=50, k=5)
    >>> for asset, life in enumerate([100, 120, 90, 110, 100, 130]):
    ...     for hour in range(life):
    ...         wear = hour / life
    ...         prediction = model.observe(asset, hour, {"vibration": 1 + wear}, age=hour)
    ...     events = model.failed(asset, life)
    >>> for hour in range(90):  # a new asset with 10 hours left
    ...     prediction = model.observe("new", hour, {"vibration": 1 + hour / 100}, age=hour)
    >>> 0 <= prediction.rul_low <= prediction.rul <= prediction.rul_high
    True
    >>> prediction.rul < 24 and prediction.failure_prob > 0.5
    True
    >>> model.metrics()["labelled"] > 0
    True

    """

    def __init__(
        self,
        *,
        horizon: float,
        k: int = 100,
        window: int = 10,
        trend_window: int = 50,
        coverage: float = 0.9,
        band_edges: tuple[float, ...] = (),
        band_window: int = 2000,
        cap: float | None = None,
        min_labels: int = 200,
        memory: int = 50_000,
        drift_delta: float = 0.002,
        trial_labels: int = 500,
        errors_per_life: int = 200,
        max_pending: int = 100_000,
        seed: int = 0,
    ) -> None:
        self.horizon = horizon
        self.cap = cap
        self.min_labels = min_labels
        self.features = RollingFeatures(window=window, trend_window=trend_window)
        self.regressor = NeighbourRUL(k=k, window=memory)
        self.band = ConformalBand(coverage=coverage, edges=band_edges, window=band_window)
        self.drift_delta = drift_delta
        self.trial_labels = trial_labels
        self.errors_per_life = errors_per_life
        self._challenger: int | None = None  # serial of the first example it learnt
        self._trial_errors = [0.0, 0.0]  # absolute errors of champion, challenger
        self._trial_count = 0
        self.max_pending = max_pending
        from river import drift

        self._detector: drift.ADWIN = drift.ADWIN(delta=drift_delta)
        self._pending: dict[Hashable, deque[_Pending]] = {}
        self._metrics = _Metrics()
        self._rng = random.Random(seed)
        self.censored = 0

    @property
    def ready(self) -> bool:
        """Whether the model has learnt enough to predict."""
        return self.regressor.n_stored >= self.min_labels and self.band.ready

    def observe(
        self, asset_id: Hashable, t: float, signals: Mapping[str, float], age: float
    ) -> Prediction | None:
        """Predict for one reading of `asset_id` and keep it until its label is known."""
        x = self.features.update(asset_id, signals, age)
        prediction, challenger = None, None
        if self.regressor.n_stored:
            since = [0] if self._challenger is None else [0, self._challenger]
            ruls = self.regressor.predict_many_since(x, since)
            prediction = self._prediction(max(ruls[0], 0.0))
            if len(ruls) == 2 and not math.isnan(ruls[1]):
                challenger = (since[1], max(ruls[1], 0.0))
        pending = self._pending.setdefault(asset_id, deque())
        if len(pending) == self.max_pending:
            pending.popleft()
            self.censored += 1
        reported = prediction is not None and self.ready
        pending.append(_Pending(t, x, prediction, reported, challenger))
        return prediction if reported else None

    def failed(self, asset_id: Hashable, t: float) -> list[ModelEvent]:
        """`asset_id` failed at `t`: learn its waiting readings, start a new life."""
        return self._reveal(asset_id, t, rul_at_t=0.0)

    def restored(self, asset_id: Hashable, t: float, rul: float | None = None) -> list[ModelEvent]:
        """`asset_id` was repaired at `t`, with `rul` left as inspected (None if unknown)."""
        return self._reveal(asset_id, t, rul_at_t=rul)

    def metrics(self) -> dict[str, float]:
        """Prequential figures over every labelled prediction so far."""
        m = self._metrics
        if not m.count:
            return {"labelled": 0}
        return {
            "labelled": m.count,
            "mae": m.mae.get(),
            "rmse": m.rmse.get(),
            "coverage": m.covered / m.count,
            "brier": m.brier_sum / m.count,
        }

    def _prediction(self, rul: float) -> Prediction:
        if not self.band.ready:
            return Prediction(rul, rul, rul, float(rul <= self.horizon))
        low, high = self.band.interval(rul)
        return Prediction(rul, low, high, self.band.failure_probability(rul, self.horizon))

    def _reveal(self, asset_id: Hashable, t: float, rul_at_t: float | None) -> list[ModelEvent]:
        self.features.reset(asset_id)
        waiting = list(self._pending.pop(asset_id, ()))
        if rul_at_t is None:
            self.censored += len(waiting)
            return []
        events = []
        # A random order: the band's sample is a random part of the life, and a challenger's
        # trial sees the life's errors mixed rather than sorted from new to worn out.
        self._rng.shuffle(waiting)
        true_ruls = [rul_at_t + (t - item.t) for item in waiting]
        targets = [min(r, self.cap) if self.cap is not None else r for r in true_ruls]
        self._calibrate(waiting[: self.errors_per_life], targets)
        life_errors = []
        for item, target, true_rul in zip(waiting, targets, true_ruls, strict=True):
            if item.reported:
                assert item.prediction is not None
                self._score(item.prediction, target, true_rul)
                life_errors.append(abs(target - item.prediction.rul))
                events += self._try(item, target, t)
            self.regressor.learn_one(item.features, target)
        if life_errors:
            events += self._watch(sum(life_errors) / len(life_errors), t)
        return events

    def _calibrate(self, sample: list[_Pending], targets: list[float]) -> None:
        """Errors of the current model on a life it has not learnt: the band's evidence."""
        if not self.regressor.n_stored:
            return
        for item, target in zip(sample, targets, strict=False):
            self.band.update(max(self.regressor.predict_one(item.features), 0.0), target)

    def _score(self, prediction: Prediction, target: float, true_rul: float) -> None:
        m = self._metrics
        m.mae.update(target, prediction.rul)
        m.rmse.update(target, prediction.rul)
        m.covered += prediction.rul_low <= target <= prediction.rul_high
        m.brier_sum += (prediction.failure_prob - float(true_rul <= self.horizon)) ** 2
        m.count += 1

    def _try(self, item: _Pending, target: float, t: float) -> list[ModelEvent]:
        """Score the challenger on one label; judge it once it has enough."""
        assert item.prediction is not None
        if not item.challenger or item.challenger[0] != self._challenger:
            return []
        self._trial_errors[0] += abs(target - item.prediction.rul)
        self._trial_errors[1] += abs(target - item.challenger[1])
        self._trial_count += 1
        return [self._judge(t)] if self._trial_count >= self.trial_labels else []

    def _watch(self, life_error: float, t: float) -> list[ModelEvent]:
        """Feed the drift detector one life's mean absolute error; on a rise, a trial."""
        before = self._detector.estimation
        self._detector.update(life_error)
        if not self._detector.drift_detected or self._challenger is not None:
            return []
        after = self._detector.estimation
        if not after > before:
            return []
        self._challenger = self.regressor.n_learnt
        self._trial_errors, self._trial_count = [0.0, 0.0], 0
        detail = f"mean absolute error per life rose from {before:.3g} to {after:.3g}; "
        return [ModelEvent("drift", t, detail + "a challenger learns from new labels only")]

    def _judge(self, t: float) -> ModelEvent:
        """End the trial: the challenger replaces the model if its errors were smaller."""
        assert self._challenger is not None
        champion, challenger = (e / self._trial_count for e in self._trial_errors)
        verdict = f"over {self._trial_count} labels: model MAE {champion:.3g}, "
        verdict += f"challenger MAE {challenger:.3g}"
        if challenger < champion:
            self.regressor.forget_before(self._challenger)
            event = ModelEvent("challenger_promoted", t, verdict)
        else:
            event = ModelEvent("challenger_dismissed", t, verdict)
        self._challenger = None
        return event
