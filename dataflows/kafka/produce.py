"""Publishing the simulator's readings to Kafka, as sensor gateways would (`just produce`).

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

import sys
import time
from datetime import UTC, datetime

from kafka import KafkaProducer

from dataflows import lake
from dataflows.kafka import client as kafka_io
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AssetTruthRow, LabelRow
from dataflows.messages.hostile import HOSTILE
from dataflows.messages.schema import AssetTruth, Label
from dataflows.settings import Settings
from dataflows.sources.simulator import SimulatorSource


class Progress:
    """A one-line progress display on stderr, refreshed at most once a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0.0

    def show(self, messages: int, readings: int, sim_ms: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < 1.0:
            return
        self.shown = now
        rate = readings / max(now - self.started, 1e-9)
        sim = datetime.fromtimestamp(sim_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        end = "\n" if final else "\r"
        print(
            f"[produce] {messages:,} messages, {readings:,} readings ({rate:,.0f}/s), "
            f"simulated time {sim} UTC",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def produce(settings: Settings, progress: bool = True, hostile_every: int = 0) -> dict[str, int]:
    """Publish the simulated stream; return counts of messages, readings, labels, hostile."""
    partitions = kafka_io.ensure_topic(
        settings, settings.kafka_readings_topic, settings.kafka_partitions
    )
    producer = KafkaProducer(
        **kafka_io.client_config(settings),
        linger_ms=10,
        batch_size=512 * 1024,
        acks="all",
        retries=10,
    )
    failures: list[BaseException] = []
    source = SimulatorSource(settings)
    parts = [source.build_part("produce", name, None) for name in source.list_parts()]
    address = lake.LakeAddress.from_settings(settings)
    con = lake.connect(address)
    display = Progress() if progress else None
    messages = readings = labels = hostile = 0
    sim_ms = source.start_ms
    while parts:
        pending: list = []
        for part in list(parts):
            try:
                pending.extend(part.next_batch())
            except StopIteration:
                parts.remove(part)
                continue
            sim_ms = max(sim_ms, part.simulator.now_ms)
        found = Rows()
        for record in pending:
            item = record.payload
            if isinstance(item, Label):
                found.labels.append(LabelRow(*item))
                continue
            if isinstance(item, AssetTruth):
                found.asset_truth.append(AssetTruthRow(*item))
                continue
            key, value = kafka_io.encode(item)
            producer.send(settings.kafka_readings_topic, key=key, value=value).add_errback(
                failures.append
            )
            messages += 1
            if hostile_every and messages % hostile_every == 0:
                _, bad, _ = HOSTILE[hostile % len(HOSTILE)]
                producer.send(settings.kafka_readings_topic, key=key, value=bad).add_errback(
                    failures.append
                )
                hostile += 1
            if isinstance(item, dict) and isinstance(item.get("values"), dict):
                readings += len(item["values"])
        if found.labels or found.asset_truth:
            lake.write(con, found, address)
            labels += len(found.labels)
        if failures:
            raise SystemExit(f"publishing to Kafka failed: {failures[0]}")
        if display:
            display.show(messages, readings, sim_ms)
        if not pending and parts:
            awake = [p.next_awake() for p in parts]
            waits = [(a - datetime.now(UTC)).total_seconds() for a in awake if a is not None]
            time.sleep(min(max(min(waits, default=0.05), 0.0), 1.0))
    producer.flush(timeout=60)
    producer.close(timeout=60)
    con.close()
    if failures:
        raise SystemExit(f"publishing to Kafka failed: {failures[0]}")
    if display:
        display.show(messages, readings, sim_ms, final=True)
    return {
        "messages": messages,
        "readings": readings,
        "labels": labels,
        "hostile": hostile,
        "partitions": partitions,
    }
