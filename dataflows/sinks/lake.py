"""Micro-batched writes of the flow's rows into the lake, one transaction per flush.

Each worker has its own partition and connection. Rows are buffered and handed over when
the buffer holds `CITY_SINK_MAX_ROWS` rows or is `CITY_SINK_FLUSH_S` seconds old, and when
the flow stops. A writer thread commits the batches in order, so that DuckDB's work
(which releases the GIL) overlaps with the flow's; at most two batches wait for it, which
holds the flow back if the lake cannot keep up. A failed write fails the flow at its next
step rather than being lost. Worker 0 also compacts the lake every `CITY_COMPACT_EVERY_S`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows import lake
from dataflows.rows import Rows
from dataflows.settings import Settings

log = logging.getLogger(__name__)

_STOP = None


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
        self._queue: queue.Queue[Rows | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._writer = threading.Thread(
            target=self._write_loop, name=f"lake-writer-{worker_index}", daemon=True
        )
        self._writer.start()

    def _write_loop(self) -> None:
        while (rows := self._queue.get()) is not _STOP:
            if self._error is not None:
                continue  # already failed: drain so the flow thread never blocks
            try:
                lake.write(self.con, rows, self.settings.lake)
                if self.compacts and time.monotonic() - self.last_compact >= (
                    self.settings.compact_every_s
                ):
                    self.last_compact = time.monotonic()
                    lake.compact(self.con, self.settings.lake)
            except BaseException as error:  # re-raised on the flow's thread
                self._error = error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"writing to the lake at {self.settings.lake} failed") from (
                self._error
            )

    def write_batch(self, items: list[Rows]) -> None:
        self._raise_if_failed()
        for rows in items:
            self.buffer.extend(rows)
            self.buffered += rows.count()
        if self.buffered >= self.settings.sink_max_rows or (
            self.buffered and time.monotonic() - self.last_flush >= self.settings.sink_flush_s
        ):
            self.flush()

    def flush(self) -> None:
        if self.buffered:
            self._queue.put(self.buffer)
            log.debug("handed %d rows to the lake writer", self.buffered)
        self.buffer = Rows()
        self.buffered = 0
        self.last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()
        self._queue.put(_STOP)
        self._writer.join()
        self._raise_if_failed()
        if self.compacts:
            lake.compact(self.con, self.settings.lake)
        self.con.close()
