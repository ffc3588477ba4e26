"""`just sql`: ad-hoc SQL on the lake, while flows write to it.

    just sql "SELECT * FROM alerts LIMIT 5"     # a table
    just sql --csv "SELECT * FROM alerts"       # CSV with a header, for scripts
    just sql                                    # the DuckDB shell, attached to the lake

The lake is attached read-only unless `--write` is given, and is the default catalog, so
table names need no prefix.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
from pathlib import Path

import duckdb

from dataflows import lake
from dataflows.cli import console
from dataflows.settings import Settings


def duckdb_cli() -> str:
    """Path of the `duckdb` command-line shell installed by the duckdb-cli package."""
    beside = Path(sys.executable).parent / "duckdb"
    found = str(beside) if beside.exists() else shutil.which("duckdb")
    if not found:
        raise SystemExit("the duckdb shell is missing: pip install duckdb-cli (same version)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Query the city lake with DuckDB SQL.")
    parser.add_argument("query", nargs="?", help="SQL to run; none opens the DuckDB shell")
    parser.add_argument("--csv", action="store_true", help="print CSV with a header")
    parser.add_argument("--write", action="store_true", help="attach the lake read-write")
    parser.add_argument("--max-rows", type=int, default=1000, help="rows shown as a table")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not lake.is_ready(settings.lake):
        print(f"no lake at {settings.lake}: run a flow first, or set CITY_LAKE", file=sys.stderr)
        return 2

    if args.query is None:
        init = lake.attach_sql(settings.lake, read_only=not args.write)
        shell = duckdb_cli()
        os.execv(shell, [shell, "-cmd", "SET autoinstall_known_extensions = false", "-cmd", init])

    con = lake.connect(settings.lake, read_only=not args.write)
    try:
        relation = con.sql(args.query)
    except duckdb.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if relation is None:  # a statement without a result
        return 0
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(relation.columns)
        while batch := relation.fetchmany(10_000):
            writer.writerows(batch)
    else:
        width = shutil.get_terminal_size((160, 40)).columns
        relation.show(max_rows=args.max_rows, max_width=width)
    return 0


run = console(main)


if __name__ == "__main__":
    run()
