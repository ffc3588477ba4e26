"""`just evaluate gecco`: the GECCO 2018 protocol on the first 19,000 rows of the station."""

from __future__ import annotations

import json

import duckdb

from dataflows.cli.evaluate import main
from dataflows.evaluation.gecco import DEFAULT_GECCO, WARMUP_SHARE
from tests.conftest import require_shared_data

ROWS = 19_000
"""The first labelled event starts at row 16,266: eight events, all in the scored half."""


def test_gecco_protocol_scores_the_second_half_and_writes_a_report(tmp_path, capsys):
    require_shared_data(DEFAULT_GECCO)
    part = tmp_path / "gecco" / "train.csv"
    part.parent.mkdir()
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv(?, header = true) LIMIT {ROWS}) TO '{part}' (HEADER)",
        [str(DEFAULT_GECCO / "train.csv")],
    )
    reports = tmp_path / "reports"
    assert main(["gecco", str(part.parent), "--json", "--report", str(reports), "--no-store"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rows"] == ROWS
    assert figures["warmup_rows"] == int(ROWS * WARMUP_SHARE)
    assert figures["scored_rows"] == ROWS - figures["warmup_rows"]
    assert figures["events"] == 8 and 0 <= figures["detected"] <= 8
    # no event in the warm-up: no threshold can be tuned there, and none is claimed
    assert figures["tuned_threshold"] is None and figures["tuned_f1"] == 0.0
    for name in ("f1", "precision", "recall", "oracle_f1", "flagged_share"):
        assert 0.0 <= figures[name] <= 1.0, name
    assert figures["false_alarms_per_day"] is not None
    (report,) = reports.glob("evaluate-gecco-*.html")
    assert "GECCO 2018" in report.read_text()


def test_gecco_sweep_shows_each_detector_with_and_without_the_device_detector(tmp_path, capsys):
    from dataflows.cli.sweep import main as sweep_main
    from dataflows.evaluation.sweep import CANDIDATES

    require_shared_data(DEFAULT_GECCO)
    part = tmp_path / "train.csv"
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv(?, header = true) LIMIT 3000) TO '{part}' (HEADER)",
        [str(DEFAULT_GECCO / "train.csv")],
    )
    assert sweep_main(["gecco", str(part), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * len(CANDIDATES) + 1
    assert {row["candidate"] for row in rows if not row["device_distance"]} == set(CANDIDATES)
    for row in rows:
        assert 0.0 <= row["flagged_share"] <= 1.0 and row["false_alarms_per_day"] is not None
