"""The city flow: raw messages → validation → per-sensor models, aggregates, alerts → lake.

The source is the built-in simulator, or Kafka with `CITY_SOURCE=kafka` (then alerts are
also published to `CITY_KAFKA_ALERTS_TOPIC`). Run it the Bytewax way, configured by
`CITY_*` variables (see the README)::

    python -m bytewax.run dataflows.city:flow            # one worker
    python -m bytewax.run dataflows.city:flow -w 4       # four workers in one process

Step ids are a persistent contract (they name recovery state): do not rename them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from dataflows import kafka_io
from dataflows.corroboration import DistrictLogic
from dataflows.kafka_io import KafkaRecord
from dataflows.maintenance_logic import MaintenanceLogic
from dataflows.rows import Rows
from dataflows.schema import (
    ASSET_TYPES,
    AssetTruth,
    DeadLetter,
    Label,
    SourceRecord,
    now_ms,
    payload_text,
    validate,
)
from dataflows.sensor_logic import SensorLogic
from dataflows.settings import Settings
from dataflows.sinks.kafka_alerts import KafkaAlertSink, alert_events
from dataflows.sinks.lake import LakeSink
from dataflows.sources.kafka import KafkaSource
from dataflows.sources.recorded import RecordedFilesSource, ReplaySpec
from dataflows.sources.simulator import SimulatorSource


def _split(batch: list, check: Callable[[Any], tuple]) -> list[tuple | Rows]:
    """Route a batch: readings and maintenance messages keyed, the rest as one `Rows`.

    Sensor readings become `(sensor_id, Reading)`, asset readings and maintenance messages
    `(asset_type, Reading | AssetEvent)`; labels, simulator truths and dead letters go into
    one `Rows`.
    """
    out: list[tuple | Rows] = []
    side = Rows()
    for record in batch:
        payload = getattr(record, "payload", None)
        if isinstance(payload, Label):
            side.labels.append(payload)
            side.note((record.source_partition, record.offset))
            continue
        if isinstance(payload, AssetTruth):
            side.asset_truth.append(payload)
            side.note((record.source_partition, record.offset))
            continue
        reading, rejected = check(record)
        if reading is not None:
            kind = reading.type
            out.append((kind if kind in ASSET_TYPES else reading.sensor_id, reading))
        if rejected:
            side.dead_letters.extend(rejected)
            side.note((record.source_partition, record.offset))
    if side.labels or side.dead_letters or side.asset_truth:
        out.append(side)
    return out


def validate_batch(batch: list[SourceRecord], source: str = "simulator") -> list[tuple | Rows]:
    """Validate the messages of a simulator or replay source (see `_split`)."""
    return _split(batch, lambda r: validate(r.payload, source, (r.source_partition, r.offset)))


def decode_batch(batch: list[KafkaRecord], max_future_ms: int = 86_400_000) -> list[tuple | Rows]:
    """Decode and validate Kafka records (see `_split`); dead letters carry the offset.

    A reading stamped more than `max_future_ms` ahead of the wall clock is dead-lettered:
    gateways stamp what they measured, so that is a broken clock, not data.
    """
    horizon = now_ms() + max_future_ms

    def check(record: KafkaRecord) -> tuple:
        reading, rejected = kafka_io.decode(record)
        if reading is not None and reading.ts_ms > horizon:
            ahead = (reading.ts_ms - horizon + max_future_ms) / 3_600_000
            letter = DeadLetter(
                now_ms(),
                "kafka",
                f"{record.source_partition}/{record.offset}",
                reading.sensor_id,
                f"future_timestamp: {ahead:.1f} h ahead of the wall clock",
                payload_text(record.value or b""),
            )
            return None, [*rejected, letter]
        return reading, rejected

    return _split(batch, check)


def _side_key(rows: Rows) -> str:
    """Dead letters and labels go to the lake partition of their first source partition."""
    return next(iter(rows.origins), "side")


def build_flow(settings: Settings | None = None, replay: ReplaySpec | None = None) -> Dataflow:
    """The city dataflow, writing into the lake of `settings`.

    Its source is `replay` if given (recorded files), else the simulator or Kafka
    (`settings.source`).
    """
    settings = settings or Settings.from_env()
    # The flow allocates millions of short-lived objects; collecting cycles every 700
    # allocations (the default) costs ~12 % of its time for nothing. Memory stays bounded.
    gc.set_threshold(50_000, 20, 100)
    lateness_ms = int(settings.allowed_lateness_s * 1000)
    policy = settings.alert_policy()

    flow = Dataflow("city")
    if replay is not None:
        recorded = op.input("replay", flow, RecordedFilesSource(replay))
        checked = op.flat_map_batch(
            "validate", recorded, lambda batch: validate_batch(batch, "replay")
        )
    elif settings.source == "kafka":
        records = op.input("kafka", flow, KafkaSource(settings, settings.kafka_readings_topic))
        max_future_ms = int(settings.max_future_s * 1000)
        checked = op.flat_map_batch(
            "decode", records, lambda batch: decode_batch(batch, max_future_ms)
        )
    else:
        raw = op.input("simulator", flow, SimulatorSource(settings))
        checked = op.flat_map_batch("validate", raw, validate_batch)
    split = op.branch("split", checked, lambda item: isinstance(item, tuple))
    assets = op.branch("assets", split.trues, lambda item: item[1].type in ASSET_TYPES)
    per_sensor = op.stateful_batch(
        "sensors",
        assets.falses,  # type: ignore[arg-type]
        lambda resume: SensorLogic(lateness_ms, policy, resume),
    )
    maintenance_policy = settings.maintenance_alert_policy()
    per_asset_type = op.stateful_batch(
        "maintenance",
        assets.trues,  # type: ignore[arg-type]
        lambda resume: MaintenanceLogic(
            settings.maintenance_horizon_h,
            settings.maintenance_alert_prob,
            maintenance_policy,
            resume,
        ),
    )
    changes = op.flat_map_batch(  # one call per batch: most Rows carry no alert change
        "alert_changes",
        per_sensor,
        lambda batch: [(c[0], c) for _, rows in batch for c in rows.alert_changes],
    )
    per_district = op.stateful_batch(
        "districts",
        changes,
        lambda resume: DistrictLogic(
            int(settings.city_event_window_s * 1000), settings.city_event_min_sensors, resume
        ),
    )
    side = op.key_on("side_rows", split.falses, _side_key)
    everything = op.merge("all_rows", per_sensor, per_asset_type, per_district, side)
    op.output("lake", everything, LakeSink(settings))
    if settings.source == "kafka" and replay is None:
        alerting = op.merge("alert_rows", per_sensor, per_asset_type, per_district)
        events = op.flat_map("alert_events", alerting, lambda key_rows: alert_events(key_rows[1]))
        op.output("alerts_topic", events, KafkaAlertSink(settings))
    return flow


flow = build_flow()
