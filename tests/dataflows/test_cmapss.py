"""`just evaluate cmapss`: the C-MAPSS protocol on hand-made engines and on FD001 itself."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dataflows import lake
from dataflows.evaluation.cmapss import evaluate_cmapss, read_engines
from tests.conftest import ROOT, city_env, require_shared_data, run_json

CMAPSS = ROOT.parent / "shared" / "data" / "cmapss"


def _write_engines(path: Path, lives: list[int], cut: list[int] | None = None) -> None:
    """Engines in C-MAPSS layout whose sensor 2 rises linearly with wear (plus noise)."""
    rng = random.Random(len(lives))
    lines = []
    for unit, life in enumerate(lives, 1):
        for cycle in range(1, (cut[unit - 1] if cut else life) + 1):
            wear = cycle / life
            sensors = [100.0] * 21
            sensors[1] = 640 + 5 * wear + rng.gauss(0, 0.1)
            sensors[6] = 550 - 3 * wear + rng.gauss(0, 0.1)
            settings = [rng.gauss(0, 0.001), 0.0, 100.0]
            lines.append(" ".join(map(str, [unit, cycle, *settings, *sensors])))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def small_cmapss(tmp_path: Path) -> Path:
    rng = random.Random(7)
    root = tmp_path / "cmapss"
    root.mkdir()
    _write_engines(root / "train_FD001.txt", [rng.randint(150, 300) for _ in range(30)])
    lives = [rng.randint(150, 300) for _ in range(10)]
    cuts = [rng.randint(life // 3, life - 5) for life in lives]
    _write_engines(root / "test_FD001.txt", lives, cuts)
    truth = [life - cut for life, cut in zip(lives, cuts, strict=True)]
    (root / "RUL_FD001.txt").write_text("\n".join(map(str, truth)) + "\n")
    return root


def test_evaluate_cmapss_command_scores_reports_and_stores(small_cmapss, tmp_path):
    lake_path = tmp_path / "lake"
    env = city_env(lake_path)
    figures = run_json(
        "dataflows.cli.evaluate", env, "cmapss", str(small_cmapss), "--report", str(tmp_path / "r")
    )
    assert figures["train_engines"] == 30 and figures["test_engines"] == 10
    assert figures["training_prequential"]["labelled"] > 1000
    # wear is plain in sensor 2: a working model is within a few cycles of the capped truth
    assert figures["rmse"] < 15, figures
    assert len(figures["predictions"]) == 10
    assert list((tmp_path / "r").glob("evaluate-cmapss-*.html"))
    con = lake.connect(lake_path, read_only=True)
    stored = con.execute(
        "SELECT value FROM evaluations WHERE dataset = 'cmapss' AND scope = 'overall' "
        "AND figure = 'rmse'"
    ).fetchall()
    con.close()
    assert stored == [(figures["rmse"],)]


def test_engines_can_age_together(small_cmapss):
    together = evaluate_cmapss(small_cmapss, start_every=0, progress=False)
    apart = evaluate_cmapss(small_cmapss, progress=False)
    # the same engines are learnt in the end, in another order, with other prequential errors
    assert together["training_prequential"] != apart["training_prequential"]
    assert together["rmse"] < 15


def test_a_file_not_in_cmapss_layout_is_refused(tmp_path):
    (tmp_path / "train_FD001.txt").write_text("1 1 0.5\n")
    with pytest.raises(ValueError, match="26 columns"):
        read_engines(tmp_path / "train_FD001.txt")


def test_fd001_rmse_stays_below_the_published_lstm():
    """A quality guard, not a benchmark: 12.28 when written (`just evaluate cmapss`)."""
    require_shared_data(CMAPSS)
    figures = evaluate_cmapss(CMAPSS, progress=False)
    assert figures["train_engines"] == 100 and figures["test_engines"] == 100
    assert figures["rmse"] < 16.14
    assert figures["score"] < 500
    assert 0.75 < figures["interval_coverage"] <= 1
