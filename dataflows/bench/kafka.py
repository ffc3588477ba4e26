"""The Kafka path's figures for `just bench`: throughput against a bare consumer, and latency.

1. The simulator's stream is produced to a fresh topic; a bare kafka-python consumer loop
   reads it all (the ceiling), then the city flow reads it into a temporary lake (one
   worker). Both are given in readings/s.
2. End-to-end latency at a fixed offered rate: the flow runs in its own process on another
   fresh topic; once a first reading has gone through it (so its start-up is not counted),
   a producer sends readings at `rate` per second, each stamped with its send time; a
   reader polls the lake's change feed (`ducklake_table_insertions`) every 0.1 s, and each
   reading's latency is the time it was first seen minus its stamp.
3. Memory on a hostile stream (`dataflows.bench.memory.hostile`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from dataflows import lake
from dataflows.bench import memory as bench_memory
from dataflows.bench.memory import progress
from dataflows.bench.throughput import bench_flow
from dataflows.kafka import broker as kafka_broker
from dataflows.kafka import client as kafka_io
from dataflows.kafka.produce import produce
from dataflows.lake.connection import one
from dataflows.messages.schema import now_ms
from dataflows.settings import PROJECT_ROOT, Settings


def bare_consumer(settings: Settings, topic: str) -> tuple[int, float]:
    """Read every record of `topic` with a plain consumer loop: (records, seconds)."""
    consumer = KafkaConsumer(
        **kafka_io.client_config(settings),
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=5_000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    total = sum(ends.values())
    seen = 0
    started = time.perf_counter()
    while seen < total:
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
    seconds = time.perf_counter() - started
    consumer.close()
    return seen, seconds


def throughput(settings: Settings) -> dict[str, float]:
    """Readings/s of the flow from topic to lake and of the bare consumer on the same topic."""
    topic = f"bench.{uuid.uuid4().hex[:8]}"
    settings = replace(
        settings,
        kafka_readings_topic=topic,
        kafka_alerts_topic=f"{topic}.alerts",
        kafka_stop_at_end=True,
    )
    with tempfile.TemporaryDirectory(prefix="city-bench-kafka-") as folder:
        settings = replace(settings, lake=Path(folder))
        progress(f"producing the simulated stream to {topic} ...")
        summary = produce(replace(settings, source="simulator"))
        per_message = summary["readings"] / summary["messages"]
        progress(f"  {summary['messages']:,} messages; bare consumer loop ...")
        records, bare_s = bare_consumer(settings, topic)
        progress("  the flow from the topic into a lake (1 worker) ...")
        flow = bench_flow(replace(settings, source="kafka"))
    flow_rate = flow["readings_per_s"]
    bare_rate = records * per_message / bare_s
    return {
        "kafka_messages": records,
        "kafka_flow_readings": flow["readings"],
        "kafka_flow_readings_per_s": round(flow_rate),
        "kafka_bare_consumer_readings_per_s": round(bare_rate),
        "kafka_ratio_flow_to_bare": round(flow_rate / bare_rate, 3),
    }


def _paced_producer(
    settings: Settings,
    topic: str,
    rate: float,
    window: tuple[int, int],
    sent: list[int],
    stop: threading.Event,
) -> None:
    """Send air-quality readings (2 metrics a message) at `rate` readings/s, stamped now.

    It goes on at the same rate after the measured `window` (epoch ms) until `stop`, so the
    readings of the window's end are measured in a running stream, not in a stream's last
    batch; `sent` counts the readings stamped within the window.
    """
    producer = KafkaProducer(**kafka_io.client_config(settings), linger_ms=5, acks=1)
    rng = random.Random(1)
    per_tick = max(1, round(rate / 2 * 0.05))  # messages per 50 ms
    started = time.monotonic()
    tick = 0
    count = 0
    while not stop.is_set():
        for _ in range(per_tick):
            # round robin: a sensor reports every 1000 messages, never twice in a millisecond
            sensor = f"latency-{count % 1000:04d}"
            count += 1
            ts = now_ms()
            message = {
                "sensor_id": sensor,
                "type": "air_quality",
                "ts": ts,
                "values": {
                    "pm25": round(rng.uniform(5, 20), 1),
                    "no2": round(rng.uniform(10, 40), 1),
                },
            }
            key, value = kafka_io.encode(message)
            producer.send(topic, key=key, value=value)
            if window[0] <= ts <= window[1]:
                sent[0] += 2
        tick += 1
        pause = started + tick * 0.05 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    producer.flush()
    producer.close()


def _wait_until_running(
    settings: Settings, topic: str, lake_path: Path, flow: subprocess.Popen, timeout_s: float = 120
) -> None:
    """Send one reading and wait until the flow has written it: the flow is up and running."""
    producer = KafkaProducer(**kafka_io.client_config(settings))
    message = {
        "sensor_id": "latency-warmup",
        "type": "noise",
        "ts": now_ms(),
        "values": {"laeq": 50.0},
    }
    key, value = kafka_io.encode(message)
    producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    deadline = time.monotonic() + timeout_s
    while lake.count_rows(lake_path) == 0:
        if flow.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the latency flow did not start")
        time.sleep(0.1)


def latency(
    settings: Settings, rate: float = 10_000.0, seconds: float = 20.0, **flow_env: str
) -> dict:
    """p50/p99 of produce-to-visible-in-lake latency at an offered rate of `rate` readings/s."""
    topic = f"latency.{uuid.uuid4().hex[:8]}"
    kafka_io.ensure_topic(settings, topic, settings.kafka_partitions)
    with tempfile.TemporaryDirectory(prefix="city-bench-latency-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
        env.update(
            CITY_LAKE=folder,
            CITY_SOURCE="kafka",
            CITY_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
            CITY_KAFKA_READINGS_TOPIC=topic,
            CITY_KAFKA_ALERTS_TOPIC=f"{topic}.alerts",
            CITY_KAFKA_START_OFFSET="earliest",
            CITY_COMPACT_EVERY_S="0",
            **flow_env,
        )
        flow = subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()"],
            env=env,
            cwd=PROJECT_ROOT,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_running(settings, topic, Path(folder), flow)
            sent = [0]
            start = now_ms()
            window = (start, start + int(seconds * 1000))
            stop = threading.Event()
            producer = threading.Thread(
                target=_paced_producer, args=(settings, topic, rate, window, sent, stop)
            )
            progress(f"latency: offering {rate:,.0f} readings/s for {seconds:g} s ...")
            producer.start()
            con = lake.connect(folder, read_only=True)
            latencies: list[int] = []
            last = one(con.sql("SELECT id FROM lake.current_snapshot()"))[0]
            deadline = time.monotonic() + seconds + 30
            while time.monotonic() < deadline:
                time.sleep(0.1)
                current = one(con.sql("SELECT id FROM lake.current_snapshot()"))[0]
                if current > last:
                    seen = now_ms()
                    stamps = con.execute(
                        "SELECT epoch_ms(ts) FROM ducklake_table_insertions("
                        "'lake', 'main', 'readings', ?, ?) WHERE epoch_ms(ts) BETWEEN ? AND ?",
                        [last + 1, current, *window],
                    ).fetchall()
                    latencies.extend(seen - stamp for (stamp,) in stamps)
                    last = current
                if now_ms() > window[1] and len(latencies) >= sent[0]:
                    break
            stop.set()
            producer.join()
            con.close()
        finally:
            flow.send_signal(signal.SIGINT)
            try:
                flow.wait(timeout=30)
            except subprocess.TimeoutExpired:
                flow.kill()
    latencies.sort()
    if not latencies:
        raise RuntimeError("no reading became visible in the lake")

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000

    return {
        "latency_offered_readings_per_s": rate,
        "latency_readings_sent": sent[0],
        "latency_readings_seen": len(latencies),
        "latency_p50_s": round(pick(0.50), 3),
        "latency_p99_s": round(pick(0.99), 3),
    }


def run(
    settings: Settings,
    bootstrap: str | None = None,
    latency_rate: float = 10_000.0,
    latency_seconds: float = 20.0,
) -> dict:
    """All Kafka figures; starts a temporary broker unless `bootstrap` names one."""
    broker = None
    home = None
    if bootstrap is None:
        home = tempfile.TemporaryDirectory(prefix="city-bench-broker-")
    try:
        if home is not None:
            broker = kafka_broker.Broker(Path(home.name), kafka_broker.free_port_pair())
            progress(f"starting a Kafka broker at {broker.bootstrap} ...")
            kafka_broker.start(broker)
            bootstrap = broker.bootstrap
        assert bootstrap is not None
        settings = replace(settings, kafka_bootstrap_servers=bootstrap)
        figures = throughput(settings)
        figures.update(latency(settings, latency_rate, latency_seconds))
        progress("memory on a clean and a hostile stream")
        figures.update(bench_memory.hostile(settings))
        return figures
    finally:
        if broker is not None:
            kafka_broker.stop(broker)
        if home is not None:
            home.cleanup()
