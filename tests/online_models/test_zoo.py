"""The signal zoo: every shape and anomaly where it should be, reproducibly."""

from __future__ import annotations

import pytest

from online_models.evaluation.zoo import (
    ANOMALIES,
    DAYS,
    MAX_STEP_S,
    SHAPES,
    START,
    STEP_S,
    WARMUP_DAYS,
    applies,
    stream,
    zoo,
)


def test_every_shape_has_a_clean_control_and_each_anomaly_that_applies():
    streams = zoo(seed=5)
    for shape in SHAPES:
        mine = {s.anomaly: s for s in streams if s.shape == shape}
        assert not any(mine[None].labels)
        assert set(mine) - {None} == {a for a in ANOMALIES if applies(shape, a)}
    assert [s.values for s in streams] == [s.values for s in zoo(seed=5)]
    assert [s.values for s in streams] != [s.values for s in zoo(seed=6)]


@pytest.mark.parametrize("anomaly", sorted(ANOMALIES))
def test_an_anomaly_is_one_labelled_run_after_the_warm_up_that_changes_the_values(anomaly):
    shape = "noisy_daily" if applies("noisy_daily", anomaly) else "square_wave"
    s = stream(shape, anomaly, seed=2)
    ((first, last),) = s.windows()
    assert START + WARMUP_DAYS * 86_400 <= first <= last < START + DAYS * 86_400
    assert last - first <= ANOMALIES[anomaly] * 3600
    control = stream(shape, None, seed=2)
    changed = [i for i, label in enumerate(s.labels) if label and s.values[i] != control.values[i]]
    assert changed, "the labelled readings must differ from the normal stream"
    if anomaly == "contextual":  # at night, and within the range the stream shows by day
        assert all(1 <= (t - START) % 86_400 / 3600 <= 6 for t in (first, last))
        day_values = [v for v in control.values if v is not None]
        assert all(min(day_values) <= s.values[i] <= max(day_values) for i in changed)


def test_sampling_shapes_are_irregular_or_have_gaps_and_missing_values():
    irregular = stream("irregular_sampling", None)
    steps = {round(b - a) for a, b in zip(irregular.times, irregular.times[1:], strict=False)}
    assert len(steps) > 100
    gappy = stream("gaps_and_missing", None)
    longest = max(b - a for a, b in zip(gappy.times, gappy.times[1:], strict=False))
    assert longest >= 6 * 3600 and any(v is None for v in gappy.values)
    assert len(stream("constant", None).times) == DAYS * 86_400 // STEP_S


def test_a_sparser_longer_zoo_keeps_its_anomalies_after_the_warm_up():
    for shape in SHAPES:
        for anomaly in (None, *ANOMALIES):
            if anomaly is not None and not applies(shape, anomaly):
                continue
            s = stream(shape, anomaly, seed=2, step_s=3600, days=60)
            assert s.days == 60 and s.times[-1] < START + 60 * 86_400
            if not SHAPES[shape].irregular and not SHAPES[shape].gappy:
                assert len(s.times) == 60 * 24
            if anomaly is not None:
                (first, _), *more = s.windows()
                assert not more and first >= START + WARMUP_DAYS * 86_400, (shape, anomaly)
    with pytest.raises(ValueError, match="days or more"):
        stream("constant", None, step_s=300, days=WARMUP_DAYS)
    with pytest.raises(ValueError, match=f"a step of 1 to {MAX_STEP_S} s"):
        stream("noisy_daily", "spike", step_s=MAX_STEP_S + 1, days=10)
    for step_s in (60, MAX_STEP_S):  # the sparsest and a dense zoo put every anomaly on a reading
        for anomaly in ANOMALIES:
            if applies("noisy_daily", anomaly):
                assert any(stream("noisy_daily", anomaly, seed=5, step_s=step_s, days=10).labels)


def test_discrete_levels_are_held_as_long_whatever_the_step():
    """A level is held about 4 h (a third of draws repeat it: 6 h a run), read often or not."""
    for step_s in (300, 3600):
        values = stream("discrete_levels", None, seed=4, step_s=step_s, days=60).values
        runs = 1 + sum(a != b for a, b in zip(values, values[1:], strict=False))
        assert 4.5 < 60 * 24 / runs < 8.0, step_s
