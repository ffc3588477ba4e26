"""`just kafka` and `just kafka-stop`: start, stop or ask after the local Kafka broker.

python -m dataflows.cli.kafka_broker start|stop|status
"""

from __future__ import annotations

import argparse
import sys

from dataflows.cli import console
from dataflows.kafka.broker import Broker, answers, running_pid, start, stop
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local Apache Kafka broker (KRaft).")
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    broker = Broker.from_settings(Settings.from_env())
    if args.action == "start":
        start(broker)
    elif args.action == "stop":
        print("Kafka stopped" if stop(broker) else "Kafka was not running", file=sys.stderr)
    else:
        up = running_pid(broker) is not None and answers(broker)
        print(f"Kafka at {broker.bootstrap}: {'up' if up else 'down'}")
        return 0 if up else 1
    return 0


run = console(main)


if __name__ == "__main__":
    run()
