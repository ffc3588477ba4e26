"""Remaining-life models: features, neighbours, conformal bands, delayed labels, drift."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from online_models.maintenance import (
    ConformalBand,
    NeighbourRUL,
    RemainingLife,
    RollingFeatures,
)


def test_features_restart_with_a_new_life_and_keep_a_missing_signal():
    features = RollingFeatures(window=2, trend_window=4)
    for value in [1.0, 2.0, 3.0, 4.0]:
        x = features.update("a", {"v": value, "t": 10.0}, age=value)
    assert x["v_trend"] == pytest.approx(4.0)  # slope 1 per reading over a window of 4
    assert x["t_trend"] == 0.0
    x = features.update("a", {"v": 5.0}, age=5.0)  # "t" missing: keeps 10.0
    assert x["t_mean"] == 10.0
    features.reset("a")
    x = features.update("a", {"v": 9.0, "t": 10.0}, age=0.0)
    assert x == {"age": 0.0, "v_mean": 9.0, "v_trend": 0.0, "t_mean": 10.0, "t_trend": 0.0}
    with pytest.raises(ValueError):
        RollingFeatures(window=5, trend_window=3)


def _brute_force(examples, x, k):
    matrix = np.array([[e[0][n] for n in sorted(x)] for e in examples])
    targets = np.array([e[1] for e in examples])
    std = matrix.std(axis=0)
    scale = np.where(std > 1e-6, 1 / np.where(std > 1e-6, std, 1), 0)
    query = np.array([x[n] for n in sorted(x)])
    distance = (((matrix - query) * scale) ** 2).sum(axis=1)
    return targets[np.argsort(distance, kind="stable")[:k]].mean()


def test_neighbours_match_brute_force_after_the_window_has_wrapped():
    rng = random.Random(1)
    model = NeighbourRUL(k=7, window=300)
    examples = []
    for _ in range(1000):
        x = {"a": rng.gauss(0, 1), "b": rng.gauss(500, 100), "constant": 3.0}
        y = 10 * x["a"] + x["b"] / 100
        model.learn_one(x, y)
        examples.append((x, y))
    assert model.n_stored == 300
    for _ in range(20):
        query = {"a": rng.gauss(0, 1), "b": rng.gauss(500, 100), "constant": 3.0}
        assert model.predict_one(query) == pytest.approx(_brute_force(examples[-300:], query, 7))


def test_neighbours_do_not_depend_on_units():
    """Standardising at prediction time: a feature in mm or in m predicts the same."""
    rng = random.Random(2)
    metres, millimetres = NeighbourRUL(k=5), NeighbourRUL(k=5)
    for _ in range(200):
        wear, load = rng.random(), rng.random()
        metres.learn_one({"wear": wear, "load": load}, 100 * (1 - wear))
        millimetres.learn_one({"wear": 1000 * wear, "load": load}, 100 * (1 - wear))
    assert metres.predict_one({"wear": 0.3, "load": 0.5}) == pytest.approx(
        millimetres.predict_one({"wear": 300.0, "load": 0.5})
    )


def test_a_challenger_sees_only_examples_learnt_since_it_started():
    model = NeighbourRUL(k=3)
    for wear in range(10):
        model.learn_one({"wear": float(wear)}, 100.0)
    start = model.n_learnt
    assert math.isnan(model.predict_many_since({"wear": 1.0}, [start])[0])
    for wear in range(10):
        model.learn_one({"wear": float(wear)}, 50.0)
    both = model.predict_many_since({"wear": 1.0}, [0, start])
    assert both[1] == 50.0 and both[0] > 50.0  # the old lives still count for the model
    assert model.count_since(start) == 10
    model.forget_before(start)
    assert model.n_stored == 10 and model.predict_one({"wear": 1.0}) == 50.0


def test_conformal_band_covers_exchangeable_errors_at_the_asked_rate():
    rng = random.Random(3)
    band = ConformalBand(coverage=0.9, window=2000)
    for _ in range(2000):
        band.update(predicted=50.0, actual=50.0 + rng.gauss(0, 10))
    hits = 0
    for _ in range(5000):
        low, high = band.interval(50.0)
        hits += low <= 50.0 + rng.gauss(0, 10) <= high
    assert 0.87 <= hits / 5000 <= 0.93
    assert band.failure_probability(50.0, 50.0) == pytest.approx(0.5, abs=0.05)
    assert band.failure_probability(50.0, 30.0) < band.failure_probability(50.0, 60.0)


def test_conformal_band_keeps_ranges_apart():
    band = ConformalBand(coverage=0.8, edges=(20.0,), min_errors=10)
    for i in range(50):
        band.update(predicted=10.0, actual=10.0 + (i % 5 - 2) * 0.5)  # small errors
        band.update(predicted=80.0, actual=80.0 + (i % 5 - 2) * 10.0)  # large errors
    narrow, wide = band.interval(10.0), band.interval(80.0)
    assert narrow[1] - narrow[0] < 3 < 30 < wide[1] - wide[0]
    with pytest.raises(ValueError):
        ConformalBand(coverage=1.0)


def _fleet(model, lives, rate=1.0, asset_prefix="a", start=0.0, noise=0.02, seed=0):
    """Assets that wear linearly to failure, one after another; returns the end time."""
    rng = random.Random(seed)
    t = start
    events = []
    for n, life in enumerate(lives):
        asset = f"{asset_prefix}{n}"
        for hour in range(life):
            wear = hour / life
            signal = {"vibration": 1 + rate * wear + rng.gauss(0, noise)}
            model.observe(asset, t, signal, age=hour)
            t += 1
        events += model.failed(asset, t - 1)
    return t, events


def test_nothing_is_predicted_or_learnt_before_a_label_is_revealed():
    model = RemainingLife(horizon=10, min_labels=1, k=3)
    for hour in range(50):
        assert model.observe("a", hour, {"v": float(hour)}, age=hour) is None
    assert model.regressor.n_stored == 0 and model.metrics() == {"labelled": 0}
    model.restored("a", 50, rul=None)  # repaired, RUL unknown: censored
    assert model.regressor.n_stored == 0 and model.censored == 50
    for hour in range(50):
        model.observe("b", 100 + hour, {"v": float(hour)}, age=hour)
    model.restored("b", 150, rul=20.0)  # inspected: 20 h were left at t=150
    assert model.regressor.n_stored == 50
    # the reading at t=100+h had 20 + (50 - h) hours left
    assert sorted(model.regressor._y[:50]) == [20.0 + (50 - h) for h in range(49, -1, -1)]


def test_prequential_metrics_and_failure_risk_on_a_steady_fleet():
    rng = random.Random(4)
    model = RemainingLife(horizon=24, k=20, min_labels=100, trend_window=20)
    _fleet(model, [rng.randint(150, 250) for _ in range(40)])
    figures = model.metrics()
    assert figures["labelled"] > 3000
    assert figures["mae"] < 25  # lives of 150-250 h, predicted from 1-2 weeks of wear
    assert figures["coverage"] > 0.7
    assert figures["brier"] < 0.1
    for hour in range(190):  # an asset with 10 h left
        prediction = model.observe("new", 10_000 + hour, {"vibration": 1 + hour / 200}, hour)
    assert prediction is not None and prediction.failure_prob > 0.5
    assert prediction.rul_low <= prediction.rul <= prediction.rul_high


def test_drift_starts_a_challenger_that_replaces_the_model_when_it_is_better():
    """Half-way, assets wear out twice as fast and vibrate less doing it (a new model)."""
    model = RemainingLife(horizon=24, k=20, min_labels=100, trend_window=20, trial_labels=300)
    end, before = _fleet(model, [200] * 30, rate=1.0)
    _, after = _fleet(model, [100] * 40, rate=0.5, asset_prefix="b", start=end, seed=1)
    assert not before  # a steady fleet: no drift
    kinds = [event.kind for event in after]
    assert kinds[:2] == ["drift", "challenger_promoted"], [e.detail for e in after]
    assert model.regressor.n_stored < 30 * 200  # the old regime was forgotten


def test_a_challenger_started_by_a_false_alarm_is_dismissed():
    model = RemainingLife(horizon=24, k=20, min_labels=100, trend_window=20, trial_labels=300)
    end, _ = _fleet(model, [200] * 20)
    model._challenger = model.regressor.n_learnt  # as if ADWIN had fired on a steady fleet
    _, events = _fleet(model, [200] * 10, asset_prefix="b", start=end, seed=1)
    assert [event.kind for event in events] == ["challenger_dismissed"]
    assert model.regressor.n_stored == 30 * 200  # nothing forgotten
