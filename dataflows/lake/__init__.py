"""The lake: its table contract, connections, writes and upkeep, one module each.

The names most callers need are handed on here, so `from dataflows import lake` then
`lake.connect(folder)` reads as it always did; `lake.connect(LakeAddress.from_settings(s))`
reaches a lake on PostgreSQL and object storage as well.
"""

from dataflows.lake.address import LakeAddress
from dataflows.lake.connection import (
    BUSY_TIMEOUT_MS,
    READY,
    LakeUnreachable,
    attach_sql,
    connect,
    count_rows,
    cursor,
    ensure_schema,
    extension_dir,
    is_ready,
    one,
    transaction,
    writer_lock,
)
from dataflows.lake.maintain import apply_retention, compact, maintain, prune_progress
from dataflows.lake.tables import CATALOG, TABLES, TS, Table, arrow_table
from dataflows.lake.write import committed_offsets, insert, write

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CATALOG",
    "LakeAddress",
    "LakeUnreachable",
    "READY",
    "TABLES",
    "TS",
    "Table",
    "apply_retention",
    "arrow_table",
    "attach_sql",
    "committed_offsets",
    "compact",
    "connect",
    "count_rows",
    "cursor",
    "ensure_schema",
    "extension_dir",
    "insert",
    "is_ready",
    "maintain",
    "one",
    "prune_progress",
    "transaction",
    "write",
    "writer_lock",
]
