"""Rows bound for the lake, grouped by table, as produced by the flow's steps.

Each step emits one `Rows` per batch rather than one item per row, so that Bytewax moves a
few objects instead of millions; the lake sink merges them and writes each table at once.
Every row is a plain tuple in the column order of its table in `dataflows.lake.TABLES`.

>>> rows = Rows()
>>> rows.readings.append(("noise-1", 1767225600000, "laeq", 55.0, 0.1, False))
>>> other = Rows(dead_letters=[(1767225600000, "sim", None, None, "bad", "{}")])
>>> rows.extend(other)
>>> rows.count()
2
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class Rows:
    """Lists of row tuples, one list per destination (see `dataflows.lake.TABLES`)."""

    readings: list[tuple] = field(default_factory=list)
    readings_1m: list[tuple] = field(default_factory=list)
    alerts: list[tuple] = field(default_factory=list)
    alert_closures: list[tuple] = field(default_factory=list)
    sensors: list[tuple] = field(default_factory=list)
    labels: list[tuple] = field(default_factory=list)
    dead_letters: list[tuple] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        """Append every row of `other`."""
        for f in fields(self):
            rows = getattr(other, f.name)
            if rows:
                getattr(self, f.name).extend(rows)

    def count(self) -> int:
        """Number of rows over all destinations."""
        return sum(len(getattr(self, f.name)) for f in fields(self))
