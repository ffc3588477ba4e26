"""`just sql`: ad-hoc SQL on the lake, while flows write to it.

    just sql "SELECT * FROM alerts LIMIT 5"     # a table
    just sql --csv "SELECT * FROM alerts"       # CSV with a header, for scripts
    just sql                                    # the DuckDB shell, attached to the lake

The lake is attached read-only unless `--write` is given, and is the default catalog, so
table names need no prefix. A lake on PostgreSQL and object storage (`CITY_LAKE_CATALOG`,
`CITY_LAKE_DATA`) is attached the same way; its password and key reach the shell through a
file only its user can read, deleted when the shell exits, never its command line.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
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


def shell(address: lake.LakeAddress, read_only: bool) -> int:
    """The DuckDB shell with the lake attached; its exit status."""
    init = "SET autoinstall_known_extensions = false;\n" + lake.attach_sql(address, read_only)
    with tempfile.TemporaryDirectory(prefix="city-sql-") as private:  # mode 0700
        init_file = Path(private) / "init.sql"
        init_file.write_text(init + "\n")
        init_file.chmod(0o600)
        return subprocess.run([duckdb_cli(), "-init", str(init_file)]).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Query the city lake with DuckDB SQL.")
    parser.add_argument("query", nargs="?", help="SQL to run; none opens the DuckDB shell")
    parser.add_argument("--csv", action="store_true", help="print CSV with a header")
    parser.add_argument("--write", action="store_true", help="attach the lake read-write")
    parser.add_argument("--max-rows", type=int, default=1000, help="rows shown as a table")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    address = lake.LakeAddress.from_settings(settings)
    if not lake.is_ready(address):
        print(f"no lake at {address}: run a flow first, or set CITY_LAKE", file=sys.stderr)
        return 2

    if args.query is None:
        return shell(address, read_only=not args.write)

    con = lake.connect(address, read_only=not args.write)
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
