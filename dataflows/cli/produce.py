"""`just produce`: publish the simulator's readings to Kafka, as sensor gateways would.

    just produce [--json] [--hostile-every N]

How messages are paced, keyed and mixed with hostile ones is `dataflows.kafka.produce`;
progress goes to stderr, `--json` prints a summary as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys

from dataflows.cli import console
from dataflows.kafka import client as kafka_io
from dataflows.kafka.produce import produce
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


run = console(main)


if __name__ == "__main__":
    run()
