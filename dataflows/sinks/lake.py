"""Micro-batched writes of the flow's rows into the lake, one transaction per flush.

Each worker has its own partition and connection. Rows are buffered and written when the
buffer holds `CITY_SINK_MAX_ROWS` rows or is `CITY_SINK_FLUSH_S` seconds old, and when the
flow stops. Worker 0 also compacts the lake every `CITY_COMPACT_EVERY_S` seconds.
"""

from __future__ import annotations

import logging
import time

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows import lake
from dataflows.rows import Rows
from dataflows.settings import Settings

log = logging.getLogger(__name__)


class LakeSink(DynamicSink[Rows]):
    """Writes `Rows` into the lake at `settings.lake`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _LakePartition:
        return _LakePartition(self.settings, worker_index)


class _LakePartition(StatelessSinkPartition[Rows]):
    def __init__(self, settings: Settings, worker_index: int) -> None:
        self.settings = settings
        self.compacts = worker_index == 0 and settings.compact_every_s > 0
        self.con = lake.connect(settings.lake)
        self.buffer = Rows()
        self.buffered = 0
        self.last_flush = time.monotonic()
        self.last_compact = time.monotonic()

    def write_batch(self, items: list[Rows]) -> None:
        for rows in items:
            self.buffer.extend(rows)
            self.buffered += rows.count()
        now = time.monotonic()
        if self.buffered >= self.settings.sink_max_rows or (
            self.buffered and now - self.last_flush >= self.settings.sink_flush_s
        ):
            self.flush()
        if self.compacts and now - self.last_compact >= self.settings.compact_every_s:
            self.last_compact = now
            lake.compact(self.con, self.settings.lake)

    def flush(self) -> None:
        if self.buffered:
            lake.write(self.con, self.buffer, self.settings.lake)
            log.debug("wrote %d rows", self.buffered)
        self.buffer = Rows()
        self.buffered = 0
        self.last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()
        if self.compacts:
            lake.compact(self.con, self.settings.lake)
        self.con.close()
