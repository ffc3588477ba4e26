"""The chaos drill of `just chaos`: kill the Kafka flow at random moments, then check the lake.

With a real broker (a temporary one, or `--bootstrap HOST:PORT`), a known stream is
produced, then the Kafka flow runs with recovery (`dataflows.cli.flow`) and is killed with
SIGKILL at random moments `--restarts` times, restarted each time, and finally run to the
end. The lake is then compared with what was produced: readings (of sensors and assets)
lost, readings duplicated, rows of the maintenance tables written twice (by their natural
keys), and whether every one-minute aggregate equals a recomputation from the raw readings.
A hostile message (`dataflows.messages.hostile`) follows every `--hostile-every` messages
(50; 0 for none): each must be dead-lettered exactly once, and none may stop the flow (the
dead-letter rate limits are lifted so that each can be counted). The last line reads
`restarts=N lost=N duplicated=N aggregates_ok=true|false hostile=N dead_lettered=N`; the exit
code is non-zero unless nothing was lost or duplicated, the aggregates are right and every
hostile message was dead-lettered once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from dataflows import lake
from dataflows.kafka import broker as kafka_broker
from dataflows.kafka.produce import produce
from dataflows.lake.connection import one
from dataflows.messages.schema import AssetTruth, Label, Reading, validate
from dataflows.settings import PROJECT_ROOT, Settings
from dataflows.simulator.assets import whole_fleet
from dataflows.simulator.city import whole_stream

START = datetime(2026, 1, 5, tzinfo=UTC)

AGGREGATE_MISMATCHES = """
WITH recomputed AS (
    SELECT sensor_id, metric, time_bucket(INTERVAL 1 MINUTE, ts) AS minute, count(*) AS n,
           sum(value) AS total, min(value) AS low, max(value) AS high,
           count(*) FILTER (WHERE is_anomaly) AS anomalies
    FROM readings
    WHERE sensor_id NOT IN (  -- assets' condition readings have no one-minute aggregates
        SELECT sensor_id FROM sensors
        WHERE type IN (SELECT sensor_type FROM sensor_types WHERE asset)
    )
    GROUP BY ALL
)
SELECT count(*) FROM recomputed r FULL JOIN readings_1m a USING (sensor_id, metric, minute)
WHERE a.n IS DISTINCT FROM r.n OR abs(a.mean * a.n - r.total) > 1e-6
   OR a.min IS DISTINCT FROM r.low OR a.max IS DISTINCT FROM r.high
   OR a.anomalies IS DISTINCT FROM r.anomalies
