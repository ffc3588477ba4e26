"""`just demo` starts the flow and the dashboard and stops both on Ctrl-C; `just bench` runs."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import psutil

from dataflows import lake
from online_models.anomaly import DETECTORS
from tests.conftest import ROOT, city_env
from tests.dashboard.test_browser import free_port


def test_just_demo_serves_the_dashboard_shows_the_backfill_and_stops_on_ctrl_c_with_one_line(
    tmp_path,
):
    port = free_port()
    # two hours of backfill at full speed, then real time until Ctrl-C, as `just demo` does
    env = city_env(tmp_path / "lake", CITY_DASHBOARD_PORT=str(port), CITY_SIM_SPEEDUP="1",
                   CITY_SIM_BACKFILL_HOURS="2")  # fmt: skip
    env.pop("CITY_SIM_START")
    env.pop("CITY_SIM_HOURS")
    just = shutil.which("just")
    assert just is not None, "the README's `just` is not on PATH"
    # in a terminal of its own, as a user types it: Ctrl-C there signals the foreground group
    pid, terminal = pty.fork()
    if pid == 0:  # the child: `just demo` in the repository, the pty its controlling terminal
        try:
            os.chdir(ROOT)
            os.execve(just, [just, "demo"], env)
        finally:
            os._exit(127)
    url = f"http://127.0.0.1:{port}"
    seen = b""

    def read(timeout_s: float) -> bool:
        """Read what the terminal shows for up to `timeout_s`; False once it has closed."""
        nonlocal seen
        if select.select([terminal], [], [], timeout_s)[0]:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: every process on the terminal has ended
                return False
            seen += chunk
            return bool(chunk)
        return True

    try:
        deadline = time.monotonic() + 180
        while b"; now live" not in seen:  # the backfill's progress, to its end
            assert time.monotonic() < deadline and read(1.0), seen.decode(errors="replace")
        text = seen.decode()
        assert f"Dashboard: {url}" in text, text
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        assert "[demo] backfill [" in text
        assert lake.count_rows(tmp_path / "lake") > 0  # the backfill shown is in the lake
        os.write(terminal, b"\x03")  # Ctrl-C, typed
        deadline = time.monotonic() + 60
        while read(1.0):
            assert time.monotonic() < deadline, seen.decode(errors="replace")
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):  # a failed test: all of it, at once
            for child in psutil.Process(pid).children(recursive=True):
                child.kill()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    out = seen.decode().replace("\r\n", "\n")
    assert os.waitstatus_to_exitcode(status) == 0, out
    # after Ctrl-C: one line, finished when both have stopped, no trace of either process, and
    # nothing from `just` (which Ctrl-C no longer reaches)
    assert out.endswith("\nstopping the flow and the dashboard ... stopped.\n"), out
    for trace in ("Traceback", "panicked", "KeyboardInterrupt", "RUST_BACKTRACE", "error"):
        assert trace not in out, out
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


def test_the_scaling_bench_runs_every_shape_on_both_flows_and_both_lakes(kafka):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataflows.cli.bench",
            "--scaling",
            "--json",
            "--sensors",
            "20",
            "--hours",
            "2",
            "--rounds",
            "2",
            "--kafka-bootstrap",
            kafka.bootstrap,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "[bench] scaling: the kafka flow, PostgreSQL + S3 lake, 2 processes" in result.stderr
    assert "2 flows apart (round 2 of 2) ..." in result.stderr  # every shape, in turn, twice
    figures = json.loads(result.stdout)
    for source in ("simulator", "kafka"):
        for where in ("", "server_lake_"):  # the SQLite lake, then one on temporary servers
            assert figures[f"scaling_{source}_{where}1_worker_ratio"] == 1.0
            for shape in ("1_worker", "2_workers", "2_processes", "2_flows_apart"):
                assert figures[f"scaling_{source}_{where}{shape}_readings_per_s"] > 0
                assert 0 < figures[f"scaling_{source}_{where}{shape}_cores"] <= os.cpu_count()
            # each process handled some of the sensors, the busier at least half of them
            assert 0.5 <= figures[f"scaling_{source}_{where}2_processes_busier_share"] < 1
    for size in (20, 400, 10_000):  # the measured size, and the hash's split at others
        assert 0.5 <= figures[f"scaling_placement_{size}_sensors_busier_share"] <= 1
