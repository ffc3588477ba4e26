"""Rescaling from one recovery store: 1 worker, 2 workers, 2 processes, 1 worker again.

Bytewax 0.21 fixes the number of recovery partitions when the store is created, not the
number of workers: a store of two partitions resumes a flow of any shape. Each stage is
killed with SIGKILL (the harshest stop) and the next one resumes it, while a producer
keeps publishing; the lake must end with every reading once, scored exactly as an
uninterrupted run scores it (the models resumed warm).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from dataflows import lake
from tests.conftest import ROOT, city_env, free_port, kafka_env, run_flow, run_json

pytestmark = pytest.mark.kafka

FLOW = "dataflows.flow.city:build_flow()"


def produce(env: dict[str, str], start: str) -> dict:
    return run_json(
        "dataflows.cli.produce", {**env, "CITY_SOURCE": "simulator", "CITY_SIM_START": start}
    )


def wait_for_rows(path, until: int, processes, stage: str, logs, quiet_s: float = 120) -> None:
    """Wait until the lake holds `until` readings; fail when it stops growing for `quiet_s`.

    A slow machine only takes longer; a stage that lost readings stalls below `until`.
    """
    rows, last_change = -1, time.monotonic()
    while rows < until:
        now_rows = lake.count_rows(path)
        if now_rows != rows:
            rows, last_change = now_rows, time.monotonic()
        quiet = time.monotonic() - last_change
        alive = all(p.poll() is None for p in processes)
        if not alive or quiet > quiet_s:
            tails = "\n".join(log.read_text()[-3000:] for log in logs)
            why = "died" if not alive else f"stalled for {quiet:.0f} s"
            pytest.fail(f"{stage} {why} at {rows}/{until} readings:\n{tails}")
        time.sleep(0.2)


def test_rescaled_stages_store_every_reading_once_with_warm_models(kafka, tmp_path):
    env = kafka_env(
        kafka,
        tmp_path,
        "rescale.readings",
        CITY_SIM_FAULT_RATE="0",
        CITY_SIM_HOURS="6",
        CITY_SINK_PARTITIONS="2",
        CITY_METRICS_PORT="0",
        CITY_KAFKA_STOP_AT_END="false",  # streaming: each stage is stopped, never ends
    )
    first = produce(env, "2026-01-05T00:00:00Z")
    store = tmp_path / "recovery"
    store.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(store), "2"], check=True)
    recovery = ["-r", str(store), "-s", "1", "-b", "0"]
    later: dict = {}
    producer = threading.Thread(
        target=lambda: later.update(produce(env, "2026-01-05T06:00:00Z")), daemon=True
    )
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    stages = [
        [["-w", "1"]],
        [["-w", "2"]],
        [["-i", "0", "-a", addresses], ["-i", "1", "-a", addresses]],
        [["-w", "1"]],
    ]
    for number, shape in enumerate(stages):
        logs = [tmp_path / f"stage-{number}-{i}.log" for i in range(len(shape))]
        at_start = lake.count_rows(tmp_path / "lake") if number else 0
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bytewax.run", FLOW, *args, *recovery],
                env=env,
                cwd=ROOT,
                stderr=log.open("w"),
            )
            for args, log in zip(shape, logs, strict=True)
        ]
        try:
            if number == 1:
                producer.start()  # the producer publishes while the flow is rescaled
            if number == 3:
                producer.join(timeout=600)
                assert not producer.is_alive(), "the producer did not finish"
            total = first["readings"] + later.get("readings", 0)
            # every stage stores readings of its own, however far the one before went
            share = max(first["readings"] * (number + 1) // 3, at_start + 500)
            until = total if number == 3 else share
            wait_for_rows(tmp_path / "lake", until, processes, f"stage {number}", logs)
        finally:
            for process in processes:
                process.send_signal(signal.SIGKILL)
                process.wait()
    kafka_settings = {k: v for k, v in env.items() if k.startswith("CITY_KAFKA")}
    reference_env = city_env(
        tmp_path / "reference",
        **{**kafka_settings, "CITY_KAFKA_STOP_AT_END": "true"},
        CITY_SOURCE="kafka",
        CITY_METRICS_PORT="0",
    )
    run_flow(reference_env)
    con = lake.connect(tmp_path / "lake", read_only=True)
    ref = lake.connect(tmp_path / "reference", read_only=True)
    count = "SELECT count(*), count(DISTINCT (sensor_id, ts, metric)) FROM readings"
    assert con.sql(count).fetchone() == (total, total) == ref.sql(count).fetchone()
    # no reading was taken for a duplicate: state resumed from the right epoch every time
    # (`dataflows.flow.stale_snapshots`), so even the readings already stored were not
    assert con.sql("SELECT reason, count(*) FROM dead_letters GROUP BY 1").fetchall() == []
    scores = (
        "SELECT sensor_id, epoch_ms(ts), metric, value, round(score, 9), is_anomaly "
        "FROM readings ORDER BY ALL"
    )
    assert con.sql(scores).fetchall() == ref.sql(scores).fetchall()
