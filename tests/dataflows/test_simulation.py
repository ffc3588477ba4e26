"""The simulator: deterministic by seed, plausible, labelled, resumable, scalable."""

from __future__ import annotations

import pickle
from collections import Counter

from dataflows.catalogue.load import load_catalogue
from dataflows.messages.schema import Label, validate
from dataflows.simulator.city import (
    ANOMALY_KINDS,
    DAY_MS,
    EVENT_KINDS,
    City,
    PartitionSimulator,
)

START = 1767571200000  # 2026-01-05 00:00 UTC, a Monday


def run(seed=1, sensors=50, partitions=2, hours=24.0, start=START):
    city = City(seed, sensors)
    end = start + int(hours * 3_600_000)
    out = []
    for p in range(partitions):
        out.extend(PartitionSimulator(city, p, partitions, start, end).advance(end + 1))
    return out


def test_same_seed_same_stream_and_another_seed_another():
    assert run(seed=3, hours=2) == run(seed=3, hours=2)
    assert run(seed=3, hours=2) != run(seed=4, hours=2)


def test_sensors_do_not_depend_on_the_sensor_count():
    small, large = City(5, 20).sensors, City(5, 200).sensors[:20]
    assert [(s.sensor_id, s.type) for s in small] == [(s.sensor_id, s.type) for s in large]


def test_every_sensor_type_reports_valid_values_with_units_and_location():
    out = run(hours=1)
    readings = [validate(m, "t")[0] for m in out if isinstance(m, dict)]
    readings = [r for r in readings if r is not None]
    assert {r.type for r in readings} == load_catalogue().sensor_types
    assert all(r.district and r.lat and r.lon for r in readings)
    per_sensor = Counter(r.sensor_id for r in readings)
    assert 55 <= max(per_sensor.values()) <= 62  # about one a minute


def test_daily_rhythm_traffic_peaks_at_rush_hour():
    out = run(sensors=40, hours=24)
    flows = {}
    for m in out:
        if isinstance(m, dict) and m.get("type") == "traffic_loop" and "ts" in m:
            value = m["values"].get("flow")
            if isinstance(value, float) and value >= 0:
                hour = (m["ts"] % DAY_MS) // 3_600_000
                flows.setdefault(hour, []).append(value)
    mean = {h: sum(v) / len(v) for h, v in flows.items()}
    assert mean[8] > 3 * mean[3]
    assert mean[17] > 3 * mean[3]


def test_all_anomaly_kinds_and_city_events_are_labelled_over_a_week():
    labels = [x for x in run(sensors=120, partitions=3, hours=7 * 24) if isinstance(x, Label)]
    kinds = Counter(label.kind for label in labels)
    assert set(ANOMALY_KINDS) | set(EVENT_KINDS) <= set(kinds)
    events = [lb for lb in labels if lb.kind in EVENT_KINDS]
    per_event = Counter(lb.event_id for lb in events)
    assert max(per_event.values()) > 1  # a city event moves several sensors at once
    assert all(lb.end_ms > lb.start_ms for lb in labels)


def test_faults_duplicates_out_of_order_and_corrupt_messages():
    out = run(sensors=100, hours=12)
    messages = [m for m in out if not isinstance(m, Label)]
    keys = [(m["sensor_id"], m["ts"]) for m in messages if isinstance(m, dict) and "ts" in m]
    assert len(keys) > len(set(keys))  # duplicates
    out_of_order = 0
    last: dict[str, int] = {}
    for sensor_id, ts in keys:
        out_of_order += ts < last.get(sensor_id, 0)
        last[sensor_id] = max(ts, last.get(sensor_id, 0))
    assert out_of_order > 0
    rejected = sum(1 for m in messages if validate(m, "t")[1])
    assert rejected > 0


def test_no_faults_when_the_fault_rate_is_zero():
    city = City(1, 50)
    sim = PartitionSimulator(city, 0, 1, START, START + 6 * 3_600_000, fault_rate=0.0)
    messages = [m for m in sim.advance(START + 7 * 3_600_000) if not isinstance(m, Label)]
    assert all(validate(m, "t")[1] == [] for m in messages)
    keys = [(m["sensor_id"], m["ts"]) for m in messages]
    assert len(keys) == len(set(keys))


def test_resuming_from_a_snapshot_gives_the_same_stream():
    city = City(9, 30)
    end = START + 6 * 3_600_000
    whole = PartitionSimulator(city, 0, 1, START, end).advance(end + 1)
    first = PartitionSimulator(city, 0, 1, START, end)
    part = first.advance(START + 2 * 3_600_000 + 5_000)
    state = pickle.loads(pickle.dumps(first.state()))
    resumed = PartitionSimulator(city, 0, 1, START, end, state=state)
    assert part + resumed.advance(end + 1) == whole


def test_scales_to_a_hundred_thousand_sensors():
    city = City(1, 100_000)
    sim = PartitionSimulator(city, 0, 4, START)
    out = sim.advance(START + 60_000)  # one simulated minute of a quarter of the city
    readings = [m for m in out if isinstance(m, dict)]
    assert 24_000 <= len(readings) <= 25_100
