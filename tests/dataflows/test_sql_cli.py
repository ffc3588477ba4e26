"""`just sql` as a user types it: table, CSV and the DuckDB shell."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from dataflows import lake
from tests.conftest import ROOT, FlowRun


def sql(run: FlowRun, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dataflows.cli.sql", *args],
        env=run.env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_csv_output_has_a_header_and_the_lakes_figures(city_lake):
    result = sql(
        city_lake, "--csv", "SELECT type, count(*) AS n FROM sensors GROUP BY 1 ORDER BY 1"
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    con = lake.connect(city_lake.lake, read_only=True)
    expected = con.sql("SELECT type, count(*) FROM sensors GROUP BY 1 ORDER BY 1").fetchall()
    assert [(r["type"], int(r["n"])) for r in rows] == expected


def test_table_output_and_errors(city_lake):
    result = sql(city_lake, "SELECT count(*) AS alerts_total FROM alerts")
    assert result.returncode == 0 and "alerts_total" in result.stdout
    bad = sql(city_lake, "SELEKT 1")
    assert bad.returncode == 1 and "syntax error" in bad.stderr


def test_the_lake_is_read_only_unless_asked(city_lake):
    result = sql(city_lake, "DELETE FROM alerts")
    assert result.returncode == 1
    assert "read-only" in result.stderr.lower() or "read only" in result.stderr.lower()


def test_shell_is_attached_to_the_lake(city_lake):
    result = sql(city_lake, stdin=".mode csv\nSELECT count(*) AS n FROM readings;\n")
    assert result.returncode == 0, result.stderr
    con = lake.connect(city_lake.lake, read_only=True)
    assert result.stdout.split() == [
        "n",
        str(con.sql("SELECT count(*) FROM readings").fetchone()[0]),
    ]
