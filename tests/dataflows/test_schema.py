"""Validation of raw messages against the typed schema."""

from __future__ import annotations

import math

import pytest

from dataflows.messages.schema import parse_ts_ms, validate

GOOD = {
    "sensor_id": "traffic-1",
    "type": "traffic_loop",
    "ts": "2026-01-05T08:00:00Z",
    "values": {"flow": 900.0, "speed": 42.5, "occupancy": 20.1},
    "district": "Centre",
    "lat": 52.37,
    "lon": 4.89,
}


def test_a_good_message_becomes_a_reading():
    reading, rejected = validate(GOOD, "test")
    assert rejected == []
    assert reading.sensor_id == "traffic-1"
    assert reading.ts_ms == 1767600000000
    assert reading.values == {"flow": 900.0, "speed": 42.5, "occupancy": 20.1}
    assert (reading.district, reading.lat, reading.lon) == ("Centre", 52.37, 4.89)


def test_epoch_ms_and_iso_timestamps_agree():
    assert parse_ts_ms("2026-01-05T09:00:00+01:00") == parse_ts_ms(1767600000000)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sensor_id": ""}, "missing_field"),
        ({"sensor_id": 5}, "missing_field"),
        ({"sensor_id": "x" * 200}, "bad_field"),
        ({"type": "submarine"}, "unknown_type"),
        ({"ts": "yesterday"}, "bad_timestamp"),
        ({"ts": "2026-01-05T08:00:00"}, "bad_timestamp"),
        ({"ts": 12}, "bad_timestamp"),
        ({"ts": True}, "bad_timestamp"),
        ({"ts": math.nan}, "bad_timestamp"),
        ({"values": {}}, "missing_field"),
        ({"values": [1, 2]}, "missing_field"),
        ({"lat": 123.0}, "bad_field"),
        ({"lon": "east"}, "bad_field"),
        ({"district": 7}, "bad_field"),
    ],
)
def test_a_broken_message_is_dead_lettered_whole(change, reason):
    reading, rejected = validate({**GOOD, **change}, "test", ("p0", 17))
    assert reading is None
    assert len(rejected) == 1
    letter = rejected[0]
    assert letter.reason.startswith(reason + ":")
    assert letter.position == "p0/17" and letter.source == "test"
    assert letter.payload  # the raw message is kept


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("n/a", "bad_value"),
        (None, "bad_value"),
        (True, "bad_value"),
        (math.inf, "bad_value"),
        (math.nan, "bad_value"),
        (-5.0, "out_of_range"),
        (1e12, "out_of_range"),
    ],
)
def test_one_bad_value_is_rejected_and_the_others_kept(value, reason):
    message = {**GOOD, "values": {**GOOD["values"], "speed": value}}
    reading, rejected = validate(message, "test")
    assert reading.values == {"flow": 900.0, "occupancy": 20.1}
    assert [d.reason.split(":")[0] for d in rejected] == [reason]
    assert rejected[0].sensor_id == "traffic-1"


def test_non_objects_are_dead_lettered():
    for raw in ["<reboot>", b"\xff\xfe", 42, None, [GOOD]]:
        reading, rejected = validate(raw, "test")
        assert reading is None and rejected[0].reason.startswith("not_an_object")


def test_a_new_sensor_of_a_known_type_is_accepted():
    reading, rejected = validate({**GOOD, "sensor_id": "brand-new-loop-77"}, "test")
    assert reading is not None and rejected == []
