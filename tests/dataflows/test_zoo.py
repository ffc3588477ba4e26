"""`just evaluate zoo`: the signal zoo through the city flow, scored per shape."""

from __future__ import annotations

import json

import pytest

from dataflows.cli.evaluate import main
from dataflows.evaluation.zoo import evaluate_zoo
from online_models.evaluation.zoo import ANOMALIES, applies


def test_zoo_evaluation_prints_every_shape_and_writes_a_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "dataflows.cli.evaluate.evaluate_zoo",
        lambda seed, **options: evaluate_zoo(
            seed, False, shapes=("constant", "square_wave"), **options
        ),
    )
    reports = tmp_path / "reports"
    assert main(["zoo", "--seed", "3", "--json", "--report", str(reports), "--no-store"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["shapes"]) == {"constant", "square_wave"}
    for shape, f in figures["shapes"].items():
        anomalies = sum(applies(shape, anomaly) for anomaly in ANOMALIES)
        assert f["streams"] == 1 + anomalies and f["anomalies"] == anomalies
        assert 0 <= f["detected"] <= anomalies and f["normal_readings"] > 0
    (report,) = reports.glob("evaluate-zoo-*.html")
    assert "Signal zoo" in report.read_text() and "constant-level_shift" in report.read_text()


def test_zoo_over_several_seeds_keeps_the_worst_and_can_score_from_an_earlier_day(
    tmp_path, capsys, monkeypatch
):
    import dataflows.evaluation.zoo as zoo_evaluation

    shapes = ("constant", "discrete_levels")
    one_seed = zoo_evaluation.evaluate_zoo
    monkeypatch.setattr(
        zoo_evaluation,
        "evaluate_zoo",
        lambda seed, progress, **options: one_seed(seed, False, shapes=shapes, **options),
    )
    reports = tmp_path / "reports"
    args = ["zoo", "--seeds", "1-2", "--scored-from", "2", "--step", "1800", "--days", "12"]
    assert main([*args, "--json", "--report", str(reports), "--no-store"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert list(figures["seeds"]) == ["seed 1", "seed 2"] and figures["scored_from_days"] == 2
    assert (figures["step_s"], figures["days"]) == (1800, 12)
    worst = max(figures["seeds"].values(), key=lambda f: f["worst_normal_high_share"])
    assert figures["worst_normal_high_share"] == worst["worst_normal_high_share"]
    assert figures["worst"].endswith(worst["worst_shape"]) and worst["worst_shape"] in shapes
    assert figures["anomalies"] == sum(f["anomalies"] for f in figures["seeds"].values()) > 0
    assert figures["nab_standard_min"] <= figures["nab_standard_mean"]
    (report,) = reports.glob("evaluate-zoo-seeds-*.html")
    assert "seed 2" in report.read_text()
    # scored from day 2, the normal readings of days 2 to 7 count too
    early = one_seed(1, progress=False, shapes=("constant",), scored_from_days=2)
    usual = one_seed(1, progress=False, shapes=("constant",))
    assert early["normal_readings"] > usual["normal_readings"] + 5 * 288
    # a meter read once an hour: every stream has its 24 readings a day, nothing more
    hourly = one_seed(1, progress=False, shapes=("constant",), step_s=3600, days=12)
    assert hourly["readings"] == hourly["streams"] * 12 * 24
    with pytest.raises(SystemExit):
        main(["zoo", "--seeds", "one-two", "--no-store"])
    for bad in (["--step", "30000"], ["--step", "0"], ["--days", "5"]):  # a line, no traceback
        with pytest.raises(SystemExit) as refused:
            main(["zoo", *bad, "--no-store"])
        assert refused.value.code == 2 and "--step 1 to 21600 s" in capsys.readouterr().err


def test_the_default_keeps_high_scores_rare_where_it_used_to_saturate():
    # a constant stream, a trend and a random walk: before the calibrated recorded default
    # 42 %, 67 % and 50 % of their normal readings scored >= 0.9
    figures = evaluate_zoo(0, progress=False, shapes=("constant", "trend", "random_walk"))
    for shape, f in figures["shapes"].items():
        assert f["normal_high_share"] < 0.01, shape
    assert figures["detected"] >= figures["anomalies"] / 2


def test_the_default_finds_a_few_level_signals_anomalies_and_keeps_weekends_apart():
    # the square wave: before `UnseenLevel` one anomaly of six was found (NAB 16.6), before
    # `ShortCycling` five (not its period change); the weekly rhythm: weekends lower and
    # flatter than weekdays are not anomalies
    figures = evaluate_zoo(0, progress=False, shapes=("square_wave", "weekly"))
    square, weekly = figures["shapes"]["square_wave"], figures["shapes"]["weekly"]
    assert square["detected"] == square["anomalies"] == 6 and square["nab_standard"] > 90
    assert square["normal_high_share"] < 0.001
    assert weekly["normal_high_share"] < 0.001 and weekly["detected"] >= 6


def test_the_cross_dataset_sweep_ranks_a_candidate_by_its_worst_dataset(capsys):
    from dataflows.cli.sweep import main as sweep_main
    from dataflows.evaluation.sweep import CEILINGS, TARGETS

    with pytest.raises(SystemExit):  # a candidate the sweep does not know is refused
        sweep_main(["datasets", "--datasets", "zoo", "--candidates", "seasonal_zscore,nope"])
    assert "unknown candidates ['nope']" in capsys.readouterr().err
    args = ["datasets", "--datasets", "zoo", "--candidates", "seasonal_zscore", "--json"]
    assert sweep_main(args) == 0
    printed = capsys.readouterr()
    (row,) = json.loads(printed.out)
    assert row["candidate"] == "SeasonalZScore"
    assert f"[detector_sweep] {json.dumps(row)}" in printed.err  # shown as soon as it is done
    assert row["worst"] == "zoo"
    (figure, target), (high, ceiling) = TARGETS["zoo"], CEILINGS["zoo"]
    # it saturates: the share of its normal readings >= 0.9, not its NAB, is its worst
    assert row["worst_share"] == round(ceiling / row[f"zoo_{high}"], 3)
    assert row["worst_share"] < row[f"zoo_{figure}"] / target
    assert 0.0 <= row["zoo_worst_normal_high_share"] <= 1.0 and row["us"] > 0
