"""Connections to the lake: DuckDB's extensions from PyPI, attaching, locking, the schema.

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
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from dataflows.catalogue.types import Catalogue
from dataflows.lake.tables import CATALOG, TABLES, MetricRow, SensorTypeRow, arrow_table

BUSY_TIMEOUT_MS = 10_000
"""How long a catalog access waits for another process's lock before failing."""


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


def connect(
    lake: str | os.PathLike, read_only: bool = False, catalogue: Catalogue | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached (created with its schema if missing).

    A writer given a `catalogue` records it in the `metrics` and `sensor_types` tables.
    """
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
        if catalogue is not None:
            record_catalogue(con, catalogue)
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
        return one(con.sql(f"SELECT count(*) FROM {table}"))[0]
    finally:
        con.close()


def one(result: duckdb.DuckDBPyConnection | duckdb.DuckDBPyRelation) -> tuple:
    """The one row of a query that always returns one (an aggregate, a `DELETE`'s count).

    >>> one(duckdb.sql("SELECT 1 + 1"))
    (2,)
    """
    row = result.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row


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
            for table in TABLES.values():
                body = ", ".join(f'"{c.name}" {c.sql}' for c in table.columns)
                con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({body})")
                # a lake made by an older version: new columns come last, as in TABLES
                described = con.execute(f"DESCRIBE {table.name}").fetchall()
                present = {row[0] for row in described}
                for c in table.columns:
                    if c.name not in present:
                        con.execute(f'ALTER TABLE {table.name} ADD COLUMN "{c.name}" {c.sql}')
            con.execute("COMMIT")
            break
        except duckdb.TransactionException:
            con.execute("ROLLBACK")
            time.sleep(0.05 * (attempt + 1))


def record_catalogue(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Write the catalogue's types and metrics, replacing the rows of those that changed.

    Types and metrics no longer in the catalogue keep their rows: the lake still holds
    their readings.
    """
    tables: dict[str, list[tuple]] = {
        "sensor_types": [
            SensorTypeRow(t.name, t.description, t.asset, t.interval_s, t.horizon_h)
            for t in catalogue.types.values()
        ],
        "metrics": [
            MetricRow(t.name, m.name, m.unit, m.low, m.high, m.description, m.signal, m.detector)
            for t in catalogue.types.values()
            for m in t.metrics
        ],
    }
    with transaction(con):
        for name, rows in tables.items():
            key = TABLES[name].names[: 1 if name == "sensor_types" else 2]
            stored = set(con.execute(f"SELECT * FROM {name}").fetchall())
            changed = [row for row in rows if tuple(row) not in stored]
            if not changed:
                continue
            con.register("_catalogue", arrow_table(TABLES[name].columns, changed))
            try:
                match = " AND ".join(f"{name}.{k} = c.{k}" for k in key)
                con.execute(
                    f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM _catalogue c WHERE {match})"
                )
                con.execute(f"INSERT INTO {name} SELECT * FROM _catalogue")
            finally:
                con.unregister("_catalogue")


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
