"""Throughput of the full flow against the bare detectors, for `just bench`, in one process.

1. The full city flow (simulator → validation → per-sensor detectors → aggregates, alerts →
   lake) on one worker, as fast as possible, into a temporary lake.
2. The same default detectors and thresholds fed the same validated readings in a bare
   Python loop (no Bytewax, no lake): the ceiling the flow is compared with.
3. The cost of each model of the suite in µs per reading (`dataflows.bench.detector_cost`),
   against the 20 µs target for the default detector.
4. Memory under the heaviest messages the flow accepts (`dataflows.bench.memory`): a replay
   at the metric cap, and with a broker the Kafka flow on a clean and on a hostile stream.

Prints readings/s of each, their ratio, µs per reading and peak RSS; `--json` prints the
same figures as one JSON object. Sizes come from `--sensors` and `--hours`.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bytewax.testing import run_main

from dataflows import lake
from dataflows.catalogue.load import default_catalogue
from dataflows.flow.city import build_flow
from dataflows.lake.connection import one
from dataflows.messages.schema import Label, Reading, validate
from dataflows.settings import Settings
from dataflows.simulator.city import whole_stream
from online_models.anomaly import default_detector, default_threshold

START = datetime(2026, 1, 5, tzinfo=UTC)
TARGET_FLOW_RATE = 50_000.0
TARGET_RATIO = 0.5
TARGET_DETECTOR_US = 20.0
"""Issue target: the default detector costs at most 20 µs per reading."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_flow(settings: Settings) -> dict[str, float]:
    """Run the flow of `settings` once into a temporary lake; readings/s that reached it."""
    with tempfile.TemporaryDirectory(prefix="city-bench-") as folder:
        settings = replace(settings, lake=Path(folder))
        flow = build_flow(settings)
        started = time.perf_counter()
        run_main(flow)
        seconds = time.perf_counter() - started
        con = lake.connect(settings.lake, read_only=True)
        readings = one(con.sql("SELECT count(*) FROM readings"))[0]
        con.close()
    return {"readings": readings, "seconds": seconds, "readings_per_s": readings / seconds}


def simulated_readings(settings: Settings) -> list[tuple[str, str, int, dict[str, float]]]:
    """The validated readings the simulator produces for these settings, in stream order."""
    start_ms = int(START.timestamp() * 1000)
    end_ms = start_ms + int((settings.sim_hours or 1) * 3_600_000)
    stream = whole_stream(
        settings.sim_seed,
        settings.sim_sensors,
        settings.sim_partitions,
        start_ms,
        end_ms,
        settings.sim_fault_rate,
    )
    out = []
    for raw in stream:
        if isinstance(raw, Label):
            continue
        reading, _ = validate(raw, "bench")
        if isinstance(reading, Reading):
            out.append((reading.sensor_id, reading.type, reading.ts_ms, reading.values))
    return out


def bench_bare(readings: list[tuple[str, str, int, dict[str, float]]]) -> dict[str, float]:
    """Score, flag and learn every metric of every reading with fresh default detectors."""
    models: dict[tuple[str, str], tuple] = {}
    catalogue = default_catalogue()
    count = 0
    started = time.perf_counter()
    for sensor_id, sensor_type, ts_ms, values in readings:
        t = ts_ms / 1000.0
        for metric, value in values.items():
            model = models.get((sensor_id, metric))
            if model is None:
                known = catalogue.metric(sensor_type, metric)
                assert known is not None  # the simulator's metrics are all in the catalogue
                signal = known.signal
                model = models[(sensor_id, metric)] = (
                    default_detector(signal),
                    default_threshold(sensor_type),
                )
            detector, threshold = model
            x = {"value": value, "t": t}
            score = detector.score_one(x)
            threshold.classify(score)
            detector.learn_one(x)
            threshold.learn_one(score)
            count += 1
    seconds = time.perf_counter() - started
    return {"readings": count, "seconds": seconds, "readings_per_s": count / seconds}
