"""`just kafka-topics`: create the flow's readings and alerts topics where they are missing.

    python -m dataflows.cli.kafka_topics

Partitions and replication come from `CITY_KAFKA_PARTITIONS` and `CITY_KAFKA_REPLICATION`;
a topic that exists is left as it is. `just kafka` runs it once the broker is up, and the
Kafka flow does the same at start (`CITY_KAFKA_CREATE_TOPICS`).
"""

from __future__ import annotations

import sys

from dataflows.cli import console
from dataflows.cli.startup import kafka_topics
from dataflows.settings import Settings


def main() -> int:
    for topic, partitions in kafka_topics(Settings.from_env()).items():
        print(f"[kafka_topics] {topic}: {partitions} partitions", file=sys.stderr)
    return 0


run = console(main)


if __name__ == "__main__":
    run()
