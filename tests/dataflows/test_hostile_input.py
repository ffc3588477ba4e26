"""Property-based tests: whatever arrives, validation answers with a reading or a reason."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflows.city import decode_batch, validate_batch
from dataflows.kafka_io import MAX_MESSAGE_BYTES, KafkaRecord, decode
from dataflows.rows import Rows
from dataflows.schema import SENSOR_TYPES, SourceRecord, validate

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

VALID = st.sampled_from(sorted(SENSOR_TYPES)).flatmap(
    lambda sensor_type: st.fixed_dictionaries(
        {
            "sensor_id": st.from_regex(r"[a-z]{3,8}-[0-9]{1,4}", fullmatch=True),
            "type": st.just(sensor_type),
            "ts": st.integers(1_767_225_600_000, 1_798_761_600_000),
            "values": st.fixed_dictionaries(
                {
                    m.name: st.floats(m.low, m.high, allow_nan=False)
                    for m in SENSOR_TYPES[sensor_type]
                }
            ),
        }
    )
)

HOSTILE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "sensor_id": JSONISH,
        "type": JSONISH,
        "ts": JSONISH | st.text(max_size=40),
        "values": JSONISH,
        "lat": JSONISH,
        "lon": JSONISH,
        "district": JSONISH,
    },
)


def well_formed(reading, letters) -> bool:
    if reading is None:
        return len(letters) >= 1
    return all(math.isfinite(v) for v in reading.values.values())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw=JSONISH | HOSTILE_FIELDS)
def test_any_value_gets_a_reading_or_a_reason(raw):
    reading, letters = validate(raw, "test", ("p", 1))
    assert well_formed(reading, letters)
    for letter in letters:
        assert letter.reason.split(":")[0].isidentifier()
        assert letter.position == "p/1"
        assert isinstance(letter.payload, str)


@settings(max_examples=300)
@given(value=st.binary(max_size=300))
def test_any_bytes_on_the_wire_get_a_reading_or_a_reason(value):
    reading, letters = decode(KafkaRecord("t", 0, 7, None, value, 0))
    assert well_formed(reading, letters)
    assert all(letter.position == "t/0/7" for letter in letters)


@settings(max_examples=200)
@given(message=VALID)
def test_valid_messages_are_kept_whole(message):
    reading, letters = validate(message, "test")
    assert letters == []
    assert reading.values == message["values"]
    wire = KafkaRecord("t", 1, 3, message["sensor_id"].encode(), json.dumps(message).encode(), 0)
    assert decode(wire)[0].values == message["values"]


@settings(max_examples=100)
@given(good=st.lists(VALID, min_size=1, max_size=5), bad=st.lists(JSONISH, max_size=5))
def test_bad_records_do_not_disturb_the_good_ones_around_them(good, bad):
    batch = [SourceRecord("sim-0", i, m) for i, m in enumerate(bad + good + bad)]
    out = validate_batch(batch)
    readings = [item for item in out if isinstance(item, tuple)]
    assert [r.values for _, r in readings][-len(good) :] == [m["values"] for m in good]
    side = [item for item in out if isinstance(item, Rows)]
    assert len(side) <= 1


def test_oversized_and_tombstone_records_are_dead_lettered():
    big = b'{"sensor_id": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}'
    (_, [letter]) = decode(KafkaRecord("t", 0, 1, None, big, 0))
    assert letter.reason.startswith("oversized") and len(letter.payload) < 5_000
    (_, [letter]) = decode(KafkaRecord("t", 0, 2, b"k", None, 0))
    assert letter.reason.startswith("missing_value")
    out = decode_batch([KafkaRecord("t", 0, 3, None, b"\xff", 0)])
    assert out[0].dead_letters[0].reason.startswith("bad_encoding")


def test_deeply_nested_json_is_a_reason_not_a_crash():
    value = b"[" * 100_000 + b"]" * 100_000
    reading, letters = decode(KafkaRecord("t", 0, 4, None, value[:MAX_MESSAGE_BYTES], 0))
    assert reading is None and letters


def test_timestamps_far_ahead_of_the_wall_clock_are_dead_lettered():
    from dataflows.schema import now_ms

    def record(offset: int, ts: int) -> KafkaRecord:
        message = {"sensor_id": "n-1", "type": "noise", "ts": ts, "values": {"laeq": 50.0}}
        return KafkaRecord("t", 0, offset, b"n-1", json.dumps(message).encode(), 0)

    out = decode_batch([record(1, now_ms()), record(2, now_ms() + 3 * 86_400_000)])
    assert len([item for item in out if isinstance(item, tuple)]) == 1
    (letter,) = out[-1].dead_letters
    assert letter.reason.startswith("future_timestamp") and letter.position == "t/0/2"


def test_credentials_never_show_in_settings_or_log_lines():
    from dataflows.kafka_io import client_config, describe
    from dataflows.settings import Settings

    secret = "s3cr3t-Pa55"
    s = Settings.from_env(
        {
            "CITY_KAFKA_SASL_MECHANISM": "PLAIN",
            "CITY_KAFKA_SASL_USERNAME": "city",
            "CITY_KAFKA_SASL_PASSWORD": secret,
            "CITY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        }
    )
    assert secret not in repr(s) and secret not in str(s) and secret not in describe(s)
    assert client_config(s)["sasl_plain_password"] == secret  # only handed to the client
