"""Figures of the whole lake that one sink partition samples: its size and Kafka's lag."""

from __future__ import annotations

import duckdb

from dataflows.lake.connection import one
from dataflows.lake.tables import CATALOG, FlowMetricRow
from dataflows.settings import Settings


def lake_bytes(con: duckdb.DuckDBPyConnection, at_ms: int) -> FlowMetricRow:
    """The bytes of the lake's live data files (those of the newest snapshot)."""
    size = one(
        con.execute(
            f"SELECT coalesce(sum(file_size_bytes), 0) FROM __ducklake_metadata_{CATALOG}"
            ".ducklake_data_file WHERE end_snapshot IS NULL"
        )
    )[0]
    return FlowMetricRow(at_ms, "lake", "lake_bytes", float(size))


class ConsumerLag:
    """Per partition of the readings topic: records on the broker not yet in the lake."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer

        from dataflows.kafka.client import client_config

        self.topic = settings.kafka_readings_topic
        self.consumer = KafkaConsumer(**client_config(settings), request_timeout_ms=5000)

    def rows(self, con: duckdb.DuckDBPyConnection, at_ms: int) -> list[FlowMetricRow]:
        from kafka import TopicPartition

        parts = [
            TopicPartition(self.topic, p)
            for p in self.consumer.partitions_for_topic(self.topic) or ()
        ]
        if not parts:
            return []
        ends = self.consumer.end_offsets(parts)
        starts = self.consumer.beginning_offsets(parts)
        stored = dict(
            con.execute(
                "SELECT source_partition, max(max_offset) FROM sink_progress "
                "WHERE starts_with(source_partition, ?) GROUP BY 1",
                [f"{self.topic}/"],
            ).fetchall()
        )
        out = []
        for tp in parts:
            name = f"{tp.topic}/{tp.partition}"
            next_to_store = max(stored[name] + 1 if name in stored else 0, starts[tp])
            lag = max(ends[tp] - next_to_store, 0)
            out.append(FlowMetricRow(at_ms, f"kafka:{name}", "consumer_lag", float(lag)))
        return out

    def close(self) -> None:
        self.consumer.close()
