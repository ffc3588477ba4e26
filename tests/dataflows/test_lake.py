"""The lake module: schema, exactly-once writes, compaction that keeps what readers need."""

from __future__ import annotations

import time

from dataflows import lake
from dataflows.rows import Rows

T0 = 1767600000000


def readings(n: int, start: int = 0) -> list[tuple]:
    return [("s1", T0 + 60_000 * (start + i), "laeq", 50.0 + i, 0.1, False) for i in range(n)]


def files(folder) -> list:
    return list((folder / "files").rglob("*.parquet"))


def test_schema_is_idempotent_and_complete(tmp_path):
    first = lake.connect(tmp_path)
    lake.ensure_schema(first)
    tables = {t for (t,) in first.sql("SHOW TABLES").fetchall()}
    assert set(lake.TABLES) <= tables
    assert first.sql("SELECT count(*) FROM metrics").fetchone()[0] == 9
    second = lake.connect(tmp_path)  # a second writer: nothing created twice
    assert second.sql("SELECT count(*) FROM metrics").fetchone()[0] == 9


def test_replayed_rows_are_written_once(tmp_path):
    con = lake.connect(tmp_path)
    batch = Rows(readings=readings(5))
    batch.note(("p0", 10))
    lake.write(con, batch, tmp_path)
    assert lake.committed_offsets(con) == {"p0": 10}
    again = Rows(readings=readings(8))  # the 5 already written and 3 new ones
    again.note(("p0", 8))
    again.note(("p0", 14))
    lake.write(con, Rows(), tmp_path, replayed=again)
    assert con.sql("SELECT count(*), count(DISTINCT ts) FROM readings").fetchone() == (8, 8)
    assert lake.committed_offsets(con) == {"p0": 14}


def test_compaction_merges_and_keeps_recent_snapshots_and_files(tmp_path):
    con = lake.connect(tmp_path)
    for k in range(4):
        lake.write(con, Rows(readings=readings(3000, start=3000 * k)), tmp_path)
    before = len(files(tmp_path))
    assert before >= 4
    snapshots = con.sql("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0]
    result = lake.compact(con, tmp_path, keep_snapshots_s=3600)
    assert result == {"expired_snapshots": 0, "deleted_files": 0}
    assert len(files(tmp_path)) > before  # merged file added, old ones kept for readers
    assert con.sql("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0] > snapshots
    time.sleep(1.1)
    result = lake.compact(con, tmp_path, keep_snapshots_s=1)
    assert result["expired_snapshots"] > 0 and result["deleted_files"] >= before
    assert con.sql("SELECT count(*) FROM readings").fetchone()[0] == 12_000
    reader = lake.connect(tmp_path, read_only=True)
    assert reader.sql("SELECT count(*), sum(value) FROM readings").fetchone()[0] == 12_000
