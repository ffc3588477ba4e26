"""The maintenance step of the flow: one online RUL model per asset type.

Keyed by asset type, it receives the type's condition readings and maintenance messages in
arrival order (one Kafka partition keeps each asset's order). For each asset:

- a reading is stored in `readings` (condition signals are not scored by the anomaly
  detectors) and fed to the type's `RemainingLife` model (all signals but the `run_hours`
  counter, and the hours since the asset last came back from a failure or a visit); once
  the model has learnt enough, its prediction goes to `maintenance_predictions` and its
  failure probability drives the asset's maintenance alert (same episode logic as anomaly
  alerts, with `Settings.maintenance_alert_policy`);
- a `failure` reveals the true RUL of the asset's readings since its last event, which the
  model learns; a `maintenance` visit does the same if it reports the inspected RUL
  (`rul_h`), else those readings are censored; either closes the asset's open alert.
  `repair` (back in service) starts the asset's new life. Each is written to
  `maintenance_events`, with the model's own events (drift, challenger promoted or
  dismissed) and, after every label, its prequential figures in `model_metrics`;
- a reading at or before the asset's latest time is dead-lettered (the model needs time
  order); a message stamped before the asset's latest reading is applied at that reading.

The state is snapshotted as pickled bytes.

>>> from dataflows.schema import AssetEvent, Reading
>>> logic = MaintenanceLogic(horizon_h=24, alert_prob=0.5, policy=AlertPolicy())
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
from dataclasses import dataclass, field

from bytewax.operators import StatefulBatchLogic

from dataflows.alerting import AlertEpisodes, AlertPolicy, alert_row, closure_row
from dataflows.rows import Rows
from dataflows.schema import AssetEvent, DeadLetter, Reading, now_ms, payload_text
from dataflows.sensor_logic import sensor_unit
from online_models.maintenance import RemainingLife

HOUR_MS = 3_600_000
COUNTER = "run_hours"
"""A cumulative counter: stored, but not a condition signal."""

MAINTENANCE_DETECTOR = "RemainingLife"


def new_model(horizon_h: float) -> RemainingLife:
    """The RUL model of one asset type (times in hours).

    RUL targets are capped at 30 days, beyond which wear is hardly visible; interval bands
    are fitted separately below 2 days, 1 week and 2 weeks of predicted RUL.
    """
    return RemainingLife(horizon=horizon_h, cap=720.0, band_edges=(48.0, 168.0, 336.0))


@dataclass
class AssetState:
    """What the step remembers of one asset."""

    last_ms: int
    life_start_ms: int  # since the asset came back from a failure or a visit
    alerts: AlertEpisodes
    registered: bool = False  # in `sensors`, with the location of its first reading


@dataclass
class FleetState:
    """One asset type's model and assets."""

    asset_type: str
    model: RemainingLife
    assets: dict[str, AssetState] = field(default_factory=dict)


class MaintenanceLogic(StatefulBatchLogic):
    """The per-asset-type stateful step; emits one `Rows` per batch."""

    def __init__(
        self,
        horizon_h: float,
        alert_prob: float,
        policy: AlertPolicy,
        resume: bytes | None = None,
    ) -> None:
        self.horizon_h = horizon_h
        self.alert_prob = alert_prob
        self.policy = policy
        self.state: FleetState | None = pickle.loads(resume) if resume is not None else None

    def on_batch(self, values: list[Reading | AssetEvent]) -> tuple[list[Rows], bool]:
        rows = Rows()
        for item in values:
            if self.state is None:
                self.state = FleetState(item.type, new_model(self.horizon_h))
            rows.note(item.origin)
            if isinstance(item, AssetEvent):
                self._event(self.state, item, rows)
            else:
                self._reading(self.state, item, rows)
        return [rows], False

    @property
    def model_name(self) -> str:
        assert self.state is not None
        return f"{MAINTENANCE_DETECTOR} {self.state.asset_type}"

    def _asset(self, fleet: FleetState, item: Reading | AssetEvent) -> AssetState:
        asset = fleet.assets.get(item.sensor_id)
        if asset is None:
            asset = AssetState(item.ts_ms, item.ts_ms, AlertEpisodes(self.policy))
            fleet.assets[item.sensor_id] = asset
        return asset

    def _reading(self, fleet: FleetState, reading: Reading, rows: Rows) -> None:
        asset_id, ts = reading.sensor_id, reading.ts_ms
        if reading.type != fleet.asset_type:
            return self._reject(rows, reading, "type_mismatch: not the type of this step")
        known = asset_id in fleet.assets
        asset = self._asset(fleet, reading)
        if not asset.registered:
            asset.registered = True
            rows.sensors.append(
                (asset_id, reading.type, reading.district, reading.lat, reading.lon,
                 sensor_unit(reading.type), ts)
            )  # fmt: skip
        if known and ts <= asset.last_ms:
            problem = "duplicate" if ts == asset.last_ms else "out_of_order"
            return self._reject(
                rows, reading, f"{problem}: the asset already reported a time at or after this"
            )
        asset.last_ms = ts
        rows.readings.extend(
            (asset_id, ts, metric, value, None, False) for metric, value in reading.values.items()
        )
        signals = {k: v for k, v in reading.values.items() if k != COUNTER}
        if not signals:
            return None
        age_h = (ts - asset.life_start_ms) / HOUR_MS
        prediction = fleet.model.observe(asset_id, ts / HOUR_MS, signals, age_h)
        if prediction is None:
            return None
        p = prediction.failure_prob
        rows.maintenance_predictions.append(
            (
                asset_id,
                ts,
                prediction.rul,
                prediction.rul_low,
                prediction.rul_high,
                p,
                self.model_name,
            )
        )
        flagged = {"failure_prob": p} if p >= self.alert_prob else {}
        if flagged or asset.alerts.busy:
            change = asset.alerts.observe(asset_id, ts, flagged, p)
            self._alert_change(fleet, asset_id, change, rows)
        return None

    def _event(self, fleet: FleetState, event: AssetEvent, rows: Rows) -> None:
        asset = self._asset(fleet, event)
        ts = max(event.ts_ms, asset.last_ms)
        asset.last_ms = ts
        detail = "" if event.rul_h is None else f"inspected RUL {event.rul_h:g} h"
        rows.maintenance_events.append(
            (event.ts_ms, fleet.asset_type, event.sensor_id, event.kind, detail)
        )
        model = fleet.model
        if event.kind == "repair":
            asset.life_start_ms = ts
            return
        self._alert_change(fleet, event.sensor_id, asset.alerts.close(ts), rows)
        asset.life_start_ms = ts
        t = ts / HOUR_MS
        if event.kind == "failure":
            changes = model.failed(event.sensor_id, t)
        else:
            changes = model.restored(event.sensor_id, t, event.rul_h)
        for change in changes:
            when = int(change.t * HOUR_MS)
            rows.maintenance_events.append(
                (when, fleet.asset_type, None, change.kind, change.detail)
            )
        figures = model.metrics()
        rows.model_metrics.append(
            (
                self.model_name,
                fleet.asset_type,
                ts,
                figures["labelled"],
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
                    detail=f"failure within {self.horizon_h:g} h",
                )
            )
        else:
            rows.alert_closures.append(closure_row(alert_id, at, peak, metrics, count))

    def _reject(self, rows: Rows, reading: Reading, reason: str) -> None:
        origin = reading.origin
        position = None if origin is None else f"{origin[0]}/{origin[1]}"
        payload = payload_text(reading._asdict())
        rows.dead_letters.append(
            DeadLetter(now_ms(), "flow", position, reading.sensor_id, reason, payload)
        )

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
