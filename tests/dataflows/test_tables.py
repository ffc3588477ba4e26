"""The table contract: declared once, and what the lake, the rows and the writers use."""

from __future__ import annotations

import dataclasses

import pytest

from dataflows import lake
from dataflows.lake.rows import TABLE_FIELDS, Rows
from dataflows.lake.tables import FLOW_TABLES, TABLES, Table


def test_the_lake_has_every_table_with_the_declared_columns_and_types(tmp_path):
    con = lake.connect(tmp_path / "lake")
    for table in TABLES.values():
        described = con.execute(f"DESCRIBE {table.name}").fetchall()
        assert [(name, sql) for name, sql, *_ in described] == [
            (c.name, c.sql.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"))
            for c in table.columns
        ], table.name
    con.close()


def test_rows_carry_one_typed_list_per_table_the_flow_writes():
    fields = [f.name for f in dataclasses.fields(Rows)]
    assert fields == [*TABLE_FIELDS, "alert_changes", "origins"]
    assert set(FLOW_TABLES) <= set(TABLES)
    for name in FLOW_TABLES:
        hint = {f.name: f.type for f in dataclasses.fields(Rows)}[name]
        assert TABLES[name].row.__name__ in str(hint), name


def test_a_table_that_names_a_column_it_lacks_is_refused():
    with pytest.raises(ValueError, match="lacks"):
        Table("broken", TABLES["alert_groups"].row, "doc", key=("no_such_column",))


def test_a_replayed_row_with_a_stored_key_is_not_written_twice(tmp_path):
    con = lake.connect(tmp_path / "lake")
    row = TABLES["readings"].row("s-1", 1_767_225_600_000, "laeq", 50.0, 0.1, False)
    lake.write(con, Rows(readings=[row]), tmp_path / "lake")
    lake.write(con, Rows(), tmp_path / "lake", replayed=Rows(readings=[row, row._replace(ts=1)]))
    assert con.sql("SELECT count(*) FROM readings").fetchone() == (2,)
    con.close()


def test_retention_comes_from_the_contract():
    kept = {name: t.retention.setting for name, t in TABLES.items() if t.retention}
    assert kept == {
        "readings": "retention_readings_days",
        "readings_1m": "retention_aggregates_days",
        "dead_letters": "retention_dead_letters_days",
        "flow_metrics": "retention_flow_metrics_days",
    }
