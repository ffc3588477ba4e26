"""The readings of one sensor from one source batch: the item the sensor step is given.

Bytewax moves every item of a keyed step to the worker that owns its key, and pickles the
items that cross to another process one by one. Grouping a batch's readings by sensor
makes one item of what were a dozen, and `SensorReadings` pickles by columns: the fields
that are the same in every reading (sensor, type, district, position) once, the others as
one tuple each: a reading crossing to another process costs less than half of what it did
alone (`docs/benchmark.md`, "Fewer, cheaper items between processes").

>>> import pickle
>>> from dataflows.messages.schema import Reading
>>> first = Reading("noise-1", "noise", 1_000, {"laeq": 55.0}, "north", 52.5, 13.4, ("p", 7))
>>> group = SensorReadings([first, first._replace(ts_ms=61_000, origin=("p", 9))])
>>> len(group)
2
>>> again = pickle.loads(pickle.dumps(group))
>>> again.readings == group.readings, type(again.readings[1]).__name__
(True, 'Reading')
"""

from __future__ import annotations

import math
from itertools import repeat
from typing import Any

from dataflows.messages.schema import Reading

_SHAREABLE = (str, int, float, bool, type(None))
"""Immutable values a column may hold once for every reading; a dict never is."""


def _once(column: tuple) -> bool:
    """Every value of `column` can be stood for by the first: same immutable type and value.

    >>> _once(("a", "a")), _once((0.0, -0.0)), _once((1, 1.0)), _once(({}, {}))
    (True, False, False, False)
    """
    first = column[0]
    kind = type(first)
    if kind not in _SHAREABLE or column.count(first) != len(column):
        return False
    if kind is str or first is None:  # equal to nothing of another type
        return True
    if any(type(value) is not kind for value in column):  # 1 == 1.0 == True
        return False
    if kind is not float or first != 0.0:
        return True
    sign = math.copysign(1.0, first)  # 0.0 == -0.0
    return all(math.copysign(1.0, value) == sign for value in column)


class SensorReadings:
    """Readings of one sensor, in arrival order; pickled by columns.

    A field equal in every reading is pickled once (only immutable scalars: a reading's
    `values` dict is never shared between the readings unpickled).
    """

    __slots__ = ("readings",)

    def __init__(self, readings: list[Reading]) -> None:
        self.readings = readings

    def __len__(self) -> int:
        return len(self.readings)

    def __repr__(self) -> str:
        return f"SensorReadings({self.readings!r})"

    def __reduce__(self) -> tuple:
        columns: list[tuple[bool, Any]] = []
        for column in zip(*self.readings, strict=True):
            columns.append((True, column[0]) if _once(column) else (False, column))
        return (_unpickle_sensor_readings, (len(self.readings), columns))


def _unpickle_sensor_readings(count: int, columns: list[tuple[bool, Any]]) -> SensorReadings:
    """The `SensorReadings` that `SensorReadings.__reduce__` packed."""
    full = [repeat(data, count) if once else data for once, data in columns]
    new = tuple.__new__
    return SensorReadings([new(Reading, fields) for fields in zip(*full, strict=True)])


def readings_in(groups: list[SensorReadings]) -> int:
    """How many readings `groups` hold (the sensor step's tally counts readings, not groups).

    >>> from dataflows.messages.schema import Reading
    >>> one = Reading("noise-1", "noise", 1_000, {"laeq": 55.0})
    >>> readings_in([SensorReadings([one, one]), SensorReadings([one])])
    3
    """
    return sum(len(group) for group in groups)
