"""Connections to the lake: DuckDB's extensions from PyPI, attaching, locking, the schema.

Tables live in a DuckLake lake: by default a SQLite catalog (`<lake>/catalog.sqlite`) and
Parquet files (`<lake>/files/`); for several hosts a PostgreSQL catalog and files in
object storage (`dataflows.lake.address`). Any number of processes can read while one or
more write; every write of the flow is one transaction, so a reader sees a micro-batch
entirely or not at all.

DuckDB's `ducklake`, `sqlite`, `postgres` and `httpfs` extensions come from the
`duckdb-extension-*` wheels, so nothing is downloaded at run time.

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
from dataflows.lake.address import Lake, LakeAddress, S3Access, as_address, conninfo
from dataflows.lake.tables import CATALOG, TABLES, MetricRow, SensorTypeRow, arrow_table

BUSY_TIMEOUT_MS = 10_000
"""How long a catalog access waits for another process's lock before failing."""


def extension_dir() -> Path:
    """A folder laid out as DuckDB's extension directory, pointing at the PyPI wheels' files.

    The sqlite and postgres wheels ship `sqlite.duckdb_extension` and
    `postgres.duckdb_extension`, whose entry points DuckDB knows as `sqlite_scanner` and
    `postgres_scanner`, so the folder links them under those names.
    """
    import duckdb_extension_ducklake
    import duckdb_extension_httpfs
    import duckdb_extension_postgres
    import duckdb_extension_sqlite

    version = duckdb.__version__
    links = {
        "ducklake": _wheel_file(duckdb_extension_ducklake, "ducklake", version),
        "sqlite_scanner": _wheel_file(duckdb_extension_sqlite, "sqlite", version),
        "postgres_scanner": _wheel_file(duckdb_extension_postgres, "postgres", version),
        "httpfs": _wheel_file(duckdb_extension_httpfs, "httpfs", version),
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


SQLITE_CATALOG_THREADS = "SET threads = 1;"
"""A session on a SQLite catalog runs on one thread.

DuckDB's sqlite extension shares a transaction's one SQLite connection between the threads
of a query, and that sharing is not safe (duckdb/duckdb-sqlite#176): while a compaction
committed, a reader running several threads saw `count(*)` of a table with 343,161 rows
return 0 (tests/dataflows/test_read_while_writing.py). One thread never did. Sessions on a
PostgreSQL catalog keep DuckDB's threads (its extension is not known to share this way).
"""


def attach_sql(lake: Lake, read_only: bool = False) -> str:
    """SQL that loads the extensions and attaches the lake as `lake` (also for the CLI).

    For a lake on servers it holds the password and secret key: hand it to DuckDB only.
    On a SQLite catalog it first sets the session to one thread (`SQLITE_CATALOG_THREADS`).
    """
    address = as_address(lake)
    ext = extension_dir()
    data = address.data_path()
    options = [f"DATA_PATH '{_quote(data)}'"]
    if address.on_server:
        loads = ["ducklake", "postgres_scanner"]
        target = "postgres:" + conninfo(address.catalog, address.password)
        settings = []
    else:
        loads = ["ducklake", "sqlite_scanner"]
        target = "sqlite:" + str(address.folder.resolve() / "catalog.sqlite")
        options.append(f"META_BUSY_TIMEOUT {BUSY_TIMEOUT_MS}")
        # the files are always the folder's `files/`: a lake moved or copied still opens
        options.append("OVERRIDE_DATA_PATH true")
        if not read_only:
            options.append("META_JOURNAL_MODE 'WAL'")
        settings = [SQLITE_CATALOG_THREADS]
    if read_only:
        options.append("READ_ONLY")
    sql = settings + [f"LOAD '{_quote(str(ext / f'{name}.duckdb_extension'))}';" for name in loads]
    if data.startswith(("s3://", "https://", "http://")):
        sql.append(f"LOAD '{_quote(str(ext / 'httpfs.duckdb_extension'))}';")
        sql.append(_s3_secret(address.s3))
    sql.append(f"ATTACH '{_quote('ducklake:' + target)}' AS {CATALOG} ({', '.join(options)});")
    sql.append(f"USE {CATALOG};")
    return " ".join(sql)


def _s3_secret(s3: S3Access) -> str:
    words = [
        "TYPE s3",
        f"REGION '{_quote(s3.region)}'",
        f"URL_STYLE '{s3.style()}'",
        f"USE_SSL {str(s3.use_ssl).lower()}",
    ]
    if s3.endpoint:
        words.append(f"ENDPOINT '{_quote(s3.endpoint)}'")
    if s3.key_id:
        words.append(f"KEY_ID '{_quote(s3.key_id)}'")
    if s3.secret:
        words.append(f"SECRET '{_quote(s3.secret)}'")
    return f"CREATE OR REPLACE TEMPORARY SECRET city_lake_files ({', '.join(words)});"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def connect(
    lake: Lake, read_only: bool = False, catalogue: Catalogue | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached (created with its schema if missing).

    `lake` is a folder or a `LakeAddress`. A writer given a `catalogue` records it in the
    `metrics` and `sensor_types` tables.
    """
    address = as_address(lake)
    if read_only and not is_ready(address):
        raise FileNotFoundError(f"no lake at {address} (run a flow first, or set CITY_LAKE)")
    if not address.on_server:
        address.folder.mkdir(parents=True, exist_ok=True)
    files = address.local_files()
    if files is not None:
        files.mkdir(parents=True, exist_ok=True)
    con = _attached(address, read_only)
    if read_only:
        return con
    # writers starting together (workers, processes, hosts) take turns creating the
    # catalog; on a server lake they may conflict instead, and try again
    for attempt in range(10):
        try:
            with writer_lock(address):
                ensure_schema(con)
                if catalogue is not None:
                    record_catalogue(con, catalogue)
            break
        except duckdb.TransactionException:
            if attempt == 9:
                raise
            time.sleep(0.1 * (attempt + 1))
    if not address.on_server:
        (address.folder / READY).touch()
    return con


def _attached(address: LakeAddress, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection with the lake attached as its default catalog.

    Writers starting together on a new server catalog race to create its tables: one that
    loses sees them "already exist" (or PostgreSQL a "duplicate key" of its own catalog) and
    attaches again, to the catalog the other made.
    """
    for attempt in range(_INIT_RACE_ATTEMPTS):
        con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET python_enable_replacements = false")  # a table name is never a variable
        try:
            if address.on_server or read_only:
                con.execute(attach_sql(address, read_only))
            else:
                with writer_lock(address):
                    con.execute(attach_sql(address))
        except duckdb.Error as error:
            con.close()
            why = _first_line(error)
            lost_race = address.on_server and ("already exists" in why or "duplicate key" in why)
            if lost_race and attempt + 1 < _INIT_RACE_ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))
                continue
            for secret in (address.password, address.s3.secret):  # DuckDB may echo them
                if secret:
                    why = why.replace(secret, "***")
            raise LakeUnreachable(f"cannot attach the lake ({address}): {why}") from None
        if address.on_server:
            con.execute("SET ducklake_max_retry_count = 100")  # other hosts commit meanwhile
        return con
    raise AssertionError("unreachable")  # the last attempt returns or raises


