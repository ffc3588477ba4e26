"""What one message may cost the flow, checked before anything expensive is built from it.

A gateway's message becomes models, matrices and rows; a hostile one must not be able to
make that unbounded. `MessageLimits` holds the bounds, `parse_json` applies the ones that
must hold before and while the JSON is parsed, and `dataflows.messages.schema.validate` the rest.

>>> limits = MessageLimits()
>>> parse_json(b'{"a": [1, 2]}', limits)
{'a': [1, 2]}
>>> parse_json(b"[" * 40 + b"]" * 40, limits)
Traceback (most recent call last):
...
ValueError: too_deep: JSON nested deeper than 32 levels
>>> parse_json(b"9" * 5000, limits)  # no 5,000-digit integer is ever built
inf
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LONGEST_INT_DIGITS = 24
"""Integers with more digits are read as floats (a 5,000-digit one would be `inf`)."""


@dataclass(frozen=True)
class MessageLimits:
    """Bounds on one message; the defaults are what a city's gateways need many times over.

    A reading of the largest built-in type is about 250 bytes, 3 levels deep, with 3 metrics.
    """

    max_bytes: int = 65_536
    """Largest message, in bytes (`CITY_MAX_MESSAGE_BYTES`)."""
    max_depth: int = 32
    """Deepest JSON nesting; a reading has 2 levels."""
    max_metrics: int = 64
    """Most metrics in one message, and of one sensor (`CITY_MAX_METRICS`)."""
    max_id_chars: int = 128
    """Longest sensor or asset id."""
    max_name_chars: int = 64
    """Longest district or metric name."""
    allow_recorded: bool = True
    """Whether messages of the open replay type `recorded` are accepted from this source."""


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether the JSON `text` nests arrays and objects deeper than `limit`.

    Brackets inside strings do not count. It costs one count for an ordinary message.

    >>> nesting_exceeds('{"values": {"flow": 1}}', 2), nesting_exceeds('[[["[[["]]]', 2)
    (False, True)
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _bounded_int(digits: str) -> int | float:
    return int(digits) if len(digits) <= _LONGEST_INT_DIGITS else float(digits)


def parse_json(value: bytes, limits: MessageLimits) -> Any:
    """The message's JSON value; `ValueError` with a dead-letter reason if it breaks a rule.

    Size and nesting are checked before parsing, so neither Python's recursion limit nor its
    integer-conversion limit can be reached.
    """
    if len(value) > limits.max_bytes:
        raise ValueError(f"oversized: {len(value)} bytes, limit {limits.max_bytes}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("bad_encoding: not UTF-8") from None
    if nesting_exceeds(text, limits.max_depth):
        raise ValueError(f"too_deep: JSON nested deeper than {limits.max_depth} levels")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:  # unreachable after the nesting check; kept as a guard
        raise ValueError("too_deep: JSON nested too deeply") from None
    except ValueError as error:
        raise ValueError(f"bad_json: {str(error)[:200]}") from None
