"""The city flow: raw messages → validation → per-sensor models, aggregates, alerts → lake.

Run it the Bytewax way, configured by `CITY_*` variables (see the README)::

    python -m bytewax.run dataflows.city:flow            # one worker
    python -m bytewax.run dataflows.city:flow -w 4       # four workers in one process

Step ids are a persistent contract (they name recovery state): do not rename them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from dataflows.rows import Rows
from dataflows.schema import Label, validate
from dataflows.sensor_logic import SensorLogic
from dataflows.settings import Settings
from dataflows.sinks.lake import LakeSink
from dataflows.sources.simulator import SimulatorSource


def validate_batch(batch: list, source: str = "simulator") -> Iterable[tuple | Rows]:
    """Valid readings as `(sensor_id, Reading)`; labels and dead letters as one `Rows`."""
    out: list[tuple | Rows] = []
    side = Rows()
    for raw in batch:
        if isinstance(raw, Label):
            side.labels.append(raw)
            continue
        reading, rejected = validate(raw, source)
        if reading is not None:
            out.append((reading.sensor_id, reading))
        if rejected:
            side.dead_letters.extend(rejected)
    if side.labels or side.dead_letters:
        out.append(side)
    return out


def build_flow(settings: Settings | None = None) -> Dataflow:
    """The city dataflow on the simulator, writing into the lake of `settings`."""
    settings = settings or Settings.from_env()
    # The flow allocates millions of short-lived objects; collecting cycles every 700
    # allocations (the default) costs ~12 % of its time for nothing. Memory stays bounded.
    gc.set_threshold(50_000, 20, 100)
    lateness_ms = int(settings.allowed_lateness_s * 1000)
    recovery_ms = int(settings.alert_recovery_s * 1000)

    flow = Dataflow("city")
    raw = op.input("simulator", flow, SimulatorSource(settings))
    checked = op.flat_map_batch("validate", raw, validate_batch)
    split = op.branch("split", checked, lambda item: isinstance(item, tuple))
    per_sensor = op.stateful_batch(
        "sensors",
        split.trues,  # type: ignore[arg-type]
        lambda resume: SensorLogic(lateness_ms, recovery_ms, resume),
    )
    results = op.map("unkey", per_sensor, lambda key_rows: key_rows[1])
    everything = op.merge("all_rows", results, split.falses)
    op.output("lake", everything, LakeSink(settings))
    return flow


flow = build_flow()
