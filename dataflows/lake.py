"""The lake: one module owns its schema, its connections, its writes and its compaction.

Tables live in a DuckLake lake: a SQLite catalog (`<lake>/catalog.sqlite`) and Parquet files
(`<lake>/files/`). Any number of processes can read while one or more write; every write
of the flow is one transaction, so a reader sees a micro-batch entirely or not at all.

DuckDB's `ducklake` and `sqlite` extensions come from the `duckdb-extension-*` wheels, so
nothing is downloaded at run time.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     con = connect(folder)
...     con.sql("SELECT count(*) FROM readings").fetchone()
(0,)
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from dataflows.isolation import internal_error
from dataflows.logs import configure_logging
from dataflows.rows import Rows
from dataflows.schema import SENSOR_TYPES, now_ms, payload_text

log = logging.getLogger(__name__)

CATALOG = "lake"
"""Name under which the lake is attached; `USE lake` makes its tables the default."""

TS = pa.timestamp("ms", tz="UTC")
BUSY_TIMEOUT_MS = 10_000
"""How long a catalog access waits for another process's lock before failing."""

TABLES: dict[str, list[tuple[str, str, pa.DataType]]] = {
    "sensors": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("type", "VARCHAR", pa.string()),
        ("district", "VARCHAR", pa.string()),
        ("lat", "DOUBLE", pa.float64()),
        ("lon", "DOUBLE", pa.float64()),
        ("unit", "VARCHAR", pa.string()),
        ("first_seen", "TIMESTAMPTZ", TS),
    ],
    "readings": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("metric", "VARCHAR", pa.string()),
        ("value", "DOUBLE", pa.float64()),
        ("score", "DOUBLE", pa.float64()),
        ("is_anomaly", "BOOLEAN", pa.bool_()),
    ],
    "readings_1m": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("minute", "TIMESTAMPTZ", TS),
        ("n", "INTEGER", pa.int32()),
        ("mean", "DOUBLE", pa.float64()),
        ("min", "DOUBLE", pa.float64()),
        ("max", "DOUBLE", pa.float64()),
        ("anomalies", "INTEGER", pa.int32()),
        ("max_score", "DOUBLE", pa.float64()),
    ],
    "alerts": [
        ("alert_id", "VARCHAR", pa.string()),
        ("sensor_id", "VARCHAR", pa.string()),
        ("sensor_type", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("metrics", "VARCHAR", pa.string()),
        ("opened_at", "TIMESTAMPTZ", TS),
        ("closed_at", "TIMESTAMPTZ", TS),
        ("peak_score", "DOUBLE", pa.float64()),
        ("anomalous_readings", "INTEGER", pa.int32()),
        ("detector", "VARCHAR", pa.string()),
        ("severity", "VARCHAR", pa.string()),
        ("model_version", "VARCHAR", pa.string()),
        ("detail", "VARCHAR", pa.string()),
    ],
    "alert_actions": [
        ("alert_id", "VARCHAR", pa.string()),
        ("action", "VARCHAR", pa.string()),
        ("actor", "VARCHAR", pa.string()),
        ("acted_at", "TIMESTAMPTZ", TS),
        ("note", "VARCHAR", pa.string()),
    ],
    "evaluations": [
        ("evaluated_at", "TIMESTAMPTZ", TS),
        ("dataset", "VARCHAR", pa.string()),
        ("scope", "VARCHAR", pa.string()),
        ("figure", "VARCHAR", pa.string()),
        ("value", "DOUBLE", pa.float64()),
    ],
    "labels": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("start_ts", "TIMESTAMPTZ", TS),
        ("end_ts", "TIMESTAMPTZ", TS),
        ("event_id", "VARCHAR", pa.string()),
        ("district", "VARCHAR", pa.string()),
    ],
    "dead_letters": [
        ("received_at", "TIMESTAMPTZ", TS),
        ("source", "VARCHAR", pa.string()),
        ("position", "VARCHAR", pa.string()),
        ("sensor_id", "VARCHAR", pa.string()),
        ("reason", "VARCHAR", pa.string()),
        ("payload", "VARCHAR", pa.string()),
    ],
    "change_points": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("metrics", "VARCHAR", pa.string()),
        ("detector", "VARCHAR", pa.string()),
        ("statistic", "DOUBLE", pa.float64()),
    ],
    "maintenance_predictions": [
        ("asset_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("rul", "DOUBLE", pa.float64()),
        ("rul_low", "DOUBLE", pa.float64()),
        ("rul_high", "DOUBLE", pa.float64()),
        ("failure_prob", "DOUBLE", pa.float64()),
        ("model", "VARCHAR", pa.string()),
    ],
    "maintenance_events": [
        ("ts", "TIMESTAMPTZ", TS),
        ("asset_type", "VARCHAR", pa.string()),
        ("asset_id", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("detail", "VARCHAR", pa.string()),
    ],
    "model_metrics": [
        ("model", "VARCHAR", pa.string()),
        ("asset_type", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("labelled", "BIGINT", pa.int64()),
        ("mae", "DOUBLE", pa.float64()),
        ("rmse", "DOUBLE", pa.float64()),
        ("coverage", "DOUBLE", pa.float64()),
        ("brier", "DOUBLE", pa.float64()),
        ("censored", "BIGINT", pa.int64()),
    ],
    "asset_truth": [
        ("asset_id", "VARCHAR", pa.string()),
        ("asset_type", "VARCHAR", pa.string()),
        ("from_ts", "TIMESTAMPTZ", TS),
        ("failure_ts", "TIMESTAMPTZ", TS),
    ],
    "alert_groups": [
        ("group_id", "VARCHAR", pa.string()),
        ("alert_id", "VARCHAR", pa.string()),
    ],
    "model_resets": [
        ("reset_at", "TIMESTAMPTZ", TS),
        ("step", "VARCHAR", pa.string()),
        ("key", "VARCHAR", pa.string()),
        ("what", "VARCHAR", pa.string()),
        ("reason", "VARCHAR", pa.string()),
        ("position", "VARCHAR", pa.string()),
    ],
    "data_gaps": [
        ("detected_at", "TIMESTAMPTZ", TS),
        ("source_partition", "VARCHAR", pa.string()),
        ("first_offset", "BIGINT", pa.int64()),
        ("last_offset", "BIGINT", pa.int64()),
        ("missing", "BIGINT", pa.int64()),
        ("reason", "VARCHAR", pa.string()),
    ],
    "alert_deliveries": [
        ("event_id", "VARCHAR", pa.string()),
        ("alert_id", "VARCHAR", pa.string()),
        ("channel", "VARCHAR", pa.string()),
        ("status", "VARCHAR", pa.string()),
        ("attempted_at", "TIMESTAMPTZ", TS),
        ("detail", "VARCHAR", pa.string()),
    ],
    "sink_progress": [
        ("source_partition", "VARCHAR", pa.string()),
        ("max_offset", "BIGINT", pa.int64()),
        ("committed_at", "TIMESTAMPTZ", TS),
    ],
    "metrics": [
        ("sensor_type", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("unit", "VARCHAR", pa.string()),
        ("low", "DOUBLE", pa.float64()),
        ("high", "DOUBLE", pa.float64()),
        ("description", "VARCHAR", pa.string()),
    ],
}
"""Every table: (column, DuckDB type, Arrow type), in the order of the row tuples."""

_CLOSURES = [
    ("alert_id", "VARCHAR", pa.string()),
    ("closed_at", "TIMESTAMPTZ", TS),
    ("peak_score", "DOUBLE", pa.float64()),
    ("metrics", "VARCHAR", pa.string()),
    ("anomalous_readings", "INTEGER", pa.int32()),
    ("severity", "VARCHAR", pa.string()),
]


def extension_dir() -> Path:
    """A folder laid out as DuckDB's extension directory, pointing at the PyPI wheels' files.

    The sqlite wheel ships `sqlite.duckdb_extension`, whose entry point DuckDB knows as
    `sqlite_scanner`, so the folder links it under that name.
    """
    import duckdb_extension_ducklake
    import duckdb_extension_sqlite

    version = duckdb.__version__
    links = {
        "ducklake": _wheel_file(duckdb_extension_ducklake, "ducklake", version),
        "sqlite_scanner": _wheel_file(duckdb_extension_sqlite, "sqlite", version),
    }
    folder = Path(duckdb_extension_ducklake.__path__[0]).parent / ".city_duckdb_extensions"
    try:
        folder = folder / f"v{version}"
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:  # a read-only environment: use the user's cache instead
        folder = Path.home() / ".cache" / "city-stream-analytics" / f"duckdb-v{version}"
        folder.mkdir(parents=True, exist_ok=True)
    for name, target in links.items():
        link = folder / f"{name}.duckdb_extension"
        if not link.exists():
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            tmp.replace(link)
    return folder


def _wheel_file(module: object, name: str, version: str) -> Path:
    path = Path(module.__path__[0]) / "extensions" / f"v{version}" / f"{name}.duckdb_extension"  # type: ignore[attr-defined]
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: install duckdb-extension-{name}=={version} (same as duckdb)"
        )
    return path


def attach_sql(lake: str | os.PathLike, read_only: bool = False) -> str:
    """SQL that loads the extensions and attaches the lake as `lake` (also for the CLI)."""
    folder = Path(lake).resolve()
    ext = extension_dir()
    catalog = folder / "catalog.sqlite"
    data = folder / "files"
    options = f"DATA_PATH '{_quote(str(data))}/', META_BUSY_TIMEOUT {BUSY_TIMEOUT_MS}"
    options += ", READ_ONLY" if read_only else ", META_JOURNAL_MODE 'WAL'"
    return (
        f"LOAD '{_quote(str(ext / 'sqlite_scanner.duckdb_extension'))}'; "
        f"LOAD '{_quote(str(ext / 'ducklake.duckdb_extension'))}'; "
        f"ATTACH 'ducklake:sqlite:{_quote(str(catalog))}' AS {CATALOG} ({options}); "
        f"USE {CATALOG};"
    )


def _quote(text: str) -> str:
    return text.replace("'", "''")


def connect(lake: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached (created with its schema if missing)."""
    folder = Path(lake)
    if read_only and not is_ready(folder):
        raise FileNotFoundError(f"no lake at {folder} (run a flow first, or set CITY_LAKE)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "files").mkdir(exist_ok=True)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET python_enable_replacements = false")  # a table name is never a variable
    if read_only:
        con.execute(attach_sql(folder, read_only=True))
        return con
    # writers starting together (workers, processes) take turns creating the catalog
    with writer_lock(folder):
        con.execute(attach_sql(folder))
        ensure_schema(con)
        (folder / READY).touch()
    return con


READY = ".ready"
"""Marker written once the lake's tables exist, so readers never see it half made."""


def is_ready(lake: str | os.PathLike) -> bool:
    """Whether a lake with all its tables exists at `lake`."""
    return (Path(lake) / READY).exists()


def count_rows(lake: str | os.PathLike, table: str = "readings") -> int:
    """Rows of `table` in the lake at `lake`; 0 while there is no lake yet."""
    if not is_ready(lake):
        return 0
    con = connect(lake, read_only=True)
    try:
        return con.sql(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


@contextmanager
def writer_lock(lake: str | os.PathLike) -> Iterator[None]:
    """Exclusive among this machine's writers of one lake; readers never take it.

    SQLite lets one process write the catalog at a time and may refuse, rather than wait,
    a commit that races another (a read-to-write lock upgrade), so our writers commit in
    turn. Each holds it only for one micro-batch's commit.
    """
    with open(Path(lake) / ".writer.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to the same database (for another thread), using the lake."""
    cur = con.cursor()
    cur.execute(f"USE {CATALOG}")
    return cur


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables (idempotent, safe when several writers start together)."""
    for attempt in range(10):
        try:
            con.execute("BEGIN")
            for table, columns in TABLES.items():
                body = ", ".join(f'"{name}" {sql_type}' for name, sql_type, _ in columns)
                con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
                # a lake made by an older version: new columns come last, as in TABLES
                present = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
                for name, sql_type, _ in columns:
                    if name not in present:
                        con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {sql_type}')
            con.execute("COMMIT")
            break
        except duckdb.TransactionException:
            con.execute("ROLLBACK")
            time.sleep(0.05 * (attempt + 1))
    present = set(con.execute("SELECT sensor_type, metric FROM metrics").fetchall())
    rows = [
        (sensor_type, m.name, m.unit, m.low, m.high, m.description)
        for sensor_type, metrics in SENSOR_TYPES.items()
        for m in metrics
        if (sensor_type, m.name) not in present  # a lake made before the type existed
    ]
    if rows:
        with transaction(con):
            _insert(con, "metrics", TABLES["metrics"], rows)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on error."""
    con.execute("BEGIN")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def arrow_table(columns: list[tuple[str, str, pa.DataType]], rows: list[tuple]) -> pa.Table:
    """Row tuples as an Arrow table with the lake's types."""
    data = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pa.table(
        [pa.array(col, type=arrow) for (_, _, arrow), col in zip(columns, data, strict=True)],
        names=[name for name, _, _ in columns],
    )


NATURAL_KEYS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "readings": (("sensor_id", "ts", "metric"), "ts"),
    "readings_1m": (("sensor_id", "metric", "minute"), "minute"),
    "alerts": (("alert_id",), "opened_at"),
    "labels": (("sensor_id", "kind", "start_ts"), "start_ts"),
    "dead_letters": (("source", "position", "reason"), None),
    "change_points": (("sensor_id", "ts", "detector"), "ts"),
    "maintenance_predictions": (("asset_id", "ts", "model"), "ts"),
    "maintenance_events": (("asset_type", "asset_id", "ts", "kind"), "ts"),
    "model_metrics": (("model", "ts"), "ts"),
    "asset_truth": (("asset_id", "from_ts"), "from_ts"),
    "alert_groups": (("group_id", "alert_id"), None),
    "model_resets": (("step", "key", "reset_at", "reason"), "reset_at"),
    "data_gaps": (("source_partition", "first_offset"), None),
    "alert_deliveries": (("event_id", "channel", "status"), None),
}
"""Columns that identify a row of each table, and the time column that bounds the search."""


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Append row tuples (in the column order of `TABLES[table]`) to `table`."""
    unbuildable = _insert(con, table, TABLES[table], rows)
    if unbuildable:
        raise ValueError(f"{len(unbuildable)} rows of {table} do not fit its columns")


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: list, rows: list, dedup: bool = False
) -> list[tuple[tuple, Exception]]:
    """Insert `rows`; the rows that do not fit the table's columns, with why, are left out."""
    unbuildable: list[tuple[tuple, Exception]] = []
    try:
        batch = arrow_table(columns, rows)
    except Exception as error:  # one row's fault: find it, keep the rest
        rows, unbuildable = _buildable(columns, rows)
        if not unbuildable:
            raise
        log.warning("%d rows of %s do not fit its columns: %s", len(unbuildable), table, error)
        if not rows:
            return unbuildable
        batch = arrow_table(columns, rows)
    con.register("_batch", batch)
    try:
        if table == "sensors":
            con.execute(
                "INSERT INTO sensors SELECT * FROM _batch "
                "WHERE sensor_id NOT IN (SELECT sensor_id FROM sensors)"
            )
        elif dedup and table in NATURAL_KEYS:
            keys, bound = NATURAL_KEYS[table]
            existing = f"SELECT {', '.join(keys)} FROM {table}"
            if bound is not None:  # only files whose time range overlaps the batch's
                existing += (
                    f" WHERE {bound} BETWEEN (SELECT min({bound}) FROM _batch)"
                    f" AND (SELECT max({bound}) FROM _batch)"
                )
            same = " AND ".join(f"b.{key} IS NOT DISTINCT FROM e.{key}" for key in keys)
            con.execute(
                f"INSERT INTO {table} SELECT b.* FROM _batch b ANTI JOIN ({existing}) e ON {same}"
            )
        else:
            con.execute(f"INSERT INTO {table} SELECT * FROM _batch")
    finally:
        con.unregister("_batch")
    return unbuildable


def _buildable(columns: list, rows: list) -> tuple[list, list[tuple[tuple, Exception]]]:
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


def _unbuildable_letter(table: str, row: tuple, error: Exception) -> tuple:
    """The dead letter of a row that could not be written: its table, key and reason."""
    keys = NATURAL_KEYS.get(table, ((TABLES[table][0][0],), None))[0]
    names = [name for name, _, _ in TABLES[table]]
    key = ",".join(payload_text(row[names.index(k)]) for k in keys if k in names)[:200]
    first = row[0] if row and isinstance(row[0], str) else None
    sensor_id = None if first is None else payload_text(first)[:128]
    return (now_ms(), "lake", f"{table}:{key}", sensor_id, internal_error(error), payload_text(row))


def committed_offsets(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per source partition, the highest offset whose results are in the lake."""
    rows = con.execute(
        "SELECT source_partition, max(max_offset) FROM sink_progress GROUP BY 1"
    ).fetchall()
    return dict(rows)


def write(
    con: duckdb.DuckDBPyConnection,
    rows: Rows,
    lake: str | os.PathLike,
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
                    marks = [(part, high, committed) for part, high in progress.items()]
                    _insert(con, "sink_progress", TABLES["sink_progress"], marks)
            return
        except (duckdb.TransactionException, duckdb.IOException) as error:
            # a writer on another machine (shared folder) or a compaction can still conflict
            if attempt == 19:
                raise
            log.warning("lake write conflict, retrying: %s", error)
            time.sleep(0.05 * (attempt + 1))


def _write_tables(con: duckdb.DuckDBPyConnection, rows: Rows, dedup: bool) -> None:
    letters = []
    for table in (
        "sensors",
        "readings",
        "readings_1m",
        "alerts",
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
    ):
        batch = getattr(rows, table)
        if batch:
            for row, error in _insert(con, table, TABLES[table], batch, dedup):
                letters.append(_unbuildable_letter(table, row, error))
    if rows.alert_closures:
        letters += _close_alerts(con, rows.alert_closures)
    if letters:
        _insert(con, "dead_letters", TABLES["dead_letters"], letters, dedup)


def _close_alerts(con: duckdb.DuckDBPyConnection, closures: list[tuple]) -> list[tuple]:
    """Apply alert closures; the dead letters of closures that do not fit the columns."""
    closures, unbuildable = _buildable(_CLOSURES, closures)
    letters = [_unbuildable_letter("alerts", row, error) for row, error in unbuildable]
    if not closures:
        return letters
    con.register("_closures", arrow_table(_CLOSURES, closures))
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


def compact(
    con: duckdb.DuckDBPyConnection, lake: str | os.PathLike, keep_snapshots_s: float = 3600.0
) -> dict[str, int]:
    """Merge small Parquet files, expire old snapshots and delete the files they freed.

    Snapshots and freed files are kept for `keep_snapshots_s`, so a reader in the middle of
    a query never loses a file under it, and recent time travel keeps working.

    DuckLake 1.5.5's own `older_than` arguments misjudge times on a SQLite catalog (they
    took snapshots made a second ago for older than an hour ago), so old snapshots are
    picked here and expired by id, and freed files are deleted here once old enough.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=keep_snapshots_s)
    meta = f"__ducklake_metadata_{CATALOG}"
    with writer_lock(lake):
        prune_progress(con)
        con.execute(f"CALL ducklake_merge_adjacent_files('{CATALOG}')")
        old = con.execute(
            f"SELECT list(snapshot_id ORDER BY snapshot_id) FROM ducklake_snapshots('{CATALOG}') "
            f"WHERE snapshot_time < ? AND snapshot_id < "
            f"(SELECT max(snapshot_id) FROM ducklake_snapshots('{CATALOG}'))",
            [cutoff],
        ).fetchone()[0]
        if old:
            con.execute(f"CALL ducklake_expire_snapshots('{CATALOG}', versions => ?)", [list(old)])
        freed = con.execute(
            f"SELECT data_file_id, path, path_is_relative "
            f"FROM {meta}.ducklake_files_scheduled_for_deletion "
            f"WHERE CAST(schedule_start AS TIMESTAMPTZ) < ?",
            [cutoff],
        ).fetchall()
        data_path = Path(lake).resolve() / "files"
        for _, path, relative in freed:
            (data_path / path if relative else Path(path)).unlink(missing_ok=True)
        if freed:
            with transaction(con):
                con.execute(
                    f"DELETE FROM {meta}.ducklake_files_scheduled_for_deletion "
                    f"WHERE list_contains(?, data_file_id)",
                    [[file_id for file_id, _, _ in freed]],
                )
    return {"expired_snapshots": len(old or []), "deleted_files": len(freed)}


def prune_progress(con: duckdb.DuckDBPyConnection) -> int:
    """Keep of `sink_progress` only what recovery needs: each partition's highest mark.

    Every transaction of the flow adds a row per source partition; without pruning, the table
    grows for ever. Returns the number of rows deleted.
    """
    with transaction(con):
        return con.execute(
            "DELETE FROM sink_progress WHERE max_offset < "
            "(SELECT max(p.max_offset) FROM sink_progress p "
            "WHERE p.source_partition = sink_progress.source_partition)"
        ).fetchone()[0]


RETENTION: dict[str, tuple[str, bool]] = {
    "readings": ("ts", True),
    "readings_1m": ("minute", True),
    "dead_letters": ("received_at", False),
}
"""Table -> (time column, whether its age counts from the newest row rather than now)."""


def apply_retention(
    con: duckdb.DuckDBPyConnection, lake: str | os.PathLike, days: dict[str, float]
) -> dict[str, int]:
    """Delete rows older than `days[table]` days; rows younger are never touched.

    Readings and aggregates age from the newest reading in the table (so a replay of last
    year's data is not deleted on arrival); dead letters age from now. 0 keeps forever.
    """
    deleted = {}
    with writer_lock(lake), transaction(con):
        for table, keep in days.items():
            if keep <= 0:
                continue
            column, from_newest = RETENTION[table]
            origin = f"(SELECT max({column}) FROM {table})" if from_newest else "now()"
            count = con.execute(
                f"DELETE FROM {table} WHERE {column} < {origin} - to_seconds(?)",
                [keep * 86_400.0],
            ).fetchone()[0]
            deleted[table] = count
    return deleted


def maintain(settings_env: dict[str, str] | None = None) -> dict[str, object]:
    """Retention and compaction of the lake of the `CITY_*` settings (`just compact`)."""
    from dataflows.settings import Settings

    s = Settings.from_env(settings_env)
    con = connect(s.lake)
    try:
        deleted = apply_retention(
            con,
            s.lake,
            {
                "readings": s.retention_readings_days,
                "readings_1m": s.retention_aggregates_days,
                "dead_letters": s.retention_dead_letters_days,
            },
        )
        return {"deleted": deleted, **compact(con, s.lake)}
    finally:
        con.close()


if __name__ == "__main__":
    from dataflows.settings import Settings

    configure_logging(Settings.from_env())
    print(maintain())
