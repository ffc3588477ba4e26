"""Writing the flow's micro-batches into the lake: one transaction each, exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import duckdb

from dataflows.lake.address import Lake
from dataflows.lake.connection import transaction, writer_lock
from dataflows.lake.rows import Rows
from dataflows.lake.tables import (
    CLOSURES,
    FLOW_TABLES,
    TABLES,
    AlertClosure,
    Column,
    DeadLetter,
    SinkProgressRow,
    Table,
    arrow_table,
)
from dataflows.messages.schema import internal_error, now_ms, payload_text

log = logging.getLogger(__name__)


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[tuple]) -> None:
    """Append row tuples (in the column order of `TABLES[table]`) to `table`."""
    unbuildable = _insert(con, TABLES[table], rows)
    if unbuildable:
        raise ValueError(f"{len(unbuildable)} rows of {table} do not fit its columns")


def _insert(
    con: duckdb.DuckDBPyConnection, table: Table, rows: Sequence, dedup: bool = False
) -> list[tuple[tuple, Exception]]:
    """Insert `rows`; the rows that do not fit the table's columns, with why, are left out.

    With `dedup` (rows that may have been written before a restart), or always for a table
    whose first row of a key wins, rows whose natural key is stored already are left out.
    """
    unbuildable: list[tuple[tuple, Exception]] = []
    try:
        batch = arrow_table(table.columns, rows)
    except Exception as error:  # one row's fault: find it, keep the rest
        rows, unbuildable = _buildable(table.columns, rows)
        if not unbuildable:
            raise
        log.warning("%d rows of %s do not fit its columns: %s", len(unbuildable), table.name, error)
        if not rows:
            return unbuildable
        batch = arrow_table(table.columns, rows)
    con.register("_batch", batch)
    try:
        if table.key and (dedup or table.first_wins):
            existing = f"SELECT {', '.join(table.key)} FROM {table.name}"
            bound = None if table.first_wins else table.bound
            if bound is not None:  # only files whose time range overlaps the batch's
                existing += (
                    f" WHERE {bound} BETWEEN (SELECT min({bound}) FROM _batch)"
                    f" AND (SELECT max({bound}) FROM _batch)"
                )
            same = " AND ".join(f"b.{key} IS NOT DISTINCT FROM e.{key}" for key in table.key)
            con.execute(
                f"INSERT INTO {table.name} SELECT b.* FROM _batch b "
                f"ANTI JOIN ({existing}) e ON {same}"
            )
        else:
            con.execute(f"INSERT INTO {table.name} SELECT * FROM _batch")
    finally:
        con.unregister("_batch")
    return unbuildable


def _buildable(
    columns: tuple[Column, ...], rows: Sequence
) -> tuple[list, list[tuple[tuple, Exception]]]:
    """Split `rows` into those that make an Arrow table with `columns` and those that do not."""
    good, bad = [], []
    for row in rows:
        try:
            arrow_table(columns, [row])
        except Exception as error:
            bad.append((row, error))
        else:
            good.append(row)
    return good, bad


def _unbuildable_letter(table: Table, row: tuple, error: Exception) -> DeadLetter:
    """The dead letter of a row that could not be written: its table, key and reason."""
    keys = table.key or table.names[:1]
    key = ",".join(payload_text(row[table.names.index(k)]) for k in keys)[:200]
    first = row[0] if row and isinstance(row[0], str) else None
    sensor_id = None if first is None else payload_text(first)[:128]
    return DeadLetter(
        now_ms(),
        "lake",
        f"{table.name}:{key}",
        sensor_id,
        internal_error(error),
        payload_text(row),
    )


def committed_offsets(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per source partition, the highest offset whose results are in the lake."""
    rows = con.execute(
        "SELECT source_partition, max(max_offset) FROM sink_progress GROUP BY 1"
    ).fetchall()
    return dict(rows)


def write(
    con: duckdb.DuckDBPyConnection,
    rows: Rows,
    lake: Lake,
    replayed: Rows | None = None,
) -> None:
    """Write one micro-batch into the lake at `lake` in one transaction.

    `replayed` holds rows that a restarted flow may already have written before it stopped:
    they are inserted only where no row with the same natural key exists. The transaction
    also records the highest source offset of all these rows (`sink_progress`), so that a
    restart knows which of its rows may be replays.
    """
    batches = [(rows, False)] + ([(replayed, True)] if replayed is not None else [])
    progress: dict[str, int] = {}
    for batch, _ in batches:
        for part, (_, high) in batch.origins.items():
            progress[part] = max(high, progress.get(part, high))
    committed = now_ms()
    for attempt in range(20):
        try:
            with writer_lock(lake), transaction(con):
                for batch, dedup in batches:
                    _write_tables(con, batch, dedup)
                if progress:
                    marks = [
                        SinkProgressRow(part, high, committed) for part, high in progress.items()
                    ]
                    _insert(con, TABLES["sink_progress"], marks)
            return
        except (duckdb.TransactionException, duckdb.IOException) as error:
            # a writer on another machine (shared folder) or a compaction can still conflict
            if attempt == 19:
                raise
            log.warning("lake write conflict, retrying: %s", error)
            time.sleep(0.05 * (attempt + 1))


def _write_tables(con: duckdb.DuckDBPyConnection, rows: Rows, dedup: bool) -> None:
    letters = []
    for name in FLOW_TABLES:
        batch = getattr(rows, name)
        if batch:
            for row, error in _insert(con, TABLES[name], batch, dedup):
                letters.append(_unbuildable_letter(TABLES[name], row, error))
    if rows.alert_closures:
        letters += _close_alerts(con, rows.alert_closures)
    if letters:
        _insert(con, TABLES["dead_letters"], letters, dedup)


def _close_alerts(con: duckdb.DuckDBPyConnection, closures: list[AlertClosure]) -> list[DeadLetter]:
    """Apply alert closures; the dead letters of closures that do not fit the columns."""
    closures, unbuildable = _buildable(CLOSURES, closures)
    alerts = TABLES["alerts"]
    letters = [_unbuildable_letter(alerts, row, error) for row, error in unbuildable]
    if not closures:
        return letters
    con.register("_closures", arrow_table(CLOSURES, closures))
    try:
        con.execute(
            "UPDATE alerts SET closed_at = c.closed_at, peak_score = c.peak_score, "
            "metrics = c.metrics, anomalous_readings = c.anomalous_readings, "
            "severity = c.severity "
            "FROM _closures AS c WHERE alerts.alert_id = c.alert_id"
        )
    finally:
        con.unregister("_closures")
    return letters
