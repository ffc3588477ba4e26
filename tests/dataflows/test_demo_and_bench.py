"""`just demo` starts the flow and the dashboard and stops both on Ctrl-C; `just bench` runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

from dataflows import lake
from online_models.anomaly import DETECTORS
from tests.conftest import ROOT, city_env
from tests.dashboard.test_browser import free_port


def test_demo_prints_the_url_serves_it_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    env = city_env(tmp_path / "lake", CITY_DASHBOARD_PORT=str(port), CITY_SIM_HOURS="2")
    env.pop("CITY_SIM_START")
    demo = subprocess.Popen(
        [sys.executable, "-m", "dataflows.cli.demo"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        lines.append(line)
        if f"Dashboard: {url}" in line:
            break
    assert any(url in line for line in lines), "".join(lines)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
    while time.monotonic() < deadline:  # the flow writes the backfilled day into the lake
        if lake.count_rows(tmp_path / "lake") > 0:
            break
        time.sleep(0.5)
    demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    assert "stopped." in out
    time.sleep(0.5)
    try:
        urllib.request.urlopen(url, timeout=2)
        raise AssertionError("the dashboard still answers after Ctrl-C")
    except OSError:
        pass


def test_bench_prints_its_figures_as_one_json_object():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataflows.cli.bench",
            "--json",
            "--sensors",
            "20",
            "--hours",
            "1",
            "--cap-devices",
            "2",
            "--cap-rows",
            "600",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["flow_readings"] > 1000
    assert figures["flow_readings_per_s"] > 0 and figures["bare_readings_per_s"] > 0
    assert (
        figures["ratio_flow_to_bare"]
        == round(figures["flow_readings_per_s"] / figures["bare_readings_per_s"], 3)
        or abs(
            figures["ratio_flow_to_bare"]
            - figures["flow_readings_per_s"] / figures["bare_readings_per_s"]
        )
        < 0.01
    )
    assert figures["peak_rss_mb"] > 0
    costs = figures["detector_cost_us"]
    assert {
        "default (rhythmic)",
        "default (recorded)",
        "DeviceDistance (per device reading)",
        "ChangePoint",
    } <= set(costs)
    assert "RemainingLife (per asset reading)" in costs
    assert all(cost > 0 for cost in costs.values())
    assert set(DETECTORS) <= set(costs)  # every detector of the registry is costed
    assert figures["cap_readings"] == 2 * 600 * 64
    assert figures["cap_rss_second_to_first_half"] > 0
    assert figures["hostile_completed"] and figures["clean_completed"]
    assert figures["hostile_hostile_messages"] > 0
    assert figures["hostile_readings_stored"] == figures["clean_readings_stored"] > 0
    assert "[bench]" in result.stderr  # progress is shown
