"""The city flow: raw messages → validation → per-sensor models, aggregates, alerts → lake.

The source is the built-in simulator, or Kafka with `CITY_SOURCE=kafka` (then alerts are
also published to `CITY_KAFKA_ALERTS_TOPIC`). Run it the Bytewax way, configured by
`CITY_*` variables (`docs/configuration.md`); the flow is built by a factory, so importing this
module does nothing::

    python -m bytewax.run "dataflows.flow.city:build_flow()"          # one worker
    python -m bytewax.run "dataflows.flow.city:build_flow()" -w 4     # four workers in one process

Every step isolates its records' faults (`dataflows.flow.isolation`): one message can cost the
flow a dead letter, never the flow itself. Every step tallies its work, and the first one the
records of each source partition (`dataflows.flow.metered`, sampled into `flow_metrics`).

Step ids are a persistent contract (they name recovery state): do not rename them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from dataflows.catalogue.load import default_catalogue, load_catalogue
from dataflows.catalogue.types import Catalogue
from dataflows.flow.alerting import AlertPolicy
from dataflows.flow.cluster_start import wait_for_earlier_processes
from dataflows.flow.districts import DistrictLogic
from dataflows.flow.isolation import StepGuard
from dataflows.flow.maintenance import MaintenanceConfig, MaintenanceLogic, fleet_key
from dataflows.flow.metered import MeteredLogic, metered
from dataflows.flow.run_options import process_label
from dataflows.flow.sensor_readings import SensorReadings, readings_in
from dataflows.flow.sensors import SensorConfig, SensorLogic
from dataflows.flow.stale_snapshots import recovery_directory_of_this_run, repair_before_resuming
from dataflows.kafka import client as kafka_io
from dataflows.kafka.client import KAFKA_LIMITS, KafkaRecord
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AssetTruthRow, DataGapRow, LabelRow
from dataflows.logs import configure_logging
from dataflows.messages.limits import MessageLimits
from dataflows.messages.schema import (
    DEFAULT_LIMITS,
    AssetTruth,
    DataGap,
    DeadLetter,
    Label,
    Reading,
    SourceRecord,
    now_ms,
    payload_text,
    validate,
)
from dataflows.settings import Settings
from dataflows.sinks.kafka_alerts import KafkaAlertSink, keyed_events
from dataflows.sinks.lake import LakeSink
from dataflows.sources.kafka import KafkaSource
from dataflows.sources.recorded import RecordedFilesSource, ReplaySpec
from dataflows.sources.simulator import SimulatorSource
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan


def _split(
    batch: list,
    check: Callable[[Any], tuple],
    source: str,
    guard: StepGuard,
    asset_types: frozenset[str],
) -> list[tuple | Rows]:
    """Route a batch: readings and maintenance messages keyed, the rest as one `Rows`.

    A sensor's readings become one `(sensor_id, SensorReadings)` in arrival order, asset
    readings and maintenance messages `(asset_type, Reading | AssetEvent)`; labels,
    simulator truths, data gaps and dead letters go into one `Rows`. A record whose check
    raises is dead-lettered as `internal_error` with its position and raw payload.
    """
    out: list[tuple | Rows] = []
    by_sensor: dict[str, list[Reading]] = {}
    side = Rows()
    failures = 0
    for record in batch:
        if isinstance(record, DataGap):
            missing = record.last_offset - record.first_offset + 1
            side.data_gaps.append(
                DataGapRow(
                    record.detected_ms,
                    record.source_partition,
                    record.first_offset,
                    record.last_offset,
                    missing,
                    record.reason,
                )
            )
            continue
        origin = (record.source_partition, record.offset)
        payload = getattr(record, "payload", None)
        if isinstance(payload, Label):
            side.labels.append(LabelRow(*payload))
            side.note(origin)
            continue
        if isinstance(payload, AssetTruth):
            side.asset_truth.append(AssetTruthRow(*payload))
            side.note(origin)
            continue
        try:
            reading, rejected = check(record)
        except Exception as error:  # the record's fault, not the flow's: see `isolation`
            failures += 1
            position = f"{origin[0]}/{origin[1]}"
            raw = record.value if isinstance(record, KafkaRecord) else payload
            reason = guard.failed(error, position)
            reading, rejected = (
                None,
                [DeadLetter(now_ms(), source, position, None, reason, payload_text(raw))],
            )
        if reading is not None:
            if reading.type in asset_types:
                out.append((reading.type, reading))
            else:
                by_sensor.setdefault(reading.sensor_id, []).append(reading)
        if rejected:
            side.dead_letters.extend(rejected)
            side.note(origin)
    if failures < len(batch):
        guard.succeeded()
    out.extend((sensor, SensorReadings(readings)) for sensor, readings in by_sensor.items())
    if side.labels or side.dead_letters or side.asset_truth or side.data_gaps:
        out.append(side)
    return out


def validate_batch(
    batch: list[SourceRecord],
    source: str = "simulator",
    limits: MessageLimits = DEFAULT_LIMITS,
    guard: StepGuard | None = None,
    catalogue: Catalogue | None = None,
) -> list[tuple | Rows]:
    """Validate the messages of a simulator or replay source (see `_split`)."""
    known = catalogue or default_catalogue()
    return _split(
        batch,
        lambda r: validate(r.payload, source, (r.source_partition, r.offset), limits, known),
        source,
        guard or StepGuard("validate"),
        known.asset_types,
    )


def decode_batch(
    batch: list[KafkaRecord | DataGap],
    max_future_ms: int = 86_400_000,
    limits: MessageLimits = KAFKA_LIMITS,
    guard: StepGuard | None = None,
    catalogue: Catalogue | None = None,
) -> list[tuple | Rows]:
    """Decode and validate Kafka records (see `_split`); dead letters carry the offset.

    A reading stamped more than `max_future_ms` ahead of the wall clock is dead-lettered:
    gateways stamp what they measured, so that is a broken clock, not data.
    """
    horizon = now_ms() + max_future_ms
    known = catalogue or default_catalogue()

    def check(record: KafkaRecord) -> tuple:
        reading, rejected = kafka_io.decode(record, limits=limits, catalogue=known)
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

    return _split(batch, check, "kafka", guard or StepGuard("decode"), known.asset_types)


def _side_key(rows: Rows) -> str:
    """Dead letters and labels go to the lake partition of their first source partition."""
    return next(iter(rows.origins), "side")


def _alert_changes(batch: list[tuple[str, Rows]]) -> list[tuple[str, tuple]]:
    """The sensors' anomaly alert changes, keyed by district (one call per batch)."""
    return [(change[0], change) for _, rows in batch for change in rows.alert_changes]


