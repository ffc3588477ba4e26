"""The per-sensor step in a real Bytewax run: duplicates, lateness, scoring, resume."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from dataflows.flow.sensor_readings import SensorReadings
from dataflows.flow.sensors import CORROBORATION, DEVICE_ALONE_MS, SensorConfig, SensorLogic
from dataflows.lake.rows import Rows
from dataflows.messages.schema import Reading

T0 = 1767600000000  # 2026-01-05 08:00 UTC


def reading(minute: float, value: float = 50.0, sensor: str = "noise-1") -> Reading:
    return Reading(sensor, "noise", T0 + int(minute * 60_000), {"laeq": value}, "Centre", 1, 2)


def grouped(readings: list[Reading]) -> list[SensorReadings]:
    """A batch of one sensor's readings, as the flow gives it to the sensor step."""
    return [SensorReadings(list(readings))]


def run(readings: list[Reading], lateness_ms: int = 120_000) -> Rows:
    flow = Dataflow("logic")
    stream = op.input("in", flow, TestingSource(readings))
    keyed = op.map("key", stream, lambda r: (r.sensor_id, SensorReadings([r])))
    out = op.stateful_batch(
        "sensors", keyed, lambda s: SensorLogic(SensorConfig(lateness_ms=lateness_ms), s)
    )
    collected: list = []
    op.output("out", out, TestingSink(collected))
    run_main(flow)
    total = Rows()
    for _, rows in collected:
        total.extend(rows)
    return total


def test_duplicates_and_late_readings_are_dead_lettered_not_counted():
    stream = [reading(m) for m in range(10)]
    stream.insert(5, reading(3))  # duplicate of minute 3
    stream.append(reading(9.5))  # out of order but within the lateness
    stream.append(reading(2.5))  # minute 2 closed long ago: late
    rows = run(stream)
    reasons = sorted(d.reason.split(":")[0] for d in rows.dead_letters)
    assert reasons == ["duplicate", "late"]
    assert len(rows.readings) == 11
    assert sum(m[3] for m in rows.readings_1m) == 11  # every stored reading aggregated once
    assert len(rows.sensors) == 1


def test_every_reading_is_scored_before_learning_and_a_spike_opens_one_alert():
    stream = [reading(m, 50.0 + (m % 3) * 0.5) for m in range(120)]
    stream += [reading(120 + m, 90.0) for m in range(5)]  # a five-minute anomaly
    stream += [reading(125 + m, 50.0 + (m % 3) * 0.5) for m in range(20)]
    rows = run(stream)
    flagged = [r for r in rows.readings if r[5]]
    anomalous = [r for r in rows.readings if r[3] == 90.0]
    assert all(r[5] for r in anomalous) and min(flagged) == min(anomalous)
    assert len(flagged) < len(anomalous) + 20  # the CUSUM's memory fades within minutes
    assert len(rows.alerts) == 1
    assert len(rows.alert_closures) == 1
    alert_id, closed_ms, peak, metrics, count, severity = rows.alert_closures[0]
    assert alert_id == rows.alerts[0][0] and metrics == "laeq" and count == len(flagged)
    last_flagged = max(r[1] for r in flagged)
    assert closed_ms >= last_flagged + 300_000  # closes only after the recovery time
    _, sensor, _, kind, _, opened, _, _, _, detector, _, version, _ = rows.alerts[0]
    assert opened == min(r[1] for r in flagged)  # opens at the spell's first reading
    assert (kind, detector) == ("anomaly", "ShiftCusum")
    assert severity in ("minor", "major", "critical") and version.startswith("online_models")


def test_a_stuck_sensor_is_a_sensor_fault_and_a_lone_blip_is_no_alert():
    rhythm = [reading(m, 50.0 + (m % 7) * 0.5) for m in range(300)]
    stuck = [reading(300 + m, 52.25) for m in range(40)]
    rows = run(rhythm + stuck)
    assert [(a[3], a[9]) for a in rows.alerts] == [("sensor_fault", "Flatline")]
    blip = [reading(300, 57.0)]  # flagged, but neither critical nor lasting
    rows = run(rhythm + blip + [reading(301 + m, 50.0 + (m % 7) * 0.5) for m in range(30)])
    assert any(r[5] for r in rows.readings) and rows.alerts == []


def test_a_silence_is_a_dropout_fault_once_the_sensor_is_back_and_missed_readings_are_not():
    values = [50.0 + (m % 7) * 0.5 for m in range(200)]
    minutes = [m for m in range(200) if m not in (40, 41, 90, 92)]  # a few missed readings
    minutes = [m for m in minutes if not 120 <= m < 150]  # silent for 30 minutes
    rows = run([reading(m, values[m]) for m in minutes])
    dropouts = [a for a in rows.alerts if a[9] == "Dropout"]
    assert len(dropouts) == 1
    alert_id, sensor, _, kind, metrics, opened, closed, *_, detail = dropouts[0]
    assert (sensor, kind, metrics) == ("noise-1", "sensor_fault", "laeq")
    assert opened == closed == T0 + 150 * 60_000  # known when the sensor is back
    assert alert_id == f"noise-1@{opened}:dropout"
    assert detail == "silent 31 min after its reading at 2026-01-05 09:59:00 UTC"


