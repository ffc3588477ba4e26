"""`just replay PATH_OR_GLOB`: run the city flow over recorded files instead of the simulator.

    just replay ../shared/data/skab --labels anomaly,changepoint
    just replay 'recordings/*.parquet' --time-column time --values flow,level

Files are CSV (delimiter detected) or Parquet. Each file is one device whose sensor id is
its path relative to the replay root, without the extension (`valve1/3`); its numeric
columns are its metrics unless `--values` names them; `--labels` columns go to the `labels`
table as ground truth and are not shown to the models. The replay runs as fast as possible
in event-time order into the lake (`CITY_LAKE`), with a progress bar; every reading gets
its score in `readings`, so any scoring can be done afterwards in SQL. A replay applies no
retention: recordings older than the retention periods are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

import duckdb
from bytewax.testing import run_main

from dataflows import lake
from dataflows.cli import console
from dataflows.flow.city import build_flow
from dataflows.lake.connection import one
from dataflows.settings import Settings
from dataflows.sources.recorded import ReplaySpec, plan


def _columns(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(c.strip() for c in text.split(",") if c.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", help="a file, a folder, or a glob of CSV/Parquet files")
    parser.add_argument("--time-column", help="default: the first column named like time/date")
    parser.add_argument("--time-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M")
    parser.add_argument("--values", help="comma-separated value columns (default: numeric)")
    parser.add_argument("--labels", default="", help="comma-separated ground-truth columns")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON")
    args = parser.parse_args(argv)
    spec = ReplaySpec.from_pattern(
        args.pattern,
        time_column=args.time_column,
        time_format=args.time_format,
        value_columns=_columns(args.values),
        label_columns=_columns(args.labels) or (),
    )
    # a replay keeps what it replays: retention would drop recordings older than its period
    settings = replace(
        Settings.from_env(),
        retention_readings_days=0.0,
        retention_aggregates_days=0.0,
        retention_dead_letters_days=0.0,
    )
    plan(spec, duckdb.connect())  # fail here, clearly, on a bad column choice
    print(
        f"[replay] {len(spec.files)} files from {spec.root}"
        f" into {lake.LakeAddress.from_settings(settings)}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    run_main(build_flow(settings, replay=spec))
    seconds = time.perf_counter() - started
    con = lake.connect(lake.LakeAddress.from_settings(settings), read_only=True)
    ids = [str(p.relative_to(spec.root).with_suffix("")) for p in spec.files]
    summary = {
        "files": len(spec.files),
        "seconds": round(seconds, 2),
        "readings": one(
            con.execute("SELECT count(*) FROM readings WHERE list_contains(?, sensor_id)", [ids])
        )[0],
        "labels": one(
            con.execute("SELECT count(*) FROM labels WHERE list_contains(?, sensor_id)", [ids])
        )[0],
        "dead_letters": one(
            con.execute("SELECT count(*) FROM dead_letters WHERE source = 'replay'")
        )[0],
    }
    con.close()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"[replay] {summary['readings']:,} readings and {summary['labels']:,} labels "
            f"in {summary['seconds']} s ({summary['dead_letters']:,} dead letters)",
            file=sys.stderr,
        )
    return 0


run = console(main)


if __name__ == "__main__":
    run()