def alert_policy(settings: Settings) -> AlertPolicy:
    """The alert lifecycle these settings ask for."""
    return AlertPolicy(
        min_duration_ms=int(settings.alert_min_duration_s * 1000),
        recovery_ms=int(settings.alert_recovery_s * 1000),
        clear_score=settings.alert_clear_score,
        cooldown_ms=int(settings.alert_cooldown_s * 1000),
    )


def maintenance_alert_policy(settings: Settings) -> AlertPolicy:
    """The lifecycle of maintenance alerts, on the failure probability.

    They open after 3 h at or above `maintenance_alert_prob` (at once from 0.95), close
    after 12 h below 0.6 of it, and open at most once a day per asset.
    """
    return AlertPolicy(
        min_duration_ms=3 * 3_600_000,
        recovery_ms=12 * 3_600_000,
        clear_score=0.6 * settings.maintenance_alert_prob,
        cooldown_ms=24 * 3_600_000,
        critical_score=max(0.95, settings.maintenance_alert_prob),
    )


def sensor_config(
    settings: Settings, plan: DetectorPlan = DEFAULT_PLAN, catalogue: Catalogue | None = None
) -> SensorConfig:
    """How the per-sensor step treats time, alerts and state, and which detectors it uses."""
    return SensorConfig(
        plan=plan,
        catalogue=catalogue or load_catalogue(settings.catalogue),
        lateness_ms=int(settings.allowed_lateness_s * 1000),
        policy=alert_policy(settings),
        ttl_ms=int(settings.state_ttl_s * 1000),
        clock_jump_ms=int(settings.clock_jump_s * 1000),
        clock_confirmations=settings.clock_confirm_readings,
        max_metrics=settings.max_metrics,
    )


def maintenance_config(settings: Settings, catalogue: Catalogue | None = None) -> MaintenanceConfig:
    """How the maintenance step treats time, alerts and state."""
    known = catalogue or load_catalogue(settings.catalogue)
    return MaintenanceConfig(
        horizon_h=settings.maintenance_horizon_h,
        catalogue=known,
        alert_prob=settings.maintenance_alert_prob,
        policy=maintenance_alert_policy(settings),
        ttl_ms=int(settings.state_ttl_s * 1000),
        clock_jump_ms=int(settings.clock_jump_s * 1000),
        clock_confirmations=settings.clock_confirm_readings,
        max_pending=settings.maintenance_max_pending,
        shards=settings.maintenance_shards,
    )


