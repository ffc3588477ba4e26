"""NAB window scoring on hand-made cases (Lavin & Ahmad 2015)."""

from __future__ import annotations

import pytest

from online_models.evaluation import PROFILES, nab_score, scaled_sigmoid
from online_models.evaluation.nab import raw_score

W = [(100.0, 160.0)]  # one 60-second window, as in SKAB's changepoint protocol


def test_sigmoid_shape():
    assert scaled_sigmoid(-1) == pytest.approx(0.9866, abs=1e-4)
    assert scaled_sigmoid(0) == 0.0
    assert scaled_sigmoid(1) == pytest.approx(-0.9866, abs=1e-4)
    assert scaled_sigmoid(-0.5) > scaled_sigmoid(-0.1) > 0


def test_earlier_detection_scores_higher_and_only_the_first_counts():
    early, late = nab_score([101], W), nab_score([150], W)
    assert 100 >= early > late > 50
    assert nab_score([101, 120, 150], W) == early


def test_false_positives_cost_more_before_than_just_after_a_window():
    standard = PROFILES["standard"]
    before = raw_score([50], W, standard)
    just_after = raw_score([100, 165], W, standard) - raw_score([100], W, standard)
    far_after = raw_score([100, 1000], W, standard) - raw_score([100], W, standard)
    assert before == pytest.approx(-0.11 - 1.0)  # the false alarm and the missed window
    assert 0 > just_after > far_after == pytest.approx(-0.11, abs=1e-6)


def test_profiles_weight_misses_and_false_alarms():
    windows = [(100.0, 160.0), (500.0, 560.0)]
    detections = [110, 300, 320]  # one hit, two false alarms, one miss
    standard = raw_score(detections, windows, PROFILES["standard"])
    low_fp = raw_score(detections, windows, PROFILES["reward_low_fp"])
    low_fn = raw_score(detections, windows, PROFILES["reward_low_fn"])
    assert low_fp < standard and low_fn == pytest.approx(standard - 1.0)


def test_probation_ignores_early_detections_and_windows():
    windows = [(10.0, 20.0), (100.0, 160.0)]
    assert nab_score([12, 101], windows, probation_end=50) == nab_score([101], W)
    assert nab_score([12], windows, probation_end=50) == 0.0


def test_null_and_perfect_detectors_bound_the_score():
    windows = [(100.0, 160.0), (500.0, 560.0), (900.0, 960.0)]
    assert nab_score([], windows) == 0.0
    assert nab_score([100, 500, 900], windows) == pytest.approx(100.0)
    assert nab_score(range(0, 1000, 7), windows) < 0  # an alarm storm is worse than silence


def test_the_tuned_threshold_is_found_among_a_few_high_scores_above_many_low_ones():
    from online_models.evaluation.nab import best_threshold

    # a calibrated score: a thousand quiet readings, one hit in the window, one false alarm
    quiet = [(float(t), (t - 1000) / 2000) for t in range(1000, 2000)]
    detections = [*quiet, (105.0, 0.93), (700.0, 1.0)]
    threshold, value = best_threshold([(detections, W)])
    assert threshold == 0.93
    assert value == pytest.approx(nab_score([105.0, 700.0], W))
    assert value > 80
