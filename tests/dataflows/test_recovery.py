"""`just flow` runs with recovery: after kill -9 it resumes, warm, exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from dataflows import lake
from tests.conftest import ROOT, city_env


def test_killed_simulator_flow_resumes_with_warm_models_and_no_duplicates(tmp_path):
    env = city_env(tmp_path / "lake", CITY_SIM_HOURS="36", CITY_SNAPSHOT_S="1")
    reference_env = city_env(tmp_path / "reference", CITY_SIM_HOURS="36", CITY_RECOVERY="false")
    flow = subprocess.Popen(
        [sys.executable, "-m", "dataflows.cli.flow"], env=env, cwd=ROOT, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while lake.count_rows(tmp_path / "lake") < 30_000:
        assert time.monotonic() < deadline and flow.poll() is None
        time.sleep(0.2)
    flow.send_signal(signal.SIGKILL)
    flow.wait()
    assert list((tmp_path / "lake-recovery").glob("simulator-*/part-0.sqlite3"))
    subprocess.run([sys.executable, "-m", "dataflows.cli.flow"], env=env, cwd=ROOT, check=True)
    subprocess.run(
        [sys.executable, "-m", "dataflows.cli.flow"], env=reference_env, cwd=ROOT, check=True
    )
    con = lake.connect(tmp_path / "lake", read_only=True)
    ref = lake.connect(tmp_path / "reference", read_only=True)
    query = "SELECT sensor_id, epoch_ms(ts), metric, value FROM readings ORDER BY ALL"
    assert con.sql(query).fetchall() == ref.sql(query).fetchall()
    # no cold start after the restart: scores and flags are those of an uninterrupted run
    scores = "SELECT sensor_id, epoch_ms(ts), metric, round(score, 9), is_anomaly FROM readings"
    assert (
        con.sql(scores + " ORDER BY ALL").fetchall() == ref.sql(scores + " ORDER BY ALL").fetchall()
    )
    alerts = "SELECT alert_id, closed_at FROM alerts ORDER BY ALL"
    assert con.sql(alerts).fetchall() == ref.sql(alerts).fetchall()


def test_killed_flow_resumes_maintenance_models_exactly_once(tmp_path):
    fleet = {
        "CITY_SIM_SENSORS": "0",
        "CITY_SIM_ASSETS": "30",
        "CITY_SIM_HOURS": "1440",
        "CITY_RETENTION_READINGS_DAYS": "0",
    }
    env = city_env(tmp_path / "lake", CITY_SNAPSHOT_S="1", **fleet)
    reference_env = city_env(tmp_path / "reference", CITY_RECOVERY="false", **fleet)
    flow = subprocess.Popen(
        [sys.executable, "-m", "dataflows.cli.flow"], env=env, cwd=ROOT, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while lake.count_rows(tmp_path / "lake", "maintenance_predictions") < 3_000:
        assert time.monotonic() < deadline and flow.poll() is None
        time.sleep(0.2)
    flow.send_signal(signal.SIGKILL)
    flow.wait()
    subprocess.run([sys.executable, "-m", "dataflows.cli.flow"], env=env, cwd=ROOT, check=True)
    subprocess.run(
        [sys.executable, "-m", "dataflows.cli.flow"], env=reference_env, cwd=ROOT, check=True
    )
    con = lake.connect(tmp_path / "lake", read_only=True)
    ref = lake.connect(tmp_path / "reference", read_only=True)
    for query in (
        "SELECT sensor_id, epoch_ms(ts), metric, value FROM readings",
        "SELECT asset_id, epoch_ms(ts), round(rul, 6), round(rul_low, 6), round(rul_high, 6),"
        " round(failure_prob, 6), model FROM maintenance_predictions",
        "SELECT epoch_ms(ts), asset_type, asset_id, kind, detail FROM maintenance_events",
        "SELECT model, epoch_ms(ts), labelled, round(mae, 6), censored FROM model_metrics",
        "SELECT asset_id, epoch_ms(from_ts), epoch_ms(failure_ts) FROM asset_truth",
        "SELECT alert_id, closed_at, round(peak_score, 6) FROM alerts",
    ):
        # the models resumed warm: the same predictions, events and alerts, each once
        assert (
            con.sql(query + " ORDER BY ALL").fetchall()
            == ref.sql(query + " ORDER BY ALL").fetchall()
        ), query
    assert con.sql("SELECT count(*) FROM maintenance_predictions").fetchone()[0] > 10_000
