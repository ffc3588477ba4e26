"""`just evaluate skab`: the SKAB protocols on a few real SKAB files."""

from __future__ import annotations

import json

import duckdb

from dataflows.evaluation.skab import TRAINING_ROWS, evaluate_skab
from tests.conftest import require_shared_data
from tests.dataflows.test_replay import SKAB


def test_skab_protocols_on_three_files(tmp_path):
    require_shared_data(SKAB)
    root = tmp_path / "skab"
    (root / "valve1").mkdir(parents=True)
    for name in ["0.csv", "1.csv", "2.csv"]:
        (root / "valve1" / name).symlink_to(SKAB / "valve1" / name)
    (root / "anomaly-free").mkdir()  # never scored
    (root / "anomaly-free" / "anomaly-free.csv").symlink_to(
        SKAB / "anomaly-free" / "anomaly-free.csv"
    )
    figures = evaluate_skab(root, progress=False)
    rows = duckdb.sql(f"SELECT count(*) FROM read_csv('{root}/valve1/*.csv')").fetchone()[0]
    assert figures["files"] == 3
    assert figures["test_rows"] == rows - 3 * TRAINING_ROWS
    # the device detector finds these valve closures, the second best (valve1/2 is missed:
    # its levels follow the anomaly; 3 files give FAR 6 %, MAR 57 %, NAB 25.5): far from a
    # detector that never fires, or always does
    assert 0.5 < figures["f1"] <= 1
    assert figures["far_percent"] < 50 and figures["mar_percent"] < 70
    assert 10 < figures["nab_standard"] <= 100
    nab = figures["nab"]
    assert set(nab) == {"standard", "reward_low_fp", "reward_low_fn"}
    assert nab["standard"]["every_change_point"] == figures["nab_standard"]
    for profile in nab.values():  # tuning the threshold over the corpus can only help
        assert profile["tuned"] >= profile["every_change_point"]


def test_skab_sweep_shows_each_detector_with_and_without_the_device_detector(tmp_path, capsys):
    from dataflows.cli.sweep import main as sweep_main
    from dataflows.evaluation.sweep import CANDIDATES
    from online_models.anomaly import device_detector

    require_shared_data(SKAB)
    root = tmp_path / "skab"
    (root / "valve1").mkdir(parents=True)
    (root / "valve1" / "1.csv").symlink_to(SKAB / "valve1" / "1.csv")
    assert sweep_main(["skab", str(root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * len(CANDIDATES) + 1
    deployed = {row["candidate"]: row for row in rows if row["device_distance"]}
    alone = {row["candidate"]: row for row in rows if not row["device_distance"]}
    assert set(alone) == set(CANDIDATES) and set(deployed) == {*CANDIDATES, rows[-1]["candidate"]}
    default = next(iter(CANDIDATES))
    # on its own the per-metric detector finds fewer anomalous rows than beside the device's
    assert alone[default]["mar_percent"] > deployed[default]["mar_percent"]
    assert device_detector("recorded", 8) is not None  # the default plan is untouched
