"""`just produce`: publish the simulator's readings to Kafka, as sensor gateways would.

Creates `CITY_KAFKA_READINGS_TOPIC` with `CITY_KAFKA_PARTITIONS` partitions if it is missing,
then sends every simulated message as JSON keyed by its sensor id, paced like the flow's
simulator (`CITY_SIM_SPEEDUP`: 1 = real time, 0 = as fast as possible) and bounded by
`CITY_SIM_HOURS`. Corrupt messages of the simulator are sent as they are, so the flow's
dead-letter path gets exercised; `--hostile-every N` also sends one of the hostile messages
of `dataflows.messages.hostile` after every N messages, with the key of the one before. The
ground-truth labels go straight into the lake's `labels` table. Progress goes to stderr;
`--json` prints a summary as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys

from dataflows.kafka import client as kafka_io
from dataflows.kafka.produce import produce
from dataflows.logs import configure_logging
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a summary as JSON")
    parser.add_argument(
        "--hostile-every", type=int, default=0, help="send a hostile message after every N"
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    print(
        f"[produce] to {settings.kafka_readings_topic} at {kafka_io.describe(settings)}",
        file=sys.stderr,
    )
    summary = produce(settings, hostile_every=args.hostile_every)
    if args.json:
        print(json.dumps(summary))
    return 0


def run() -> None:
    """The console command: logging configured, then `main` with the command line."""
    configure_logging(Settings.from_env())
    raise SystemExit(main())


if __name__ == "__main__":
    run()