def test_resume_from_snapshot_keeps_learned_models():
    logic = SensorLogic(SensorConfig())
    for m in range(200):
        logic.on_batch(grouped([reading(m, 50.0 + (m % 3) * 0.5)]))
    resumed = SensorLogic(SensorConfig(), logic.snapshot())
    rows_a, _ = logic.on_batch(grouped([reading(200, 51.0)]))
    rows_b, _ = resumed.on_batch(grouped([reading(200, 51.0)]))
    assert rows_a[0].readings == rows_b[0].readings
    assert rows_b[0].readings[0][4] < 0.5  # not a cold start: the reading is normal
    assert rows_b[0].sensors == []  # already registered


def rhythm(minutes) -> list[Reading]:
    return [reading(m, 50.0 + (m % 7) * 0.5) for m in minutes]


def reasons(rows: Rows) -> list[str]:
    return [d.reason.split(":")[0] for d in rows.dead_letters]


def test_a_reading_stamped_a_day_ahead_is_a_clock_jump_and_the_rest_are_not_late():
    stream = rhythm(range(60))
    stream.append(reading(60 + 23 * 60, 51.0))  # the gateway's clock jumped a day ahead
    stream += rhythm(range(60, 90))
    rows = run(stream)
    assert reasons(rows) == ["clock_jump"]
    assert "23.0 h ahead of the sensor's latest reading" in rows.dead_letters[0].reason
    assert len(rows.readings) == 90 and max(r[1] for r in rows.readings) == T0 + 89 * 60_000


def test_a_sensor_back_after_a_silence_is_confirmed_and_nothing_is_lost():
    minutes = [*range(60), *range(240, 300)]  # silent for three hours, longer than the jump
    rows = run(rhythm(minutes))
    assert reasons(rows) == []
    assert len(rows.readings) == len(minutes)
    assert [a[9] for a in rows.alerts] == ["Dropout"]  # the silence, once the sensor is back


def test_a_jump_the_stream_ends_on_is_never_confirmed():
    rows = run([*rhythm(range(30)), reading(30 + 5 * 60, 51.0)])
    assert reasons(rows) == ["clock_jump"] and len(rows.readings) == 30


def test_a_sensor_silent_longer_than_its_state_lifetime_starts_cold():
    config = SensorConfig(ttl_ms=86_400_000)
    logic = SensorLogic(config)
    for m in range(300):
        logic.on_batch(grouped(rhythm([m])))
    assert logic.snapshot() is not None
    later = [reading(3 * 1440 + m, 50.0 + (m % 7) * 0.5) for m in range(3)]  # three days on
    (rows,), discard = logic.on_batch(grouped(later))  # the jump, confirmed by the next two
    assert not discard
    assert [r[1:4] for r in rows.model_resets] == [("sensors", "noise-1", "state")]
    assert rows.model_resets[0][4] == "expired: silent 2.79 days, starts cold"
    assert rows.readings_1m  # its last open minutes were written before it went
    assert all(r[4] == 0.0 for r in rows.readings)  # a cold model scores nothing yet


def test_a_sensor_silent_on_the_flows_clock_leaves_the_state():
    logic = SensorLogic(SensorConfig(ttl_ms=200))
    (first,), _ = logic.on_batch(grouped([reading(m / 1000) for m in range(5)]))  # 1 ms apart
    time.sleep(0.3)
    assert logic.notify_at() <= datetime.now(UTC)
    (rows,), discard = logic.on_notify()
    assert discard
    assert [r[3] for r in rows.model_resets] == ["state"]
    assert rows.model_resets[0][4].startswith("expired: silent for ")
    rows.extend(first)
    assert sum(m[3] for m in rows.readings_1m) == 5  # every open minute written first


def test_a_sensor_has_at_most_max_metrics_metrics():
    logic = SensorLogic(SensorConfig(max_metrics=3))
    first = Reading("rec-1", "recorded", T0, {"a": 1.0, "b": 2.0})
    (rows,), _ = logic.on_batch(
        grouped([first, first._replace(ts_ms=T0 + 1000, values={"c": 1.0})])
    )
    assert reasons(rows) == []
    (rows,), _ = logic.on_batch(
        grouped([first._replace(ts_ms=T0 + 2000, values={"d": 1.0, "a": 2.0})])
    )
    assert reasons(rows) == ["too_many_metrics"] and rows.readings == []


def test_a_long_device_alarm_needs_a_metric_of_its_own_to_flag():
    state = SimpleNamespace(device_alarm_since=None)
    ordinary = [("a", 1.0, 0.1, False), ("b", 2.0, 0.2, False)]
    unusual = [("a", 1.0, CORROBORATION + 0.1, False), ("b", 2.0, 0.2, False)]
    flag = SensorLogic._device_flag
    assert not flag(state, 0, 0.5, ordinary)  # below the device threshold
    assert flag(state, 1_000, 0.9, ordinary)  # an alarm begins: the joint distance suffices
    assert flag(state, 1_000 + DEVICE_ALONE_MS, 0.9, ordinary)
    assert not flag(state, 2_000 + DEVICE_ALONE_MS, 0.9, ordinary)  # long, uncorroborated
    assert flag(state, 3_000 + DEVICE_ALONE_MS, 0.9, unusual)  # a metric of its own agrees
    assert not flag(state, 4_000 + DEVICE_ALONE_MS, 0.5, ordinary)  # the alarm ends
    assert flag(state, 5_000 + DEVICE_ALONE_MS, 0.9, ordinary)  # a new one begins