"""


def _say(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


def expected_readings(settings: Settings) -> set[tuple[str, int, str]]:
    """(sensor, ts, metric) of every valid reading the simulator produces for `settings`."""
    if settings.sim_start is None or settings.sim_hours is None:
        raise ValueError("the chaos drill needs a pinned, finite simulation")
    start = int(settings.sim_start.timestamp() * 1000)
    end = start + int(settings.sim_hours * 3_600_000)
    stream: list = whole_stream(
        settings.sim_seed,
        settings.sim_sensors,
        settings.sim_partitions,
        start,
        end,
        settings.sim_fault_rate,
    )
    stream += whole_fleet(
        settings.sim_seed, settings.sim_assets, start, end, settings.sim_fault_rate
    )
    keys: set[tuple[str, int, str]] = set()
    for item in stream:
        if isinstance(item, Label | AssetTruth) or "event" in item:
            continue
        reading, _ = validate(item, "chaos")
        if isinstance(reading, Reading):
            keys.update((reading.sensor_id, reading.ts_ms, m) for m in reading.values)
    return keys


def compare(lake_path: Path, expected: set[tuple[str, int, str]]) -> dict[str, int | bool]:
    """Readings lost, duplicated and unexpected, and whether the aggregates are right.

    Also the messages dead-lettered at decoding, counted once per position.
    """
    con = lake.connect(lake_path, read_only=True)
    try:
        letters, positions = one(
            con.sql(
                "SELECT count(*), count(DISTINCT position) FROM dead_letters WHERE source = 'kafka'"
            )
        )
        rows = con.sql(
            "SELECT sensor_id, epoch_ms(ts), metric, count(*) FROM readings GROUP BY ALL"
        ).fetchall()
        mismatches = one(con.sql(AGGREGATE_MISMATCHES))[0]
        repeated = sum(
            one(con.sql(f"SELECT count(*) - count(DISTINCT ({', '.join(keys)})) FROM {table}"))[0]
            for table, keys in ((t.name, t.key) for t in lake.TABLES.values())
            if table.startswith("maintenance_") or table in ("model_metrics", "asset_truth")
        )
    finally:
        con.close()
    stored = {(s, t, m) for s, t, m, _ in rows}
    return {
        "lost": len(expected - stored),
        "unexpected": len(stored - expected),
        "aggregates_ok": mismatches == 0,
        "dead_lettered": positions,
        "duplicated": sum(n - 1 for *_, n in rows) + repeated + letters - positions,
    }


def chaos(
    restarts: int,
    sensors: int,
    hours: float,
    seed: int,
    bootstrap: str | None,
    folder: Path,
    assets: int = 10,
    hostile_every: int = 50,
) -> dict[str, int | bool]:
    """Run the experiment in `folder`; the figures of the last line."""
    rng = random.Random(seed)
    broker = None
    if bootstrap is None:
        broker = kafka_broker.Broker(folder / "broker", kafka_broker.free_port_pair())
        kafka_broker.start(broker)
        bootstrap = broker.bootstrap
    try:
        topic = f"chaos.{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
        env.update(
            CITY_LAKE=str(folder / "lake"),
            CITY_RECOVERY_DIR=str(folder / "recovery"),
            CITY_SNAPSHOT_S="1",
            CITY_SINK_FLUSH_S="0.2",
            CITY_SOURCE="kafka",
            CITY_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            CITY_KAFKA_READINGS_TOPIC=topic,
            CITY_KAFKA_ALERTS_TOPIC=f"{topic}.alerts",
            CITY_KAFKA_STOP_AT_END="true",
            CITY_SIM_SENSORS=str(sensors),
            CITY_SIM_ASSETS=str(assets),
            CITY_SIM_HOURS=f"{hours:g}",
            CITY_SIM_START=START.isoformat(),
            CITY_SIM_SEED=str(seed),
            CITY_SIM_FAULT_RATE="0",
            CITY_SIM_SPEEDUP="0",
            CITY_DEAD_LETTERS_PER_MINUTE="1000000000",  # each hostile message counted
            CITY_DEAD_LETTERS_MAX_PER_MINUTE="1000000000",
        )
        settings = Settings.from_env(env)
        _say(f"producing {hours:g} simulated hours of {sensors} sensors to {topic} ...")
        summary = produce(replace(settings, source="simulator"), hostile_every=hostile_every)
        expected = expected_readings(settings)
        assert len(expected) == summary["readings"], "the stream is not what was expected"
        done = 0
        finished = False
        while done < restarts and not finished:
            flow = subprocess.Popen(
                [sys.executable, "-m", "dataflows.cli.flow"],
                env=env,
                cwd=PROJECT_ROOT,
                stderr=subprocess.DEVNULL,
            )
            delay = rng.uniform(3.0, 7.0)  # the flow starts in about 3 s
            try:
                flow.wait(timeout=delay)
                finished = flow.returncode == 0
                if not finished:
                    raise RuntimeError(f"the flow failed with exit code {flow.returncode}")
            except subprocess.TimeoutExpired:
                flow.send_signal(signal.SIGKILL)
                flow.wait()
                done += 1
                stored = lake.count_rows(folder / "lake")
                _say(f"kill -9 {done}/{restarts} after {delay:.1f} s: {stored:,} readings")
        if finished:
            _say(f"the stream ended after {done} kills; use more --hours for more")
        else:
            _say("last run, to the end of the stream ...")
            subprocess.run(
                [sys.executable, "-m", "dataflows.cli.flow"],
                env=env,
                cwd=PROJECT_ROOT,
                check=True,
                stderr=subprocess.DEVNULL,
            )
        return {
            "restarts": done,
            "hostile": summary["hostile"],
            **compare(folder / "lake", expected),
        }
    finally:
        if broker is not None:
            kafka_broker.stop(broker)
