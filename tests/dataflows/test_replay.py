"""`just replay`: recorded CSV/Parquet files through the city flow, in event-time order."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dataflows import lake
from tests.conftest import ROOT, city_env, require_shared_data, run_json

SKAB = ROOT.parent / "shared" / "data" / "skab"


def write_recordings(folder: Path) -> None:
    (folder / "pumps").mkdir(parents=True)
    lines = ["datetime;vibration;current;anomaly"]
    for i in range(600):
        spike = i in range(400, 410)
        vibration = 0.05 + 0.001 * (i % 7) + (1.0 if spike else 0.0)
        stamp = f"2024-05-01 10:{i // 60:02d}:{i % 60:02d}"
        lines.append(f"{stamp};{vibration};{1.3 + 0.01 * (i % 3)};{int(spike)}")
    (folder / "pumps" / "a.csv").write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT TIMESTAMP '2024-05-01 09:55:00' + to_seconds(range * 2) AS time, "
        f"10.0 + (range % 5) AS level FROM range(400)) TO '{folder / 'tank.parquet'}'"
    )


def replay(env: dict[str, str], *args: str) -> dict:
    return run_json("dataflows.cli.replay", env, *args)


def test_csv_and_parquet_are_replayed_with_labels_kept_from_the_models(tmp_path):
    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    env = city_env(tmp_path / "lake")
    summary = replay(env, str(recordings), "--labels", "anomaly")
    assert summary == {**summary, "files": 2, "readings": 600 * 2 + 400, "labels": 1}
    con = lake.connect(tmp_path / "lake", read_only=True)
    metrics = dict(
        con.sql(
            "SELECT sensor_id, list(DISTINCT metric ORDER BY metric) FROM readings GROUP BY 1"
        ).fetchall()
    )
    assert metrics == {"pumps/a": ["current", "vibration"], "tank": ["level"]}
    label = con.sql("SELECT sensor_id, kind, start_ts, end_ts FROM labels").fetchone()
    assert label[:2] == ("pumps/a", "anomaly")
    assert (label[3] - label[2]).total_seconds() == 9
    # every replayed reading is scored; the spike scores far above the normal readings
    spike, normal = con.sql(
        "SELECT max(score) FILTER (WHERE ts BETWEEN ? AND ?), "
        "quantile_cont(score, 0.5) FILTER (WHERE ts < ?) FROM readings WHERE metric = 'vibration'",
        params=[label[2], label[3], label[2]],
    ).fetchone()
    assert spike > 0.9 and normal < 0.5
    assert con.sql("SELECT count(*) FROM readings WHERE score IS NULL").fetchone()[0] == 0


def test_a_glob_and_explicit_columns(tmp_path):
    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    env = city_env(tmp_path / "lake")
    summary = replay(env, str(recordings / "pumps" / "*.csv"), "--values", "current")
    assert summary["readings"] == 600 and summary["labels"] == 0
    con = lake.connect(tmp_path / "lake", read_only=True)
    assert con.sql("SELECT DISTINCT sensor_id, metric FROM readings").fetchall() == [
        ("a", "current")
    ]


def test_skab_replays_every_row_of_every_file(tmp_path):
    require_shared_data(SKAB)
    env = city_env(tmp_path / "lake")
    summary = replay(env, str(SKAB / "valve1"), "--labels", "anomaly,changepoint")
    rows = duckdb.sql(f"SELECT count(*) FROM read_csv('{SKAB / 'valve1'}/*.csv')").fetchone()[0]
    assert summary["files"] == 16 and summary["readings"] == rows * 8
    assert summary["labels"] > 0
