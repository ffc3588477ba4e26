"""The flow's own metrics: sampled into `flow_metrics`, served to Prometheus, shown on a page."""

from __future__ import annotations

import time
import urllib.request

from streamlit.testing.v1 import AppTest

from dataflows import lake
from dataflows.lake.rows import Rows
from dataflows.lake.tables import ReadingRow
from dataflows.telemetry.meter import SinkMeter
from tests.conftest import ROOT, city_env, free_port, start_flow


def test_the_meters_rates_are_its_counts_over_its_windows():
    meter = SinkMeter("lake-3", started_ms=1_000)
    batch = Rows(readings=[ReadingRow("s", 500 + i, "m", 1.0, 0.0, False) for i in range(40)])
    meter.committed(batch, seconds=0.25, at_ms=2_000)
    meter.committed(batch, seconds=0.75, at_ms=3_000)
    first = {m: v for _, scope, m, v in meter.sample(5_000) if scope == "lake-3"}
    assert first["readings"] == 80 and first["readings_per_s"] == 20.0  # 80 in 4 s
    assert first["commit_s"] == 0.5 and first["last_commit_age_s"] == 2.0
    assert first["event_lag_s"] == (5_000 - 539) / 1000
    second = {m: v for _, _, m, v in meter.sample(7_000)}  # idle since
    assert second["readings"] == 0 and "commit_s" not in second
    assert second["last_commit_age_s"] == 4.0


STEPS = ("validate", "decode", "sensors", "maintenance", "districts", "lake")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_a_flow_samples_its_metrics_into_the_lake_and_serves_them(tmp_path, monkeypatch):
    port = free_port()
    env = city_env(
        tmp_path / "lake",
        CITY_SIM_HOURS="2",
        CITY_SIM_SPEEDUP="600",  # two simulated hours in about twelve seconds
        CITY_METRICS_EVERY_S="0.5",
        CITY_METRICS_PORT=str(port),
    )
    flow = start_flow(env)
    served = ""
    deadline = time.monotonic() + 120
    while 'city_flow_readings_per_s{scope="lake-0"}' not in served:
        assert flow.poll() is None, flow.stderr.read()[-3000:]
        assert time.monotonic() < deadline, served
        time.sleep(0.3)
        try:
            served = scrape(port)
        except OSError:
            continue
    assert 'city_flow_lake_bytes{scope="lake"}' in served
    assert "# TYPE city_flow_last_commit_age_seconds gauge" in served
    assert 'city_flow_busy_cores{scope="step:sensors@p0"}' in served
    _, stderr = flow.communicate(timeout=300)
    assert flow.returncode == 0, stderr[-3000:]
    assert "flow metrics not written" not in stderr, stderr[-3000:]
    con = lake.connect(tmp_path / "lake", read_only=True)
    stored = con.sql("SELECT count(*) FROM readings").fetchone()[0]
    counted, samples = con.sql(
        "SELECT sum(value), count(*) FROM flow_metrics WHERE metric = 'readings'"
    ).fetchone()
    # per source partition: the records it read, which are every record the lake marked
    read = dict(
        con.sql(
            "SELECT substr(scope, 8), sum(value) FROM flow_metrics "
            "WHERE metric = 'items' AND starts_with(scope, 'source:') GROUP BY 1"
        ).fetchall()
    )
    marked = dict(
        con.sql(
            "SELECT source_partition, max(max_offset) + 1 FROM sink_progress GROUP BY 1"
        ).fetchall()
    )
    # per step: what it was given, and the cores it kept busy
    steps = {
        scope: (items, busy)
        for scope, items, busy in con.sql(
            "SELECT scope, sum(value) FILTER (metric = 'items'), "
            "max(value) FILTER (metric = 'busy_cores') FROM flow_metrics "
            "WHERE starts_with(scope, 'step:') GROUP BY 1"
        ).fetchall()
    }
    # per source partition, dead letters of the minute before the last sample (in the lake,
    # once the flow stopped): the whole run is shorter than a minute, so all of them
    dead_last = dict(
        con.sql(
            "SELECT substr(scope, 8), arg_max(value, ts) FROM flow_metrics "
            "WHERE metric = 'dead_letters_per_min' AND starts_with(scope, 'source:') GROUP BY 1"
        ).fetchall()
    )
    dead_stored = dict(
        con.sql(
            "SELECT regexp_extract(position, '^(.+)/[0-9]+$', 1), count(*) FROM dead_letters "
            "WHERE position IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    sensor_messages = con.sql("SELECT count(DISTINCT (sensor_id, ts)) FROM readings").fetchone()[0]
    con.close()
    assert samples >= 5 and counted == stored  # the windows add up to every reading
    assert len(read) == 4 and read == marked, (read, marked)  # CITY_SIM_PARTITIONS: 4
    assert dead_stored and dead_last == dead_stored, (dead_last, dead_stored)
    # (no assets in this city: the maintenance step is never called, nor perhaps districts')
    assert {"step:validate@p0", "step:sensors@p0", "step:lake@p0"} <= set(steps), steps
    assert set(steps) <= {f"step:{name}@p0" for name in STEPS}, steps
    assert steps["step:validate@p0"][0] == sum(read.values())  # every record, validated once
    assert steps["step:sensors@p0"][0] >= sensor_messages  # and duplicates, late ones
    for name in ("validate", "sensors", "lake"):
        assert steps[f"step:{name}@p0"][1] > 0, steps  # their code took time
    # the System page draws them
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "lake"))
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "system.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert set(shown) >= {"Readings/s (all partitions)", "Lake size"}
    assert shown["Kafka lag (records)"] == "–"  # not a Kafka flow: no lag, not a lag of 0
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    for title in ("per source partition", "Cores each step keeps busy", "into each step"):
        assert any(title in spec for spec in charts), title
    (steps,) = [f.value for f in at.dataframe if "step@process" in f.value.columns]
    assert {"sensors@p0", "validate@p0", "lake@p0"} <= set(steps["step@process"])
    assert (steps["busy_cores"] >= 0).all()
