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

from dataclasses import dataclass, field


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
    change_points: list[tuple] = field(default_factory=list)
    maintenance_predictions: list[tuple] = field(default_factory=list)
    maintenance_events: list[tuple] = field(default_factory=list)
    model_metrics: list[tuple] = field(default_factory=list)
    asset_truth: list[tuple] = field(default_factory=list)
    alert_groups: list[tuple] = field(default_factory=list)
    model_resets: list[tuple] = field(default_factory=list)
    data_gaps: list[tuple] = field(default_factory=list)
    alert_deliveries: list[tuple] = field(default_factory=list)
    alert_changes: list[tuple] = field(default_factory=list)
    """Not a table: anomaly alerts opened or closed, for the district step (`corroboration`)."""
    origins: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Source partition -> (lowest, highest) offset of the records these rows came from."""

    def note(self, origin: tuple[str, int] | None) -> None:
        """Record that these rows come (partly) from the record at `origin`."""
        if origin is None:
            return
        part, offset = origin
        span = self.origins.get(part)
        if span is None:
            self.origins[part] = (offset, offset)
        elif offset < span[0]:
            self.origins[part] = (offset, span[1])
        elif offset > span[1]:
            self.origins[part] = (span[0], offset)

    def extend(self, other: Rows) -> None:
        """Append every row of `other`."""
        for name in TABLE_FIELDS:
            rows = getattr(other, name)
            if rows:
                getattr(self, name).extend(rows)
        for part, (low, high) in other.origins.items():
            self.note((part, low))
            self.note((part, high))

    def mark(self) -> tuple[int, ...]:
        """The length of every list, to take back what is appended after (`rollback`)."""
        return tuple(len(getattr(self, name)) for name in _LISTS)

    def rollback(self, mark: tuple[int, ...]) -> None:
        """Remove the rows appended since `mark` (the origins noted stay)."""
        for name, length in zip(_LISTS, mark, strict=True):
            del getattr(self, name)[length:]

    def count(self) -> int:
        """Number of rows over all destinations."""
        return sum(len(getattr(self, name)) for name in TABLE_FIELDS)


TABLE_FIELDS = (
    "readings",
    "readings_1m",
    "alerts",
    "alert_closures",
    "sensors",
    "labels",
    "dead_letters",
    "change_points",
    "maintenance_predictions",
    "maintenance_events",
    "model_metrics",
    "asset_truth",
    "alert_groups",
    "model_resets",
    "data_gaps",
    "alert_deliveries",
)

_LISTS = (*TABLE_FIELDS, "alert_changes")
