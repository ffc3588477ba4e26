"""The maintenance step of the flow: one online RUL model per asset type (or type's shard).

Keyed by asset type, it receives the type's condition readings and maintenance messages in
arrival order (one Kafka partition keeps each asset's order). With `CITY_MAINTENANCE_SHARDS`
> 1 each type's assets are spread over that many keys, each with a model of its own that
learns from its share of the fleet (`fleet_key`). For each asset:

- a reading is stored in `readings` (condition signals are not scored by the anomaly
  detectors) and fed to the type's `RemainingLife` model (all signals but the `run_hours`
  counter, and the hours since the asset last came back from a failure or a visit); once
  the model has learnt enough, its prediction goes to `maintenance_predictions` and its
  failure probability drives the asset's maintenance alert (same episode logic as anomaly
  alerts, with `dataflows.flow.city.maintenance_alert_policy`);
- a `failure` reveals the true RUL of the asset's readings since its last event, which the
  model learns; a `maintenance` visit does the same if it reports the inspected RUL
  (`rul_h`), else those readings are censored; either closes the asset's open alert.
  `repair` (back in service) starts the asset's new life. Each is written to
  `maintenance_events`, with the model's own events (drift, challenger promoted or
  dismissed) and, after every label, its prequential figures in `model_metrics`;
- a reading at or before the asset's latest time is dead-lettered (the model needs time
  order); a message stamped before the asset's latest reading is applied at that reading;
  a reading far ahead of it waits for confirmation, as a sensor's does
  (`dataflows.flow.sensor_clock`), and an event far ahead does not move the asset's time.

Faults stay with their record: if the model raises on a message, the message is
dead-lettered as `internal_error` and the type's model starts afresh; if the asset's
bookkeeping raises, the asset's state does. Either reset goes to `model_resets`. An asset
silent for `ttl_ms` leaves the state (its waiting readings censored, its alert closed).
The state is snapshotted as pickled bytes.

>>> from dataflows.messages.schema import AssetEvent, Reading
>>> logic = MaintenanceLogic(MaintenanceConfig(horizon_h=24, alert_prob=0.5))
>>> rows = logic.on_batch([
...     Reading("fan-1", "fan", 3_600_000, {"vibration_rms": 2.0, "run_hours": 10.0}),
...     AssetEvent("fan-1", "fan", 7_200_000, "failure"),
... ])[0][0]
>>> rows.sensors[0][:2], len(rows.readings), [e[3] for e in rows.maintenance_events]
(('fan-1', 'fan'), 2, ['failure'])
>>> rows.model_metrics[0][:4]
('RemainingLife fan', 'fan', 7200000, 0)
"""

from __future__ import annotations

import pickle
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bytewax.operators import StatefulBatchLogic

from dataflows.catalogue.load import default_catalogue
from dataflows.catalogue.types import Catalogue
from dataflows.flow.alerting import AlertEpisodes, AlertPolicy, alert_row, closure_row
from dataflows.flow.isolation import FlowStopped, StepGuard
from dataflows.flow.sensor_clock import SensorClock
from dataflows.flow.sensors import sensor_unit
from dataflows.lake.rows import Rows
from dataflows.lake.tables import (
    MaintenanceEventRow,
    ModelMetricRow,
    ModelResetRow,
    PredictionRow,
    ReadingRow,
    SensorRow,
)
from dataflows.messages.schema import (
    AssetEvent,
    DeadLetter,
    Reading,
    duration_text,
    now_ms,
    payload_text,
)
from online_models.maintenance import RemainingLife

STEP = "maintenance"
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
COUNTER = "run_hours"
"""A cumulative counter: stored, but not a condition signal."""

MAINTENANCE_DETECTOR = "RemainingLife"
T = TypeVar("T")
_SWEEP_EVERY_S = 60.0
"""How often (wall clock) the step looks for assets that have been silent too long."""


def fleet_key(asset_type: str, asset_id: str, shards: int = 1) -> str:
    """The maintenance step's key of an asset: its type, or its type's shard.

    With `shards` > 1 a type's assets are spread over that many keys (and models), by a
    hash of the asset id that every process computes alike.

    >>> fleet_key("pump", "pump-7"), fleet_key("pump", "pump-7", shards=4)
    ('pump', 'pump/3')
    """
    if shards <= 1:
        return asset_type
    return f"{asset_type}/{zlib.crc32(asset_id.encode()) % shards}"


