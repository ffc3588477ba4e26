"""Event-time one-minute aggregates of one sensor's readings, with bounded lateness.

A minute stays open until the sensor's watermark (its latest timestamp minus the allowed
lateness) passes the minute's end; then its row is final. A reading for a minute that is
already final is late: `is_late` says so, and the caller dead-letters it.

>>> buckets = MinuteBuckets()
>>> buckets.add("flow", 60_000, 10.0, 0.1, False)
>>> buckets.add("flow", 90_000, 20.0, 0.9, True)
>>> buckets.close_before(125_000)   # watermark inside the next minute: minute 1 is final
[('flow', 60000, 2, 15.0, 10.0, 20.0, 1, 0.9)]
>>> buckets.is_late(119_999), buckets.is_late(120_000)
(True, False)
"""

from __future__ import annotations

MINUTE_MS = 60_000


class MinuteBuckets:
    """Open one-minute buckets per metric of one sensor."""

    __slots__ = ("_open", "_final_before")

    def __init__(self) -> None:
        # minute start -> metric -> [count, sum, min, max, anomalies, max score]
        self._open: dict[int, dict[str, list]] = {}
        self._final_before = 0

    def is_late(self, ts_ms: int) -> bool:
        """Whether the minute of `ts_ms` is already final."""
        return ts_ms < self._final_before

    def add(self, metric: str, ts_ms: int, value: float, score: float, flagged: bool) -> None:
        """Count one reading into its minute (the caller checked `is_late` first)."""
        minute = ts_ms - ts_ms % MINUTE_MS
        metrics = self._open.get(minute)
        if metrics is None:
            metrics = self._open[minute] = {}
        bucket = metrics.get(metric)
        if bucket is None:
            metrics[metric] = [1, value, value, value, int(flagged), score]
            return
        bucket[0] += 1
        bucket[1] += value
        if value < bucket[2]:
            bucket[2] = value
        if value > bucket[3]:
            bucket[3] = value
        bucket[4] += flagged
        if score > bucket[5]:
            bucket[5] = score

    def close_before(self, watermark_ms: int) -> list[tuple]:
        """Make final every minute that ends at or before `watermark_ms`; return their rows."""
        final_before = watermark_ms - watermark_ms % MINUTE_MS
        if final_before <= self._final_before:
            return []
        self._final_before = final_before
        done = [minute for minute in self._open if minute + MINUTE_MS <= final_before]
        if not done:
            return []
        rows = []
        for minute in sorted(done):
            for metric, bucket in self._open.pop(minute).items():
                rows.append(_row(metric, minute, bucket))
        return rows

    def close_all(self) -> list[tuple]:
        """Make every open minute final (end of input)."""
        if not self._open:
            return []
        last = max(self._open) + MINUTE_MS
        rows = self.close_before(max(last, self._final_before + MINUTE_MS))
        self._final_before = max(self._final_before, last)
        return rows


def _row(metric: str, minute: int, bucket: list) -> tuple:
    count, total, low, high, anomalies, max_score = bucket
    return (metric, minute, count, total / count, low, high, anomalies, max_score)