def build_flow(
    settings: Settings | None = None,
    replay: ReplaySpec | None = None,
    plan: DetectorPlan = DEFAULT_PLAN,
) -> Dataflow:
    """The city dataflow, writing into the lake of `settings`.

    Its source is `replay` if given (recorded files), else the simulator or Kafka
    (`settings.source`). `plan` says which detector each kind of signal gets
    (`online_models.anomaly.registry`).
    """
    settings = settings or Settings.from_env()
    configure_logging(settings)
    repair_before_resuming(recovery_directory_of_this_run())  # a Bytewax 0.21 defect
    # The flow allocates millions of short-lived objects; collecting cycles every 700
    # allocations (the default) costs ~12 % of its time for nothing. Memory stays bounded.
    gc.set_threshold(50_000, 20, 100)
    # The models' NumPy work is small matrices: with several workers on few cores, BLAS
    # threads in every process fight for the same cores (measured ~10x slower), so one each.
    from threadpoolctl import threadpool_limits  # here: importing it changes the environment

    threadpool_limits(1, user_api="blas")

    catalogue = load_catalogue(settings.catalogue)
    process = process_label()  # the steps' tallies are this process's (`flow_metrics`)
    flow = Dataflow("city")
    if replay is not None:
        recorded = op.input("replay", flow, RecordedFilesSource(replay))
        limits = settings.message_limits("replay")
        guard = StepGuard("validate")
        checked = op.flat_map_batch(
            "validate",
            recorded,
            metered(
                lambda batch: validate_batch(batch, "replay", limits, guard, catalogue),
                f"step:validate@{process}",
                by_source=True,
            ),
        )
    elif settings.source == "kafka":
        records = op.input("kafka", flow, KafkaSource(settings, settings.kafka_readings_topic))
        max_future_ms = int(settings.max_future_s * 1000)
        limits = settings.message_limits("kafka")
        guard = StepGuard("decode")
        checked = op.flat_map_batch(
            "decode",
            records,
            metered(
                lambda batch: decode_batch(batch, max_future_ms, limits, guard, catalogue),
                f"step:decode@{process}",
                by_source=True,
            ),
        )
    else:
        raw = op.input("simulator", flow, SimulatorSource(settings))
        limits = settings.message_limits("simulator")
        guard = StepGuard("validate")
        checked = op.flat_map_batch(
            "validate",
            raw,
            metered(
                lambda batch: validate_batch(batch, "simulator", limits, guard, catalogue),
                f"step:validate@{process}",
                by_source=True,
            ),
        )
    # Bytewax's `branch` narrows a stream's type only by a TypeGuard: `assets` is left open
    split = op.branch("split", checked, lambda item: isinstance(item, tuple))
    assets: op.BranchOut = op.branch(
        "assets", split.trues, lambda item: not isinstance(item[1], SensorReadings)
    )
    sensors, sensors_guard = sensor_config(settings, plan, catalogue), StepGuard("sensors")
    per_sensor = op.stateful_batch(
        "sensors",
        assets.falses,
        lambda resume: MeteredLogic(
            SensorLogic(sensors, resume, sensors_guard),
            f"step:sensors@{process}",
            size=readings_in,
        ),
    )
    maintenance, maintenance_guard = (
        maintenance_config(settings, catalogue),
        StepGuard("maintenance"),
    )
    shards = settings.maintenance_shards
    fleets = op.map(
        "fleet_shards", assets.trues, lambda kv: (fleet_key(kv[0], kv[1].sensor_id, shards), kv[1])
    )
    per_asset_type = op.stateful_batch(
        "maintenance",
        fleets,
        lambda resume: MeteredLogic(
            MaintenanceLogic(maintenance, resume, maintenance_guard), f"step:maintenance@{process}"
        ),
    )
    # one call per batch: most Rows carry no alert change
    changes = op.flat_map_batch("alert_changes", per_sensor, _alert_changes)
    window_ms = int(settings.city_event_window_s * 1000)
    ttl_ms = int(settings.state_ttl_s * 1000)
    districts_guard = StepGuard("districts")
    per_district = op.stateful_batch(
        "districts",
        changes,
        lambda resume: MeteredLogic(
            DistrictLogic(
                window_ms, settings.city_event_min_sensors, resume, ttl_ms, districts_guard
            ),
            f"step:districts@{process}",
        ),
    )
    side = op.key_on("side_rows", split.falses, _side_key)
    everything = op.merge("all_rows", per_sensor, per_asset_type, per_district, side)
    lake_sink = LakeSink(settings, limit_dead_letters=replay is None)
    op.output("lake", op.flat_map_batch("lake_rows", everything, lake_sink.gather), lake_sink)
    if settings.source == "kafka" and replay is None:
        alerting = op.merge("alert_rows", per_sensor, per_asset_type, per_district)
        events = op.flat_map("alert_events", alerting, keyed_events)
        op.output("alerts_topic", events, KafkaAlertSink(settings))
    wait_for_earlier_processes()  # Bytewax joins the cluster next: see `cluster_start`
    return flow