def new_model(horizon_h: float, max_pending: int = 20_000) -> RemainingLife:
    """The RUL model of one asset type (times in hours).

    RUL targets are capped at 30 days, beyond which wear is hardly visible; interval bands
    are fitted separately below 2 days, 1 week and 2 weeks of predicted RUL. At most
    `max_pending` readings per asset wait for their label (the oldest are censored).
    """
    return RemainingLife(
        horizon=horizon_h, cap=720.0, band_edges=(48.0, 168.0, 336.0), max_pending=max_pending
    )


@dataclass(frozen=True)
class MaintenanceConfig:
    """How the maintenance step treats time, alerts and state (from `Settings`)."""

    horizon_h: float = 168.0
    catalogue: Catalogue = field(default_factory=default_catalogue)
    """The asset types; one with its own `horizon_h` uses it instead of `horizon_h`."""
    alert_prob: float = 0.5
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    ttl_ms: int = 7 * DAY_MS
    clock_jump_ms: int = 3_600_000
    clock_confirmations: int = 2
    max_pending: int = 20_000
    shards: int = 1
    """Keys (and RUL models) per asset type: see `fleet_key`."""


@dataclass
class AssetState:
    """What the step remembers of one asset."""

    life_start_ms: int  # since the asset came back from a failure or a visit
    alerts: AlertEpisodes
    registered: bool = False  # in `sensors`, with the location of its first reading
    clock: SensorClock = field(default_factory=SensorClock)
    seen_s: float = 0.0  # wall-clock time of its last message

    @property
    def last_ms(self) -> int:
        """Its latest time: of its latest reading or of an event within the jump."""
        return self.clock.latest_ms


@dataclass
class FleetState:
    """One asset type's model and assets."""

    asset_type: str
    model: RemainingLife
    assets: dict[str, AssetState] = field(default_factory=dict)
    latest_ms: int = 0  # of any of its assets
    key: str = ""  # `fleet_key`: the type, or its shard (empty in snapshots before shards)


