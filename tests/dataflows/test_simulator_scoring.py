"""Scoring alerts against labels, on a hand-made lake, and `just evaluate simulator`."""

from __future__ import annotations

import json

from dataflows import lake
from dataflows.cli.evaluate import main
from dataflows.evaluation.simulator_scoring import score
from dataflows.lake.rows import Rows

H = 3_600_000
DAY0 = 1767571200000  # 2026-01-05 00:00 UTC


def alert(sensor: str, opened_h: float, closed_h: float, peak: float) -> tuple:
    opened = DAY0 + int(opened_h * H)
    return (
        f"{sensor}@{opened}",
        sensor,
        "noise",
        "anomaly",
        "laeq",
        opened,
        DAY0 + int(closed_h * H),
        peak,
        3,
        "SeasonalZScore",
        "minor",
        "v",
        None,
    )


def test_hand_made_matches(tmp_path):
    con = lake.connect(tmp_path)
    readings = [(s, DAY0 + h * H, "laeq", 1.0, 0.0, False) for s in "ab" for h in range(0, 73)]
    labels = [  # (sensor, kind, metric, start, end, event, district)
        ("a", "spike", None, DAY0 + 50 * H, DAY0 + 50 * H + 60_000, None, None),
        ("a", "drift", None, DAY0 + 60 * H, DAY0 + 64 * H, None, None),
        ("b", "spike", None, DAY0 + 55 * H, DAY0 + 55 * H + 60_000, None, None),
        ("b", "spike", None, DAY0 + 10 * H, DAY0 + 10 * H + 60_000, None, None),  # probation
    ]
    alerts = [
        alert("a", 50 + 1 / 60, 50.5, 0.99),  # spike found a minute late
        alert("a", 62, 63, 0.9),  # drift found two hours in
        alert("b", 70, 71, 0.95),  # nothing there: false
        alert("b", 10, 11, 0.99),  # in probation: not scored
    ]
    lake.write(con, Rows(readings=readings, labels=labels, alerts=alerts), tmp_path)
    con.close()
    figures = score(lake.connect(tmp_path, read_only=True), probation_hours=48, grace_s=600)
    assert figures["labels"] == 3 and figures["alerts"] == 3
    assert figures["precision"] == round(2 / 3, 4)
    spike, drift = figures["kinds"]["spike"], figures["kinds"]["drift"]
    assert (spike["labels"], spike["detected"], spike["recall"]) == (2, 1, 0.5)
    assert spike["median_delay_s"] == 60.0 and drift["median_delay_s"] == 7200.0
    # one false alert, blamed on kinds in proportion to their labels: 2/3 on spikes
    assert spike["precision"] == round(1 / (1 + 2 / 3), 4)
    assert drift["precision"] == round(1 / (1 + 1 / 3), 4) and drift["recall"] == 1.0
    assert figures["scored_days"] == 1.0 and figures["sensors"] == 2
    assert figures["false_alerts_per_sensor_day"] == 0.5
    assert figures["budget"] == 1 and figures["precision_at_budget"] == 1.0
    # a window that ends at hour 58: the drift and the false alert are left out
    window = score(
        lake.connect(tmp_path, read_only=True), probation_hours=48, grace_s=600, until_hours=58
    )
    assert window["labels"] == 2 and window["alerts"] == 1 and window["precision"] == 1.0
    assert window["scored_days"] == round(10 / 24, 2) and "drift" not in window["kinds"]


def test_just_evaluate_simulator_prints_reports_and_stores(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "lake"))
    argv = ["simulator", "--sensors", "30", "--hours", "12", "--json"]
    assert main([*argv, "--report", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr()
    figures = json.loads(out.out)
    assert figures["sensors"] == 30 and figures["labels"] > 0 and "spike" in figures["kinds"]
    assert "[evaluate] simulating 30 sensors" in out.err  # progress is shown
    assert "[evaluate] simulated [##############################] 12.0 of 12 h" in out.err
    (report,) = (tmp_path / "reports").glob("evaluate-simulator-*.html")
    text = report.read_text()
    assert "Simulator ground truth" in text and "plotly" in text and "<td>spike</td>" in text
    con = lake.connect(tmp_path / "lake", read_only=True)
    stored = dict(
        con.execute(
            "SELECT figure, value FROM evaluations WHERE dataset = 'simulator' "
            "AND scope = 'overall'"
        ).fetchall()
    )
    assert stored["labels"] == figures["labels"] and stored["precision"] == figures["precision"]
    # the first half after a shorter probation is scored apart: the cold start
    cold = figures["cold_start"]
    assert figures["probation_hours"] == 6 and cold["scored_days"] == round(4 / 24, 2)
    assert figures["scored_days"] == round(6 / 24, 2) and "<th>F1 cold start</th>" in text
    stored_cold = con.execute(
        "SELECT value FROM evaluations WHERE dataset = 'simulator' AND scope = 'cold_start' "
        "AND figure = 'labels'"
    ).fetchone()
    assert stored_cold == (cold["labels"],)


def test_detector_sweep_runs_every_candidate_and_restores_the_default(capsys):
    from dataflows.cli.sweep import main as sweep_main
    from dataflows.evaluation.sweep import CANDIDATES
    from online_models.anomaly import default_detector

    assert sweep_main(["--sensors", "20", "--hours", "6", "--seed", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["candidate"] for row in rows] == list(CANDIDATES)
    assert all(0 <= row["precision"] <= 1 and "spike" in row for row in rows)
    assert all("cold_start_precision" in row and "cold_start_worst_f1" in row for row in rows)
    assert type(default_detector("rhythmic").detectors[0]).__name__ == "ShiftCusum"
