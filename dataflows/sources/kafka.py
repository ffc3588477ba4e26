"""A partitioned Bytewax source over one Kafka topic, built on kafka-python.

One Bytewax partition per Kafka partition, assigned explicitly (no consumer group): Bytewax
spreads them over its workers and processes. Each partition snapshots the offset of the
next record, so that a flow restarted with recovery resumes exactly there; without a
snapshot it starts at the earliest or latest offset (`CITY_KAFKA_START_OFFSET`). Records
are fetched in batches; while the broker is unreachable the partition retries with
back-off and says so in the log instead of failing the flow. With `CITY_KAFKA_STOP_AT_END`
a partition ends at the end offset it saw when it started (for replays and tests).

Nothing is skipped silently: if records the flow has not read are gone (the topic's
retention deleted them while the flow was stopped or behind), the partition goes on from
the earliest record left, logs a warning naming the partition and how many offsets it
skipped, and emits a `DataGap`, which the flow writes to the lake's `data_gaps`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from dataflows.kafka.client import KafkaRecord, client_config, describe, ensure_topic
from dataflows.messages.schema import DataGap, now_ms
from dataflows.settings import Settings

log = logging.getLogger(__name__)

MAX_RECORDS_PER_BATCH = 5_000
_IDLE_WAIT = timedelta(milliseconds=20)
_MAX_BACKOFF_S = 10.0


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        **client_config(settings),
        group_id=None,
        enable_auto_commit=False,
        # an offset that no longer exists (deleted by retention) resumes at the earliest
        # one left; `_KafkaPartition` notices and reports the gap
        auto_offset_reset="earliest",
        max_poll_records=MAX_RECORDS_PER_BATCH,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_wait_ms=100,
        reconnect_backoff_max_ms=5_000,
    )


class KafkaSource(FixedPartitionedSource[KafkaRecord | DataGap, int | None]):
    """Records of `topic`, one Bytewax partition per Kafka partition."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic

    def list_parts(self) -> list[str]:
        settings = self.settings
        if settings.kafka_create_topics:
            count = ensure_topic(settings, self.topic, settings.kafka_partitions)
            return [str(p) for p in range(count)]
        consumer = _consumer(settings)
        try:
            partitions = consumer.partitions_for_topic(self.topic)
        finally:
            consumer.close()
        if not partitions:
            raise RuntimeError(
                f"topic {self.topic!r} does not exist at {describe(settings)}; create it"
                " (just kafka-topics) or set CITY_KAFKA_CREATE_TOPICS=true"
            )
        return [str(p) for p in sorted(partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _KafkaPartition:
        return _KafkaPartition(self.settings, self.topic, int(for_part), resume_state)


class _KafkaPartition(StatefulSourcePartition[KafkaRecord | DataGap, int | None]):
    def __init__(
        self, settings: Settings, topic: str, partition: int, next_offset: int | None
    ) -> None:
        self.settings = settings
        self.tp = TopicPartition(topic, partition)
        self.next_offset = next_offset
        self.end_offset: int | None = None
        self.consumer: KafkaConsumer | None = None
        self.awake_at: datetime | None = None
        self.failures = 0
        self.gaps: list[DataGap] = []
        self._connect()

    def _connect(self) -> bool:
        try:
            consumer = _consumer(self.settings)
            consumer.assign([self.tp])
            if self.next_offset is not None:
                earliest = consumer.beginning_offsets([self.tp])[self.tp]
                if earliest > self.next_offset:
                    self._gap(self.next_offset, earliest, "deleted by the topic's retention")
                    self.next_offset = earliest
                consumer.seek(self.tp, self.next_offset)
            elif self.settings.kafka_start_offset == "earliest":
                consumer.seek_to_beginning(self.tp)
                self.next_offset = consumer.position(self.tp)
            else:
                consumer.seek_to_end(self.tp)
                self.next_offset = consumer.position(self.tp)
            if self.settings.kafka_stop_at_end and self.end_offset is None:
                self.end_offset = consumer.end_offsets([self.tp])[self.tp]
        except (KafkaError, OSError) as error:
            self._back_off(f"cannot reach Kafka at {describe(self.settings)}: {error}")
            return False
        self.consumer = consumer
        if self.failures:
            log.warning("%s: connected again, resuming at offset %s", self.tp, self.next_offset)
        self.failures = 0
        return True

    def _back_off(self, why: str) -> None:
        self.failures += 1
        wait = min(_MAX_BACKOFF_S, 0.5 * 2 ** min(self.failures - 1, 5))
        log.warning("%s: %s; retrying in %.1f s (attempt %d)", self.tp, why, wait, self.failures)
        self.awake_at = datetime.now(UTC) + timedelta(seconds=wait)
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def _gap(self, first: int, resumed_at: int, why: str) -> None:
        part = f"{self.tp.topic}/{self.tp.partition}"
        missing = resumed_at - first
        log.warning(
            "%s: offsets %d to %d were %s before the flow read them; skipping %d offsets",
            part, first, resumed_at - 1, why, missing,
        )  # fmt: skip
        self.gaps.append(DataGap(part, first, resumed_at - 1, now_ms(), why))

    def _check_continuity(self, first_offset: int) -> None:
        """Records start after the expected offset: retention deleted some (or it is a hole)."""
        expected = self.next_offset
        if expected is None or first_offset <= expected or self.consumer is None:
            return
        # transaction markers and compaction leave holes too: only retention loses records
        earliest = self.consumer.beginning_offsets([self.tp])[self.tp]
        if earliest > expected:
            self._gap(expected, min(earliest, first_offset), "deleted by the topic's retention")

    def next_batch(self) -> list[KafkaRecord | DataGap]:
        self.awake_at = None
        if self.gaps:
            gaps, self.gaps = self.gaps, []
            return list(gaps)
        end, position = self.end_offset, self.next_offset
        if end is not None and position is not None and position >= end:
            raise StopIteration
        if self.consumer is None and not self._connect():
            return []
        assert self.consumer is not None
        try:
            fetched = self.consumer.poll(timeout_ms=0, max_records=MAX_RECORDS_PER_BATCH)
        except (KafkaError, OSError) as error:
            self._back_off(f"fetch failed: {error}")
            return []
        records = fetched.get(self.tp)
        if not records:
            self.awake_at = datetime.now(UTC) + _IDLE_WAIT
            return []
        try:
            self._check_continuity(records[0].offset)
        except (KafkaError, OSError) as error:
            log.warning("%s: could not check for a gap before offset %d: %s",
                        self.tp, records[0].offset, error)  # fmt: skip
        self.next_offset = records[-1].offset + 1
        out: list[KafkaRecord | DataGap] = list(self.gaps)
        self.gaps = []
        out += [
            KafkaRecord(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp)
            for r in records
        ]
        return out

    def next_awake(self) -> datetime | None:
        return self.awake_at

    def snapshot(self) -> int | None:
        return self.next_offset

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
