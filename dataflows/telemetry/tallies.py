"""What each step and source partition handled in this process, sampled as rates.

The flow's steps add to a process-wide `TALLIES` as they work: per step, the items it was
given and the seconds its own code took (scope `step:<step>@p<process>`); per source
partition, the records it read (scope `source:<partition>`). The first lake-sink partition of
the process due to sample takes the tallies since the previous sample, as `flow_metrics`
rows (so windows are about `CITY_METRICS_EVERY_S` long, whatever the partitions):

- `items` – items (records, for a source) in the window;
- `items_per_s` – the same per second;
- `busy_cores` – for a step, seconds of its code per second of the window: the share of one
  core it kept busy (above 1 with several workers in the process).

Scopes stay once seen, so a step that went idle reports 0.

>>> tallies = Tallies(started_s=0.0)
>>> tallies.add("step:sensors@p0", 300, seconds=0.5)
>>> tallies.add("source:sim-0", 300)
>>> for _, scope, metric, value in tallies.sample(at_ms=2_000, now_s=2.0):
...     print(scope, metric, value)
step:sensors@p0 items 300.0
step:sensors@p0 items_per_s 150.0
step:sensors@p0 busy_cores 0.25
source:sim-0 items 300.0
source:sim-0 items_per_s 150.0
"""

from __future__ import annotations

import threading
import time

from dataflows.lake.tables import FlowMetricRow


class Tallies:
    """Items and seconds per scope since the last sample; thread-safe (one per process)."""

    def __init__(self, started_s: float | None = None) -> None:
        self._lock = threading.Lock()
        self._since = time.monotonic() if started_s is None else started_s
        self._items: dict[str, int] = {}
        self._seconds: dict[str, float] = {}

    def add(self, scope: str, items: int, seconds: float | None = None) -> None:
        """Count `items` handled in `scope`, taking `seconds` if the scope is timed."""
        with self._lock:
            self._items[scope] = self._items.get(scope, 0) + items
            if seconds is not None:
                self._seconds[scope] = self._seconds.get(scope, 0.0) + seconds

    def sample(
        self, at_ms: int, now_s: float | None = None, every_s: float = 0.0
    ) -> list[FlowMetricRow]:
        """The rows of the window since the last sample, which starts a new window.

        None if the window is shorter than 0.9 `every_s`: with several sink partitions in a
        process, the first due takes the window, and windows stay about `every_s` long.
        """
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            if now_s - self._since < 0.9 * every_s:
                return []
            elapsed = max(now_s - self._since, 1e-3)
            self._since = now_s
            items, seconds = self._items, self._seconds
            self._items = dict.fromkeys(items, 0)
            self._seconds = dict.fromkeys(seconds, 0.0)
        rows = []
        for scope, count in items.items():
            rows.append(FlowMetricRow(at_ms, scope, "items", float(count)))
            rows.append(FlowMetricRow(at_ms, scope, "items_per_s", round(count / elapsed, 6)))
            if scope in seconds:
                busy = round(seconds[scope] / elapsed, 6)
                rows.append(FlowMetricRow(at_ms, scope, "busy_cores", busy))
        return rows


TALLIES = Tallies()
"""This process's tallies, added to by the flow's steps and sampled by its lake sink."""
