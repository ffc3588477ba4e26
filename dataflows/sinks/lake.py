"""Micro-batched writes of the flow's rows into the lake, one transaction per flush.

The sink has `CITY_SINK_PARTITIONS` partitions, which Bytewax spreads over the workers. A
step before the sink (`LakeSink.gather`) merges each batch's rows into one `Rows` per
partition, and sends them to a partition of their own process when it has one, so that they
need not cross to another process; alerts and their closings go by their key, to keep their
order. Each partition has its own connection. Rows are buffered and handed over when the
buffer holds `CITY_SINK_MAX_ROWS` rows or is `CITY_SINK_FLUSH_S` seconds old, at the end of
every epoch, and when the flow stops. A writer thread commits the batches in order, so that
DuckDB's work (which releases the GIL) overlaps with the flow's; at most two batches wait
for it, which holds the flow back if the lake cannot keep up. A failed write fails the flow
at its next step rather than being lost, and stops it with a one-line reason. Partition 0
also applies the retention periods and compacts the lake every `CITY_COMPACT_EVERY_S`
seconds. Every `CITY_METRICS_EVERY_S` seconds each partition samples what it committed into
`flow_metrics` and the process's Prometheus endpoint (`dataflows.telemetry`), with the
tallies of the process's steps and source partitions since the last sample.

Dead letters are rate-limited per partition (`dataflows.flow.dead_letter_limit`:
`CITY_DEAD_LETTERS_PER_MINUTE` per sensor and reason, `CITY_DEAD_LETTERS_MAX_PER_MINUTE` in
all); what the limits leave out is counted in summary rows. The limiter's counts are the
partition's recovery state. A replay's dead letters are not limited: its input is finite and
already on disk.

Exactly once, whatever the crashes and restarts:

- Bytewax calls `snapshot()` at the end of every epoch, before it commits the epoch's
  recovery snapshot; the partition then writes everything buffered and waits for the
  commit, so no row of a finished epoch exists only in memory.
- Every transaction also records, per source partition, the highest offset of the records
  its rows came from (`sink_progress`). A restarted flow replays the records after its
  last snapshot; rows from records at or below a mark may already be in the lake, so they
  are inserted only where their natural key is absent (`lake.NATURAL_KEYS`). Rows from
  newer records are inserted as usual, at full speed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib

import duckdb
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from dataflows import lake
from dataflows.catalogue.load import load_catalogue
from dataflows.flow.dead_letter_limit import DeadLetterLimiter
from dataflows.flow.isolation import FlowStopped
from dataflows.flow.run_options import process_label
from dataflows.lake.rows import Rows
from dataflows.messages.schema import now_ms
from dataflows.settings import Settings
from dataflows.telemetry import prometheus
from dataflows.telemetry.lake_figures import ConsumerLag, DeadLettersBySource, lake_bytes
from dataflows.telemetry.meter import SinkMeter
from dataflows.telemetry.tallies import TALLIES

log = logging.getLogger(__name__)

_STOP = None


class LakeSink(FixedPartitionedSink[Rows, object]):
    """Writes keyed `Rows` into the lake at `settings.lake`."""

    def __init__(self, settings: Settings, limit_dead_letters: bool = True) -> None:
        self.settings = settings
        self.limit_dead_letters = limit_dead_letters
        self._ordered = sorted(f"lake-{k}" for k in range(settings.sink_partitions))
        """The partitions' names in the order Bytewax wraps `part_fn` into."""
        self._built_here: tuple[str, ...] = ()
        """The partitions built in this process (its workers share this sink)."""

    def list_parts(self) -> list[str]:
        return list(self._ordered)

    def part_fn(self, item_key: str) -> int:
        """A partition's name routes to that partition; any other key by its CRC-32.

        Bytewax wraps this value into the partitions' names in sorted order.

        >>> sink = LakeSink(Settings(sink_partitions=12))
        >>> sink.part_fn("lake-10"), sorted(sink.list_parts())[2]
        (2, 'lake-10')
        """
        if item_key in self._ordered:
            return self._ordered.index(item_key)
        return zlib.crc32(item_key.encode())

    def gather(self, batch: list[tuple[str, Rows]]) -> list[tuple[str, Rows]]:
        """The batch's `Rows` merged into one per partition, keyed by the partition's name.

        `Rows` are written by a partition built in this process when there is one: Bytewax
        pickles every item it moves to another process (`docs/benchmark.md`, "Rows written
        where they are made"). Which partition writes a row does not matter for
        exactly-once (a restart's replayed rows are checked against the whole lake), with one
        exception: an alert's closing updates the row its opening inserted, so it must be
        committed after it. `Rows` with alerts or closings therefore always go to their
        key's partition among all of them, and the partitions commit in order. Bytewax
        builds a partition only when its first rows arrive, so the first batches, before
        this process has one, are spread by key too.

        >>> from dataflows.lake.tables import SensorRow
        >>> sink = LakeSink(Settings(sink_partitions=1))
        >>> parts = [(f"noise-{k}", Rows(sensors=[SensorRow(f"noise-{k}", *[None] * 6)]))
        ...          for k in range(3)]
        >>> [(key, rows.count()) for key, rows in sink.gather(parts)]
        [('lake-0', 3)]
        """
        everywhere = self._ordered
        here = self._built_here or everywhere
        groups: dict[str, list[Rows]] = {}
        for key, rows in batch:
            spread = zlib.crc32(key.encode())
            if rows.alerts or rows.alert_closures:
                name = everywhere[spread % len(everywhere)]
            else:
                name = here[spread % len(here)]
            groups.setdefault(name, []).append(rows)
        gathered = []
        for name, parts in groups.items():
            if len(parts) == 1:
                gathered.append((name, parts[0]))
                continue
            merged = Rows()  # new: the parts also go to the alert steps
            for rows in parts:
                merged.extend(rows)
            gathered.append((name, merged))
        return gathered

    def build_part(
        self, step_id: str, for_part: str, resume_state: object | None
    ) -> _LakePartition:
        index = int(for_part.removeprefix("lake-"))
        self._built_here = tuple(sorted({*self._built_here, for_part}))
        return _LakePartition(self.settings, index, resume_state, self.limit_dead_letters)


