"""A catalogue of hostile messages, as broken or malicious gateways send them.

Each is the raw bytes on the wire with the kind of reason (the part before the colon) the
flow must dead-letter it with. `just chaos --hostile-every N` mixes them into its stream,
`just bench` measures the flow's memory on them, and the tests send each through a real
broker.

>>> len(HOSTILE) >= 30, all(isinstance(value, bytes) for _, value, _ in HOSTILE)
(True, True)
"""

from __future__ import annotations

import json

TS = 1767600000000  # 2026-01-05 08:00 UTC


def reading(sensor_id: str = "noise-1", ts: int = TS, **values: float) -> dict:
    """A valid noise reading (the base of many hostile variants)."""
    return {"sensor_id": sensor_id, "type": "noise", "ts": ts, "values": values or {"laeq": 55.0}}


def _wire(message: object) -> bytes:
    return json.dumps(message).encode()


def _deep_list(depth: int) -> list:
    nested: list = []
    for _ in range(depth - 1):
        nested = [nested]
    return nested


def with_value(number: bytes) -> bytes:
    """A noise reading whose value is the JSON number `number`, as it is on the wire."""
    return b'{"sensor_id": "n", "type": "noise", "ts": 1767600000000, "values": {"laeq": ' + (
        number + b"}}"
    )


HOSTILE: list[tuple[str, bytes, str]] = [
    # (name, value on the wire, reason)
    ("nested just below the recursion limit", b"[" * 990 + b"]" * 990, "too_deep"),
    ("nested far beyond it", b"[" * 200_000 + b"]" * 200_000, "oversized"),
    ("nested inside a reading", _wire({**reading(), "district": _deep_list(35)}), "too_deep"),
    ("an integer of 5,000 digits as the time", b'{"sensor_id": "n", "type": "noise", "ts": '
     + b"9" * 5000 + b', "values": {"laeq": 1}}', "bad_timestamp"),
    ("an integer of 5,000 digits as a value", with_value(b"1" * 5000), "bad_value"),
    ("an integer of 400 digits as a value", with_value(b"1" * 400), "bad_value"),
    ("an integer of 30 digits as a value", with_value(b"1" * 30), "out_of_range"),
    ("a lone surrogate as the sensor id", b'{"sensor_id": "\\ud800", "type": "noise", "ts": '
     + str(TS).encode() + b', "values": {"laeq": 1}}', "bad_field"),
    ("a control character in the sensor id", _wire(reading("noise\n1")), "bad_field"),
    ("a lone surrogate as the district", _wire(reading())[:-1] + b', "district": "\\udfff"}',
     "bad_field"),
    ("a 10,000-character district", _wire({**reading(), "district": "D" * 10_000}), "bad_field"),
    ("20,000 metrics of a replay device", _wire({"sensor_id": "r", "type": "recorded", "ts": TS,
     "values": {f"m{i}": float(i) for i in range(20_000)}}), "oversized"),
    ("200 metrics of a replay device", _wire({"sensor_id": "r", "type": "recorded", "ts": TS,
     "values": {f"m{i}": float(i) for i in range(200)}}), "refused_type"),
    ("the replay type from Kafka", _wire({"sensor_id": "r", "type": "recorded", "ts": TS,
     "values": {"a": 1.0}}), "refused_type"),
    ("200 unknown metrics of a noise sensor",
     _wire({**reading(), "values": {f"x{i}": 1.0 for i in range(200)}}), "too_many_metrics"),
    ("every value bad", _wire(reading(laeq=-5.0, pm25=3.0)), "bad_values"),
    ("a 129-character sensor id", _wire(reading("s" * 129)), "bad_field"),
    ("a metric name of 100 KB", _wire({"sensor_id": "r", "type": "noise", "ts": TS,
     "values": {"m" * 100_000: 1.0}}), "oversized"),
    ("infinite value", with_value(b"1e999"), "bad_value"),
    ("NaN literal", with_value(b"NaN"), "bad_value"),
    ("-Infinity literal", with_value(b"-Infinity"), "bad_value"),
    ("time 1e300", _wire(reading())[:-1].replace(str(TS).encode(), b"1e300") + b"}",
     "bad_timestamp"),
    ("a time zone-less ISO time", _wire(reading(ts="2026-01-05T08:00:00")), "bad_timestamp"),  # type: ignore[arg-type]
    ("an array", b"[1, 2, 3]", "not_an_object"),
    ("a bare string", b'"reboot"', "not_an_object"),
    ("not JSON", b"{oops", "bad_json"),
    ("not UTF-8", b"\xff\xfe{", "bad_encoding"),
    ("empty", b"", "bad_json"),
    ("values as a list", _wire({**reading(), "values": [1, 2]}), "missing_field"),
    ("a maintenance event of an unknown kind", _wire({"asset_id": "pump-1", "type": "pump",
     "ts": TS, "event": "explosion"}), "unknown_event"),
    ("an event with an inspected RUL of 10**400 h", b'{"asset_id": "pump-1", "type": "pump", '
     b'"ts": 1767600000000, "event": "maintenance", "rul_h": ' + b"1" * 400 + b"}", "bad_value"),
    ("latitude as a huge integer", _wire({**reading(), "lat": 10**30, "lon": 1.0}), "bad_field"),
]  # fmt: skip
