"""Whatever arrives, validation answers with a reading or a reason, at a bounded cost."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflows.catalogue.load import load_catalogue
from dataflows.flow.city import decode_batch, validate_batch
from dataflows.flow.sensor_readings import SensorReadings
from dataflows.kafka.client import KAFKA_LIMITS, KafkaRecord, decode
from dataflows.lake.rows import Rows
from dataflows.messages.limits import MessageLimits
from dataflows.messages.schema import SourceRecord, validate
from tests.hostile import HOSTILE, JSONISH, WIRE_HOSTILE, reading

CATALOGUE = load_catalogue()
VALID = st.sampled_from(sorted(CATALOGUE.types)).flatmap(
    lambda sensor_type: st.fixed_dictionaries(
        {
            "sensor_id": st.from_regex(r"[a-z]{3,8}-[0-9]{1,4}", fullmatch=True),
            "type": st.just(sensor_type),
            "ts": st.integers(1_767_225_600_000, 1_798_761_600_000),
            "values": st.fixed_dictionaries(
                {
                    m.name: st.floats(m.low, m.high, allow_nan=False)
                    for m in CATALOGUE.metrics(sensor_type)
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
    """A reading with finite values and at most one letter, or no reading and one letter."""
    if reading is None:
        return len(letters) == 1
    return len(letters) <= 1 and all(math.isfinite(v) for v in reading.values.values())


def storable(letter) -> bool:
    """Every text of a dead letter can be written to the lake (valid UTF-8, bounded)."""
    texts = [letter.reason, letter.payload, letter.sensor_id or "", letter.position or ""]
    for text in texts:
        text.encode("utf-8")  # raises on a lone surrogate
    return len(letter.payload) <= 1_001 and letter.reason.split(":")[0].isidentifier()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(raw=JSONISH | HOSTILE_FIELDS)
def test_any_value_gets_a_reading_or_a_reason(raw):
    reading, letters = validate(raw, "test", ("p", 1))
    assert well_formed(reading, letters)
    for letter in letters:
        assert storable(letter)
        assert letter.position == "p/1"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=WIRE_HOSTILE)
def test_any_bytes_on_the_wire_get_a_reading_or_a_reason(value):
    reading, letters = decode(KafkaRecord("t", 0, 7, b"\xff\xfe", value, 0))
    assert well_formed(reading, letters)
    assert all(letter.position == "t/0/7" and storable(letter) for letter in letters)


@pytest.mark.parametrize(("name", "value", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_each_hostile_message_is_dead_lettered_with_its_reason(name, value, reason):
    got, letters = decode(KafkaRecord("t", 3, 11, None, value, 0))
    assert got is None or reason in ("bad_values",), name
    assert [letter.reason.split(":")[0] for letter in letters] == [reason]
    assert letters[0].position == "t/3/11" and storable(letters[0])


def test_the_limits_are_settings():
    many = {"sensor_id": "r", "type": "recorded", "ts": 1767600000000}
    many["values"] = {f"m{i}": 1.0 for i in range(100)}
    wire = json.dumps(many).encode()
    assert decode(KafkaRecord("t", 0, 1, None, wire, 0))[1][0].reason.startswith("refused_type")
    replay = MessageLimits(max_metrics=64)
    assert validate(many, "replay", limits=replay)[1][0].reason.startswith("too_many_metrics")
    assert validate(many, "replay", limits=MessageLimits(max_metrics=100))[1] == []
    small = MessageLimits(max_bytes=256, allow_recorded=False)
    letter = decode(KafkaRecord("t", 0, 1, None, wire, 0), limits=small)[1][0]
    assert letter.reason == f"oversized: {len(wire)} bytes, limit 256"


def test_several_bad_values_make_one_dead_letter_that_names_them():
    message = reading(laeq=-1.0)
    message["values"] |= {f"x{i}": 1.0 for i in range(30)}
    got, letters = validate(message, "test", ("p", 2))
    assert got is None and len(letters) == 1
    assert letters[0].reason.startswith("bad_values: 31 of 31 metrics rejected: ")
    assert "out_of_range: laeq" in letters[0].reason and len(letters[0].reason) < 500


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
    kept: dict[tuple, list] = {}
    for reading_kept in readings_of(out):
        kept.setdefault((reading_kept.sensor_id, reading_kept.type), []).append(reading_kept.values)
    sent: dict[tuple, list] = {}
    for message in good:  # each sensor's readings (of a type: a step), in the order they came
        sent.setdefault((message["sensor_id"], message["type"]), []).append(message["values"])
    assert kept == sent
    side = [item for item in out if isinstance(item, Rows)]
    assert len(side) <= 1


def readings_of(out: list) -> list:
    """The readings a validation step routed, a sensor's groups unpacked."""
    keyed = [value for item in out if isinstance(item, tuple) for value in item[1:]]
    return [r for v in keyed for r in (v.readings if isinstance(v, SensorReadings) else [v])]


class Exploding(dict):
    """A message whose inspection raises, as a bug in validation would."""

    def get(self, key, default=None):
        raise ZeroDivisionError("division by zero")


def test_a_record_whose_validation_raises_is_dead_lettered_and_the_batch_goes_on():
    good = reading()
    batch = [SourceRecord("sim-0", 0, good), SourceRecord("sim-0", 1, Exploding(good))]
    batch.append(SourceRecord("sim-0", 2, dict(good, ts=good["ts"] + 60_000)))
    out = validate_batch(batch)
    assert len(readings_of(out)) == 2
    (letter,) = out[-1].dead_letters
    assert letter.reason == "internal_error: ZeroDivisionError: division by zero"
    assert letter.position == "sim-0/1" and letter.source == "simulator"


def test_tombstone_records_are_dead_lettered():
    (_, [letter]) = decode(KafkaRecord("t", 0, 2, b"k", None, 0))
    assert letter.reason.startswith("missing_value")
    out = decode_batch([KafkaRecord("t", 0, 3, None, b"\xff", 0)])
    assert out[0].dead_letters[0].reason.startswith("bad_encoding")
    assert KAFKA_LIMITS.max_bytes == 65_536


def test_timestamps_far_ahead_of_the_wall_clock_are_dead_lettered():
    from dataflows.messages.schema import now_ms

    def record(offset: int, ts: int) -> KafkaRecord:
        message = {"sensor_id": "n-1", "type": "noise", "ts": ts, "values": {"laeq": 50.0}}
        return KafkaRecord("t", 0, offset, b"n-1", json.dumps(message).encode(), 0)

    out = decode_batch([record(1, now_ms()), record(2, now_ms() + 3 * 86_400_000)])
    assert len(readings_of(out)) == 1
    (letter,) = out[-1].dead_letters
    assert letter.reason.startswith("future_timestamp") and letter.position == "t/0/2"


def test_credentials_never_show_in_settings_or_log_lines():
    from dataflows.kafka.client import client_config, describe
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
    assert s.secrets() == (secret,)
