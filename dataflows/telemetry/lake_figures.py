"""Figures of the whole lake that one sink partition samples: its size and Kafka's lag."""

from __future__ import annotations

import time

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


class DeadLettersBySource:
    """Per source partition: dead letters received in the minute before a sample.

    Counted in the lake (what is committed of that minute so far), so one sampler sees
    those of every sink partition and process; a partition once seen reports 0 when quiet.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def rows(self, con: duckdb.DuckDBPyConnection, at_ms: int) -> list[FlowMetricRow]:
        counts = dict(
            con.execute(
                "SELECT regexp_extract(position, '^(.+)/[0-9]+$', 1) AS part, count(*) "
                "FROM dead_letters WHERE received_at > to_timestamp(?::DOUBLE / 1000) "
                "AND received_at <= to_timestamp(?::DOUBLE / 1000) AND position IS NOT NULL "
                "GROUP BY 1 HAVING part <> ''",
                [at_ms - 60_000, at_ms],
            ).fetchall()
        )
        self.seen.update(counts)
        return [
            FlowMetricRow(
                at_ms, f"source:{part}", "dead_letters_per_min", float(counts.get(part, 0))
            )
            for part in sorted(self.seen)
        ]


class ConsumerLag:
    """Per partition of the readings topic: records not yet in the lake, and latency.

    `consumer_lag` is the records on the broker not yet stored; `produce_to_lake_s`, how long
    the newest stored record took from its producer to the lake: its commit time minus its
    Kafka timestamp (the producer's, or the broker's with `LogAppendTime`), read back from
    the broker with one small fetch per partition and sample.
    """

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer

        from dataflows.kafka.client import client_config

        self.settings = settings
        self.topic = settings.kafka_readings_topic
        self.consumer = KafkaConsumer(  # the topic's partitions and offsets only
            **client_config(settings),
            request_timeout_ms=5000,
        )

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
        newest = {
            part: (offset, committed_at)
            for part, offset, committed_at in con.execute(
                "SELECT source_partition, max(max_offset), "
                "epoch_ms(arg_max(committed_at, max_offset)) "
                "FROM sink_progress WHERE starts_with(source_partition, ?) GROUP BY 1",
                [f"{self.topic}/"],
            ).fetchall()
        }
        out = []
        stored = {}  # partition -> (its newest stored offset, when it was committed)
        for tp in parts:
            name = f"{tp.topic}/{tp.partition}"
            if name in newest:
                stored[tp] = newest[name]
            next_to_store = max(newest[name][0] + 1 if name in newest else 0, starts[tp])
            lag = max(ends[tp] - next_to_store, 0)
            out.append(FlowMetricRow(at_ms, f"kafka:{name}", "consumer_lag", float(lag)))
        on_broker = {
            tp: offset for tp, (offset, _) in stored.items() if starts[tp] <= offset < ends[tp]
        }
        produced = produced_at(self.settings, on_broker)
        for tp, produced_ms in produced.items():
            latency = (stored[tp][1] - produced_ms) / 1000.0
            scope = f"kafka:{tp.topic}/{tp.partition}"
            out.append(FlowMetricRow(at_ms, scope, "produce_to_lake_s", round(latency, 3)))
        return out

    def close(self) -> None:
        self.consumer.close()


def produced_at(settings: Settings, offsets: dict, timeout_s: float = 2.0) -> dict:
    """The Kafka timestamp of the record at each partition's offset, if still on the broker.

    Reads with a consumer of its own, closed after: one kept from sample to sample stopped
    receiving some partitions' records after a few seeks (kafka-python 3.0.12), and each
    sample then waited out its timeout, on the lake writer's thread and at the flow's end.
    """
    if not offsets:
        return {}
    from kafka import KafkaConsumer

    from dataflows.kafka.client import client_config

    consumer = KafkaConsumer(
        **client_config(settings),
        request_timeout_ms=5000,
        max_partition_fetch_bytes=65_536,  # one record is all it reads of each
    )
    try:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        found: dict = {}
        deadline = time.monotonic() + timeout_s
        while len(found) < len(offsets) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=50).items():
                for record in records:
                    if tp not in found and record.offset == offsets[tp]:
                        found[tp] = record.timestamp
                consumer.pause(tp)  # read past it, or deleted by retention: done with it
        return found
    finally:
        consumer.close()
