"""Keeping the lake small: retention periods and compaction (`just compact`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from dataflows.lake.address import Lake, LakeAddress, as_address
from dataflows.lake.connection import connect, one, transaction, writer_lock
from dataflows.lake.tables import CATALOG, TABLES


def compact(
    con: duckdb.DuckDBPyConnection, lake: Lake, keep_snapshots_s: float = 3600.0
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
        old = one(
            con.execute(
                "SELECT list(snapshot_id ORDER BY snapshot_id) "
                f"FROM ducklake_snapshots('{CATALOG}') WHERE snapshot_time < ? AND snapshot_id < "
                f"(SELECT max(snapshot_id) FROM ducklake_snapshots('{CATALOG}'))",
                [cutoff],
            )
        )[0]
        if old:
            con.execute(f"CALL ducklake_expire_snapshots('{CATALOG}', versions => ?)", [list(old)])
        freed = con.execute(
            f"SELECT data_file_id, path, path_is_relative "
            f"FROM {meta}.ducklake_files_scheduled_for_deletion "
            f"WHERE CAST(schedule_start AS TIMESTAMPTZ) < ?",
            [cutoff],
        ).fetchall()
        data_path = as_address(lake).local_files()
        if data_path is None:  # in object storage: DuckLake deletes them itself
            con.execute(f"CALL ducklake_cleanup_old_files('{CATALOG}', older_than => ?)", [cutoff])
            return {"expired_snapshots": len(old or []), "deleted_files": len(freed)}
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
        return one(
            con.execute(
                "DELETE FROM sink_progress WHERE max_offset < "
                "(SELECT max(p.max_offset) FROM sink_progress p "
                "WHERE p.source_partition = sink_progress.source_partition)"
            )
        )[0]


def apply_retention(
    con: duckdb.DuckDBPyConnection, lake: Lake, days: dict[str, float]
) -> dict[str, int]:
    """Delete rows older than `days[table]` days; rows younger are never touched.

    Each table's `Retention` says from when its rows age: readings and aggregates from the
    newest row (so a replay of last year's data is not deleted on arrival), dead letters
    from now. 0 keeps forever.
    """
    deleted = {}
    with writer_lock(lake), transaction(con):
        for table, keep in days.items():
            if keep <= 0:
                continue
            retention = TABLES[table].retention
            if retention is None:
                raise ValueError(f"table {table} has no retention")
            column = retention.column
            origin = f"(SELECT max({column}) FROM {table})" if retention.from_newest else "now()"
            count = one(
                con.execute(
                    f"DELETE FROM {table} WHERE {column} < {origin} - to_seconds(?)",
                    [keep * 86_400.0],
                )
            )[0]
            deleted[table] = count
    return deleted


def maintain(settings_env: dict[str, str] | None = None) -> dict[str, object]:
    """Retention and compaction of the lake of the `CITY_*` settings (`just compact`)."""
    from dataflows.settings import Settings

    s = Settings.from_env(settings_env)
    address = LakeAddress.from_settings(s)
    con = connect(address)
    try:
        days = {
            table.name: getattr(s, table.retention.setting)
            for table in TABLES.values()
            if table.retention is not None
        }
        deleted = apply_retention(con, address, days)
        return {"deleted": deleted, **compact(con, address)}
    finally:
        con.close()
