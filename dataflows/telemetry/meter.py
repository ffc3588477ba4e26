"""Per lake-sink partition: what it committed since its last sample, as `flow_metrics` rows.

Every `CITY_METRICS_EVERY_S` seconds each partition of the lake sink (its `scope`, e.g.
`lake-0`) samples:

- `readings` – readings it committed in the window (their sum is every reading stored);
- `readings_per_s`, `rows_per_s` – readings and rows of every table it committed;
- `dead_letters_per_min` – dead letters it committed;
- `commit_s` – mean seconds of its commits (one transaction per micro-batch);
- `event_lag_s` – now minus the newest event time of the readings it committed: how far
  behind the sensors the lake is (produce to lake, for a live stream);
- `last_commit_age_s` – seconds since its last commit.

Partition 0 adds the lake's size (`lake_bytes`, scope `lake`) and, on the Kafka flow,
each readings partition's consumer lag (`consumer_lag`: end offset minus the next offset
to store, scope `kafka:<topic>/<partition>`).

>>> from dataflows.lake.tables import ReadingRow
>>> meter = SinkMeter("lake-0", started_ms=0)
>>> rows = Rows(readings=[ReadingRow("noise-1", 8_000, "laeq", 55.0, 0.1, False)])
>>> meter.committed(rows, seconds=0.5, at_ms=9_000)
>>> {m: v for _, _, m, v in meter.sample(10_000)}["readings_per_s"]
0.1
"""

from __future__ import annotations

import threading

from dataflows.lake.rows import Rows
from dataflows.lake.tables import FLOW_TABLES, FlowMetricRow


class SinkMeter:
    """Counts one sink partition's commits between samples."""

    def __init__(self, scope: str, started_ms: int) -> None:
        self.scope = scope
        self._since = started_ms
        self._lock = threading.Lock()
        self._reset()
        self.last_commit_ms: int | None = None

    def _reset(self) -> None:
        self._readings = self._rows = self._dead = self._commits = 0
        self._commit_s = 0.0
        self._newest_event: int | None = None

    def committed(self, rows: Rows, seconds: float, at_ms: int) -> None:
        """Count one committed micro-batch of `rows` that took `seconds`."""
        newest = max((r.ts for r in rows.readings), default=None)
        with self._lock:
            self._readings += len(rows.readings)
            self._dead += len(rows.dead_letters)
            self._rows += sum(len(getattr(rows, name)) for name in FLOW_TABLES)
            self._commits += 1
            self._commit_s += seconds
            if newest is not None and (self._newest_event is None or newest > self._newest_event):
                self._newest_event = newest
            self.last_commit_ms = at_ms

    def sample(self, now_ms: int) -> list[FlowMetricRow]:
        """The rows of the window since the last sample, which starts a new window."""
        with self._lock:
            elapsed = max((now_ms - self._since) / 1000.0, 1e-3)
            figures = {
                "readings": float(self._readings),
                "readings_per_s": self._readings / elapsed,
                "rows_per_s": self._rows / elapsed,
                "dead_letters_per_min": self._dead * 60.0 / elapsed,
            }
            if self._commits:
                figures["commit_s"] = self._commit_s / self._commits
            if self._newest_event is not None:
                figures["event_lag_s"] = (now_ms - self._newest_event) / 1000.0
            if self.last_commit_ms is not None:
                figures["last_commit_age_s"] = (now_ms - self.last_commit_ms) / 1000.0
            self._since = now_ms
            self._reset()
        return [
            FlowMetricRow(now_ms, self.scope, name, round(value, 6))
            for name, value in figures.items()
        ]
