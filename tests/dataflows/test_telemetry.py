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
    _, stderr = flow.communicate(timeout=300)
    assert flow.returncode == 0, stderr[-3000:]
    con = lake.connect(tmp_path / "lake", read_only=True)
    stored = con.sql("SELECT count(*) FROM readings").fetchone()[0]
    counted, samples = con.sql(
        "SELECT sum(value), count(*) FROM flow_metrics WHERE metric = 'readings'"
    ).fetchone()
    con.close()
    assert samples >= 5 and counted == stored  # the windows add up to every reading
    # the System page draws them
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "lake"))
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "system.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert set(shown) >= {"Readings/s (all partitions)", "Lake size"}
    assert len(at.get("plotly_chart")) >= 4