class MaintenanceLogic(StatefulBatchLogic):
    """The per-asset-type stateful step; emits one `Rows` per batch."""

    def __init__(
        self,
        config: MaintenanceConfig,
        resume: bytes | None = None,
        guard: StepGuard | None = None,
    ) -> None:
        self.config = config
        self.guard = guard or StepGuard(STEP)
        self.state: FleetState | None = pickle.loads(resume) if resume is not None else None
        self._swept_s = time.time()
        if self.state is not None:  # the flow was stopped: silence counts from now
            for asset in self.state.assets.values():
                asset.seen_s = self._swept_s

    def on_batch(self, values: list[Reading | AssetEvent]) -> tuple[list[Rows], bool]:
        rows = Rows()
        now_s = time.time()
        failures = 0
        for message in values:
            ready: list[Reading | AssetEvent] = [message]
            # a reading may be held back by the asset's clock, or release held ones; each is
            # handled on its own, so a fault costs only the message that raised
            for position, item in enumerate(ready):
                mark = rows.mark()
                try:
                    if self.state is None:
                        key = fleet_key(item.type, item.sensor_id, self.config.shards)
                        self.state = FleetState(item.type, self._new_model(item.type), key=key)
                    if position == 0:
                        ready += self._admit(self.state, item, now_s, rows)
                    else:
                        self._reading(self.state, item, rows)  # type: ignore[arg-type]
                except FlowStopped:
                    raise
                except Exception as error:  # the record's fault, not the flow's: `isolation`
                    failures += 1
                    rows.rollback(mark)
                    self._failed(item, error, rows)
        if failures < len(values):
            self.guard.succeeded()
        if now_s - self._swept_s >= _SWEEP_EVERY_S:
            self._sweep(now_s, rows)
        return [rows], False

    def _horizon_h(self, asset_type: str) -> float:
        known = self.config.catalogue.types.get(asset_type)
        own = None if known is None else known.horizon_h
        return self.config.horizon_h if own is None else own

    def _new_model(self, asset_type: str) -> RemainingLife:
        return new_model(self._horizon_h(asset_type), self.config.max_pending)

    def _admit(
        self, fleet: FleetState, item: Reading | AssetEvent, now_s: float, rows: Rows
    ) -> list[Reading]:
        """Apply an event, or pass a reading through its asset's clock: readings to process."""
        rows.note(item.origin)
        fleet.latest_ms = max(fleet.latest_ms, item.ts_ms)
        asset = self._asset(fleet, item)
        asset.seen_s = now_s
        if isinstance(item, AssetEvent):
            self._event(fleet, asset, item, rows)
            return []
        config = self.config
        ready, jumped = asset.clock.admit(item, config.clock_jump_ms, config.clock_confirmations)
        for glitch in jumped:
            self._clock_jump(asset, glitch, rows)
        return ready

    def _failed(self, item: Reading | AssetEvent, error: Exception, rows: Rows) -> None:
        """Handling `item` raised: dead-letter it; reset the model, or the asset if not."""
        origin = item.origin
        position = None if origin is None else f"{origin[0]}/{origin[1]}"
        cause = error.__cause__ if isinstance(error, ModelFailed) else error
        reason = self.guard.failed(cause or error, position)
        self._reject(rows, item, reason, source=STEP)
        fleet = self.state
        if fleet is None:
            return
        if isinstance(error, ModelFailed):
            fleet.model = self._new_model(fleet.asset_type)  # the shard's model alone
            key = fleet_key(fleet.asset_type, item.sensor_id, self.config.shards)
            what = "model"
        else:
            key, what = item.sensor_id, "state"
            try:  # the asset's open alert would otherwise stay open for good
                self._evict(fleet, item.sensor_id, item.ts_ms, None, rows)
            except Exception:  # noqa: S110 - the asset's state is thrown away anyway
                fleet.assets.pop(item.sensor_id, None)
        rows.model_resets.append(ModelResetRow(item.ts_ms, STEP, key, what, reason, position))

    def _sweep(self, now_s: float, rows: Rows) -> None:
        """Assets silent for `ttl_ms`, on the flow's clock or the fleet's, leave the state."""
        self._swept_s = now_s
        fleet = self.state
        if fleet is None:
            return
        ttl_ms = self.config.ttl_ms
        oldest_ms = fleet.latest_ms - ttl_ms
        oldest_s = now_s - ttl_ms / 1000
        silent = [
            asset_id
            for asset_id, asset in fleet.assets.items()
            if asset.last_ms < oldest_ms or asset.seen_s < oldest_s
        ]
        ttl = duration_text(ttl_ms)
        for asset_id in silent:
            at = fleet.assets[asset_id].last_ms
            self._evict(fleet, asset_id, at, f"expired: silent for {ttl}", rows)

    def _evict(
        self, fleet: FleetState, asset_id: str, ts_ms: int, reason: str | None, rows: Rows
    ) -> None:
        """The asset leaves the state: alert closed, waiting readings censored."""
        asset = fleet.assets.pop(asset_id, None)
        if asset is None:
            return
        self._alert_change(fleet, asset_id, asset.alerts.close(ts_ms), rows)
        for reading in asset.clock.release():
            self._clock_jump(asset, reading, rows)
        fleet.model.restored(asset_id, ts_ms / HOUR_MS, None)
        if reason is not None:
            rows.model_resets.append(ModelResetRow(ts_ms, STEP, asset_id, "state", reason, None))

    def on_notify(self) -> tuple[list[Rows], bool]:
        """No message for a while (wall clock): look for silent assets."""
        rows = Rows()
        self._sweep(time.time(), rows)
        return [rows], False

    def notify_at(self) -> datetime | None:
        if self.state is None or not self.state.assets:
            return None
        return datetime.fromtimestamp(self._swept_s, UTC) + timedelta(
            milliseconds=self.config.ttl_ms
        )

    def on_eof(self) -> tuple[list[Rows], bool]:
        """The input ended: held readings were never confirmed."""
        if self.state is None:
            return [], False
        rows = Rows()
        for asset in self.state.assets.values():
            for reading in asset.clock.release():
                self._clock_jump(asset, reading, rows)
        return [rows], False

    @property
    def model_name(self) -> str:
        assert self.state is not None
        return f"{MAINTENANCE_DETECTOR} {self.state.key or self.state.asset_type}"

    def _asset(self, fleet: FleetState, item: Reading | AssetEvent) -> AssetState:
        asset = fleet.assets.get(item.sensor_id)
        if asset is None:
            asset = AssetState(item.ts_ms, AlertEpisodes(self.config.policy))
            fleet.assets[item.sensor_id] = asset
        return asset

    def _clock_jump(self, asset: AssetState, reading: Reading, rows: Rows) -> None:
        hours = (reading.ts_ms - asset.last_ms) / HOUR_MS
        reason = (
            f"clock_jump: {hours:.1f} h ahead of the asset's latest reading, not confirmed by"
            " the readings after it"
        )
        self._reject(rows, reading, reason)

    def _reading(self, fleet: FleetState, reading: Reading, rows: Rows) -> None:
        rows.note(reading.origin)
        asset_id, ts = reading.sensor_id, reading.ts_ms
        asset = self._asset(fleet, reading)
        if asset.last_ms and ts - asset.last_ms > self.config.ttl_ms:
            silent = duration_text(ts - asset.last_ms)
            self._evict(fleet, asset_id, ts, f"expired: silent {silent}, starts cold", rows)
            asset = self._asset(fleet, reading)
            asset.registered = True
        if reading.type != fleet.asset_type:
            return self._reject(rows, reading, "type_mismatch: not the type of this step")
        if not asset.registered:
            asset.registered = True
            rows.sensors.append(
                SensorRow(asset_id, reading.type, reading.district, reading.lat, reading.lon,
                          sensor_unit(reading.type, self.config.catalogue), ts)
            )  # fmt: skip
        clock = asset.clock
        if clock.latest_ms and ts <= clock.latest_ms:
            problem = "duplicate" if ts == clock.latest_ms else "out_of_order"
            return self._reject(
                rows, reading, f"{problem}: the asset already reported a time at or after this"
            )
        signals = {k: v for k, v in reading.values.items() if k != COUNTER}
        age_h = (ts - asset.life_start_ms) / HOUR_MS
        model = fleet.model
        prediction = (
            _call(model.observe, asset_id, ts / HOUR_MS, signals, age_h) if signals else None
        )
        if clock.latest_ms:
            clock.learn_gap(ts - clock.latest_ms)
        clock.latest_ms = ts
        rows.readings.extend(
            ReadingRow(asset_id, ts, metric, value, None, False)
            for metric, value in reading.values.items()
        )
        if prediction is None:
            return None
        p = prediction.failure_prob
        rows.maintenance_predictions.append(
            PredictionRow(
                asset_id,
                ts,
                prediction.rul,
                prediction.rul_low,
                prediction.rul_high,
                p,
                self.model_name,
            )
        )
        flagged = {"failure_prob": p} if p >= self.config.alert_prob else {}
        if flagged or asset.alerts.busy:
            change = asset.alerts.observe(asset_id, ts, flagged, p)
            self._alert_change(fleet, asset_id, change, rows)
        return None

    def _event(self, fleet: FleetState, asset: AssetState, event: AssetEvent, rows: Rows) -> None:
        ts = max(event.ts_ms, asset.last_ms)
        if not asset.last_ms or ts - asset.last_ms <= self.config.clock_jump_ms:
            asset.clock.latest_ms = ts  # an event far ahead does not move the asset's time
        detail = "" if event.rul_h is None else f"inspected RUL {event.rul_h:g} h"
        rows.maintenance_events.append(
            MaintenanceEventRow(event.ts_ms, fleet.asset_type, event.sensor_id, event.kind, detail)
        )
        model = fleet.model
        if event.kind == "repair":
            asset.life_start_ms = ts
            return
        self._alert_change(fleet, event.sensor_id, asset.alerts.close(ts), rows)
        asset.life_start_ms = ts
        t = ts / HOUR_MS
        if event.kind == "failure":
            changes = _call(model.failed, event.sensor_id, t)
        else:
            changes = _call(model.restored, event.sensor_id, t, event.rul_h)
        for change in changes:
            when = int(change.t * HOUR_MS)
            rows.maintenance_events.append(
                MaintenanceEventRow(when, fleet.asset_type, None, change.kind, change.detail)
            )
        figures = model.metrics()
        rows.model_metrics.append(
            ModelMetricRow(
                self.model_name,
                fleet.asset_type,
                ts,
                int(figures["labelled"]),
                figures.get("mae"),
                figures.get("rmse"),
                figures.get("coverage"),
                figures.get("brier"),
                model.censored,
            )
        )

    def _alert_change(
        self, fleet: FleetState, asset_id: str, change: tuple | None, rows: Rows
    ) -> None:
        if change is None:
            return
        what, alert_id, at, peak, metrics, count = change
        if what == "open":
            rows.alerts.append(
                alert_row(
                    alert_id,
                    asset_id,
                    fleet.asset_type,
                    "maintenance",
                    metrics,
                    at,
                    peak,
                    count,
                    MAINTENANCE_DETECTOR,
                    detail=f"failure within {self._horizon_h(fleet.asset_type):g} h",
                )
            )
        else:
            rows.alert_closures.append(closure_row(alert_id, at, peak, metrics, count))

    def _reject(
        self, rows: Rows, item: Reading | AssetEvent, reason: str, source: str = "flow"
    ) -> None:
        origin = item.origin
        rows.note(origin)
        position = None if origin is None else f"{origin[0]}/{origin[1]}"
        payload = payload_text(item._asdict())
        rows.dead_letters.append(
            DeadLetter(now_ms(), source, position, item.sensor_id, reason, payload)
        )

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


class ModelFailed(Exception):
    """The type's RUL model raised (the cause): the model, not the asset, starts afresh."""


def _call(method: Callable[..., T], *args: object) -> T:
    try:
        return method(*args)
    except Exception as error:
        raise ModelFailed(f"{type(error).__name__}: {error}") from error