_INIT_RACE_ATTEMPTS = 10


class LakeUnreachable(OSError):
    """The lake's catalog or files cannot be reached; the message names the lake, no secret."""


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


READY = ".ready"
"""Marker written once the lake's tables exist, so readers never see it half made."""


def is_ready(lake: Lake) -> bool:
    """Whether a lake with all its tables exists at `lake`."""
    address = as_address(lake)
    if not address.on_server:
        return (address.folder / READY).exists()
    try:
        con = _attached(address, read_only=True)
    except LakeUnreachable:
        return False
    try:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [CATALOG, "readings"],
        ).fetchone()
        return bool(found and found[0])
    finally:
        con.close()


def count_rows(lake: Lake, table: str = "readings") -> int:
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
def writer_lock(lake: Lake) -> Iterator[None]:
    """Exclusive among this machine's writers of one lake; readers never take it.

    SQLite lets one process write the catalog at a time and may refuse, rather than wait,
    a commit that races another (a read-to-write lock upgrade), so our writers commit in
    turn. Each holds it only for one micro-batch's commit. A PostgreSQL catalog needs no
    lock (and hosts share no folder): DuckLake retries a commit that raced another.
    """
    address = as_address(lake)
    if address.on_server:
        yield
        return
    with open(address.folder / ".writer.lock", "a") as lock:
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