class _LakePartition(StatefulSinkPartition[Rows, object]):
    def __init__(
        self, settings: Settings, index: int, resume_state: object | None, limit: bool
    ) -> None:
        self.settings = settings
        unlimited = 2**62
        self.limiter = DeadLetterLimiter(
            settings.dead_letters_per_minute if limit else unlimited,
            settings.dead_letters_max_per_minute if limit else unlimited,
            resume_state,  # type: ignore[arg-type]
        )
        self.compacts = index == 0 and settings.compact_every_s > 0
        self.address = lake.LakeAddress.from_settings(settings)
        self.con = lake.connect(self.address, catalogue=load_catalogue(settings.catalogue))
        self.committed = lake.committed_offsets(self.con)
        self.buffer = Rows()
        self.replayed = Rows()
        self.buffered = 0
        self.last_flush = time.monotonic()
        self.last_compact = time.monotonic()
        self._queue: queue.Queue[tuple[Rows, Rows | None] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._told = False  # the reason is logged once, however often it is raised
        self.index = index
        self.meter = SinkMeter(f"lake-{index}", now_ms())
        self.step_scope = f"step:lake@{process_label()}"  # its commits, in the process's tallies
        self.last_sample = time.monotonic()
        self._lag: ConsumerLag | None = None
        self._dead_by_source = DeadLettersBySource()
        self._telemetry_failed = False
        prometheus.serve(settings.metrics_host, settings.metrics_port)
        self._writer = threading.Thread(
            target=self._write_loop, name=f"lake-writer-{index}", daemon=True
        )
        self._writer.start()

    def _write_loop(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self.settings.metrics_every_s)
            except queue.Empty:  # idle: the metrics still say so
                self._sample_if_due()
                continue
            try:
                if batch is _STOP:
                    return
                if self._error is not None:
                    continue  # already failed: drain so the flow thread never blocks
                rows, replayed = batch
                started = time.perf_counter()
                lake.write(self.con, rows, self.address, replayed)
                took = time.perf_counter() - started
                self.meter.committed(rows, took, now_ms())
                TALLIES.add(
                    self.step_scope, rows.count() + (replayed.count() if replayed else 0), took
                )
                if replayed is not None:
                    self.meter.committed(replayed, 0.0, now_ms())
                if self.compacts and time.monotonic() - self.last_compact >= (
                    self.settings.compact_every_s
                ):
                    self.last_compact = time.monotonic()
                    self._maintain()
                self._sample_if_due()
            except BaseException as error:  # re-raised on the flow's thread
                self._error = error
            finally:
                self._queue.task_done()

    def _sample_if_due(self, force: bool = False) -> None:
        """Every `CITY_METRICS_EVERY_S`: the meter's sample into `flow_metrics` and `/metrics`.

        The flow's own metrics never stop it: a failure is logged once and skipped.
        """
        if self._error is not None:
            return
        if not force and time.monotonic() - self.last_sample < self.settings.metrics_every_s:
            return
        self.last_sample = time.monotonic()
        at = now_ms()
        every_s = 0.0 if force else self.settings.metrics_every_s
        rows = self.meter.sample(at) + TALLIES.sample(at, every_s=every_s)
        try:
            if self.index == 0:
                rows.append(lake_bytes(self.con, at))
                rows.extend(self._dead_by_source.rows(self.con, at))
                if self.settings.source == "kafka":
                    self._lag = self._lag or ConsumerLag(self.settings)
                    rows.extend(self._lag.rows(self.con, at))
            with lake.writer_lock(self.address), lake.transaction(self.con):
                lake.insert(self.con, "flow_metrics", rows)
        except Exception as error:  # noqa: BLE001 - telemetry must not stop the flow
            if not self._telemetry_failed:
                log.warning("flow metrics not written: %s: %s", type(error).__name__, error)
                self._telemetry_failed = True
        prometheus.BOARD.update(rows)

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is not None:
            why = " ".join(str(error).split())[:300]
            message = f"cannot write to the lake at {self.address}: {type(error).__name__}: {why}"
            if not self._told:
                log.critical("stopping the flow: %s", message)
                self._told = True
            raise FlowStopped(message) from error

    def write_batch(self, items: list[Rows]) -> None:
        self._raise_if_failed()
        committed = self.committed
        for rows in items:
            replay = committed and any(
                low <= committed.get(part, -1) for part, (low, _) in rows.origins.items()
            )
            (self.replayed if replay else self.buffer).extend(rows)
            self.buffered += rows.count()
        if self.buffered >= self.settings.sink_max_rows or (
            self.buffered and time.monotonic() - self.last_flush >= self.settings.sink_flush_s
        ):
            self.flush()

    def flush(self) -> None:
        if self.buffered:
            self.buffer.dead_letters = self.limiter.admit(self.buffer.dead_letters)
            self.replayed.dead_letters = self.limiter.admit(self.replayed.dead_letters)
            replayed = self.replayed if self.replayed.count() or self.replayed.origins else None
            self._queue.put((self.buffer, replayed))
            log.debug("handed %d rows to the lake writer", self.buffered)
        self.buffer = Rows()
        self.replayed = Rows()
        self.buffered = 0
        self.last_flush = time.monotonic()

    def _maintain(self) -> None:
        """Retention, then compaction (partition 0 only).

        Other writers of a shared lake (processes, hosts, replays) commit meanwhile, and
        DuckLake refuses a compaction or deletion that conflicts with one of them: that
        round is skipped, and the next one, `CITY_COMPACT_EVERY_S` later, tries again.
        """
        days = {
            table.name: getattr(self.settings, table.retention.setting)
            for table in lake.TABLES.values()
            if table.retention is not None
        }
        try:
            lake.apply_retention(self.con, self.address, days)
            lake.compact(self.con, self.address)
        except (duckdb.TransactionException, duckdb.IOException) as error:
            log.warning("lake upkeep skipped this round, another writer conflicted: %s", error)

    def _summarise(self, now: int | None) -> None:
        """Add the summaries of dead letters left out in a minute that is over."""
        summaries = self.limiter.flush(now)
        if summaries:
            self.buffer.dead_letters.extend(summaries)
            self.buffered += len(summaries)

    def snapshot(self) -> object:
        """End of an epoch: make everything received so far durable before Bytewax moves on."""
        self._summarise(now_ms())
        self.flush()
        self._queue.join()
        self._raise_if_failed()
        return self.limiter.state()

    def close(self) -> None:
        self._summarise(None)
        self.flush()
        self._queue.put(_STOP)
        self._writer.join()
        self._raise_if_failed()
        self._sample_if_due(force=True)  # the last window, however short
        if self._lag is not None:
            self._lag.close()
        if self.compacts:
            self._maintain()
        self.con.close()
