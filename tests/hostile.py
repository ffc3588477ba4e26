"""Generated hostile input for the property-based tests.

The hand-written catalogue is `dataflows.messages.hostile.HOSTILE`; the tests send it too.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from dataflows.messages.hostile import HOSTILE, TS, reading, with_value

__all__ = ["HOSTILE", "JSONISH", "WIRE_HOSTILE", "reading"]


def _wire(message: object) -> bytes:
    return json.dumps(message).encode()


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


def _nested(depth: int, inner: bytes) -> bytes:
    return b"[" * depth + inner + b"]" * depth


WIRE_HOSTILE = st.one_of(
    st.binary(max_size=300),
    st.builds(_nested, st.integers(0, 3000), st.sampled_from([b"", b"1", b'{"a": 1}'])),
    st.builds(
        lambda digits, where: (
            with_value(b"1" * digits)
            if where
            else b'{"sensor_id": "n", "type": "noise", "ts": ' + b"9" * digits + b"}"
        ),
        st.integers(1, 6000),
        st.booleans(),
    ),
    st.builds(
        lambda n, kind: _wire(
            {"sensor_id": "r", "type": kind, "ts": TS, "values": {f"m{i}": 1.0 for i in range(n)}}
        ),
        st.integers(0, 3000),
        st.sampled_from(["recorded", "noise", "water"]),
    ),
    st.builds(
        lambda text: (
            b'{"sensor_id": "' + text.encode("utf-8", "surrogatepass") + b'", "type": '
            b'"noise", "ts": 1767600000000, "values": {"laeq": 1}}'
        ),
        st.text(max_size=40),
    ),
    st.builds(lambda value: _wire(reading() | {"district": value}), JSONISH),
    JSONISH.map(lambda value: json.dumps(value).encode()),
)
"""Bytes on the wire: random, deeply nested, huge numbers, many metrics, odd text."""
