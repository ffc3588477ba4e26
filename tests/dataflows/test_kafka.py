"""The Kafka path against a real broker: produce, consume, dead letters, restarts, scale-out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from dataflows import lake
from dataflows.kafka import client as kafka_io
from dataflows.lake.tables import SinkProgressRow
from dataflows.settings import Settings
from dataflows.telemetry.lake_figures import ConsumerLag
from tests.conftest import ROOT, kafka_env, run_flow, run_json, start_flow, wait_for

pytestmark = pytest.mark.kafka


def produce(env: dict[str, str]) -> dict:
    return run_json("dataflows.cli.produce", {**env, "CITY_SOURCE": "simulator"})


def count(lake_path, sql: str) -> int:
    con = lake.connect(lake_path, read_only=True)
    try:
        return con.sql(sql).fetchone()[0]
    finally:
        con.close()


def topic_messages(kafka, topic: str) -> list[dict]:
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, consumer_timeout_ms=3000)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    messages = [json.loads(m.value) for m in consumer]
    consumer.close()
    return messages


def test_every_produced_reading_is_stored_once_and_alerts_are_published(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "t1.readings", CITY_SIM_FAULT_RATE="0", CITY_SIM_HOURS="6")
    producing = time.time()
    summary = produce(env)
    assert summary["partitions"] == 4 and summary["readings"] > 10_000
    run_flow(env)
    stored = count(tmp_path / "lake", "SELECT count(*) FROM readings")
    assert stored == summary["readings"]
    assert count(tmp_path / "lake", "SELECT count(*) FROM labels") == summary["labels"]
    opened = count(tmp_path / "lake", "SELECT count(*) FROM alerts")
    closed = count(tmp_path / "lake", "SELECT count(closed_at) FROM alerts")
    events = topic_messages(kafka, "t1.readings.alerts")
    assert opened > 0
    assert sorted(e["event"] for e in events) == ["closed"] * closed + ["opened"] * opened
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids) and all(i == f"{e['alert_id']}:{e['event']}"
                                             for i, e in zip(ids, events, strict=True))  # fmt: skip
    sent = count(tmp_path / "lake", "SELECT count(*) FROM alert_deliveries WHERE status = 'sent'")
    assert sent == len(events)
    waited = time.time() - producing
    # the flow's last sample: every partition stored to its end, no consumer lag left, and
    # each partition's newest record reached the lake after it was produced, since the test
    # began producing: the latency is of the producer's wall clock, not the readings' times
    con = lake.connect(tmp_path / "lake", read_only=True)
    last = {
        (scope, metric): value
        for scope, metric, value in con.sql(
            "SELECT scope, metric, arg_max(value, ts) FROM flow_metrics "
            "WHERE metric IN ('consumer_lag', 'produce_to_lake_s') GROUP BY ALL"
        ).fetchall()
    }
    read = dict(
        con.sql(
            "SELECT scope, sum(value) FROM flow_metrics "
            "WHERE metric = 'items' AND starts_with(scope, 'source:') GROUP BY 1"
        ).fetchall()
    )
    ends = dict(
        con.sql(
            "SELECT source_partition, max(max_offset) + 1 FROM sink_progress GROUP BY 1"
        ).fetchall()
    )
    con.close()
    parts = [f"t1.readings/{p}" for p in range(4)]
    assert {p: last[(f"kafka:{p}", "consumer_lag")] for p in parts} == dict.fromkeys(parts, 0.0)
    for p in parts:
        assert 0 < last[(f"kafka:{p}", "produce_to_lake_s")] < waited, (last, waited)
    assert read == {f"source:{p}": ends[p] for p in parts}  # every record read once


def test_every_sample_finds_each_partitions_newest_stored_record(kafka, tmp_path):
    """Sample after sample, the lag and produce-to-lake latency of every partition.

    A consumer kept from sample to sample once stopped receiving some partitions' records
    after a few seeks: from the third sample on, partitions went missing.
    """
    topic, per_partition = "t7.readings", 3_000
    settings = Settings.from_env(
        {"CITY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "CITY_KAFKA_READINGS_TOPIC": topic}
    )
    kafka_io.ensure_topic(settings, topic, 4)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for offset in range(per_partition):
        for p in range(4):
            producer.send(topic, b"{}", partition=p, timestamp_ms=1_000_000 + 10 * offset + p)
    producer.flush()
    producer.close()
    con = lake.connect(tmp_path / "lake")
    lag = ConsumerLag(settings)
    try:
        for sample, offset in enumerate((9, 999, 1_500, 2_000, 2_500, per_partition - 1)):
            committed_ms = 2_000_000 + sample
            progress = [SinkProgressRow(f"{topic}/{p}", offset, committed_ms) for p in range(4)]
            with lake.transaction(con):
                lake.insert(con, "sink_progress", progress)
            rows = {(r.scope, r.metric): r.value for r in lag.rows(con, committed_ms)}
            assert rows == {
                **{(f"kafka:{topic}/{p}", "consumer_lag"): per_partition - offset - 1.0
                   for p in range(4)},
                **{(f"kafka:{topic}/{p}", "produce_to_lake_s"):
                   (committed_ms - 1_000_000 - 10 * offset - p) / 1000 for p in range(4)},
            }, f"sample {sample}"  # fmt: skip
    finally:
        lag.close()
        con.close()


def test_malformed_messages_are_dead_lettered_with_partition_and_offset(kafka, tmp_path):
    topic = "t2.readings"
    settings = Settings.from_env({"CITY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap})
    kafka_io.ensure_topic(settings, topic, 3)
    good = {
        "sensor_id": "noise-77",
        "type": "noise",
        "ts": "2026-01-05T08:00:00Z",
        "values": {"laeq": 55.0},
    }
    bad = {
        b"{not json": "bad_json",
        bytes([0xFF, 0xFE, 0x00]): "bad_encoding",
        b'"a string"': "not_an_object",
        b'{"sensor_id": "noise-77", "type": "noise", "values": {"laeq": 50}}': "missing_field",
        b'{"sensor_id": "x", "type": "noise", "ts": 1, "values": {"laeq": 1}}': "bad_timestamp",
        b'{"sensor_id": "x", "type": "boat", "ts": 1767600000000, "values": {"v": 1}}': (
            "unknown_type"
        ),
        b'{"sensor_id": "x", "type": "noise", "ts": 1767600000000, "values": {"laeq": NaN}}': (
            "bad_value"
        ),
        b'{"sensor_id": "x", "type": "noise", "ts": 1767600000000, "values": {"laeq": 1e9}}': (
            "out_of_range"
        ),
    }
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    expected: dict[str, str] = {}
    for i, (value, reason) in enumerate(bad.items()):
        for partition in range(3):  # good, bad, good on every partition
            before = dict(good, ts=1767600000000 + 60_000 * (2 * i), sensor_id=f"noise-{partition}")
            after = dict(before, ts=before["ts"] + 60_000)
            producer.send(topic, json.dumps(before).encode(), key=b"k", partition=partition)
            meta = producer.send(topic, value, key=b"k", partition=partition).get(timeout=30)
            expected[f"{topic}/{partition}/{meta.offset}"] = reason
            producer.send(topic, json.dumps(after).encode(), key=b"k", partition=partition)
    producer.send(topic, None, key=b"tombstone", partition=0)
    producer.flush()
    env = kafka_env(kafka, tmp_path, topic)
    run_flow(env)
    con = lake.connect(tmp_path / "lake", read_only=True)
    letters = dict(
        con.sql(
            "SELECT position, split_part(reason, ':', 1) FROM dead_letters WHERE source = 'kafka'"
        ).fetchall()
    )
    tombstone = {p: r for p, r in letters.items() if r == "missing_value"}
    assert len(tombstone) == 1
    assert {p: r for p, r in letters.items() if r != "missing_value"} == expected
    # every valid message around the bad ones is stored
    assert con.sql("SELECT count(*) FROM readings").fetchone()[0] == 2 * 3 * len(bad)


def test_a_killed_flow_restarted_with_recovery_stores_every_reading_once(kafka, tmp_path):
    env = kafka_env(
        kafka,
        tmp_path,
        "t3.readings",
        CITY_SIM_FAULT_RATE="0",
        CITY_SIM_HOURS="24",
        CITY_SINK_FLUSH_S="0.2",
    )
    summary = produce(env)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT
    )
    args = ["-r", str(recovery), "-s", "1", "-b", "0"]
    flow = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()", *args],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    written = 0
    while written < summary["readings"] // 5:
        assert time.monotonic() < deadline and flow.poll() is None, "the flow ended too soon"
        time.sleep(0.2)
        written = lake.count_rows(tmp_path / "lake")
    flow.send_signal(signal.SIGKILL)
    flow.wait()
    assert written < summary["readings"], "killed too late to prove anything"
    run_flow(env, *args)
    con = lake.connect(tmp_path / "lake", read_only=True)
    total, unique = con.sql(
        "SELECT count(*), count(DISTINCT (sensor_id, ts, metric)) FROM readings"
    ).fetchone()
    assert total == unique == summary["readings"]
    mismatched = con.sql(
        """
        WITH recomputed AS (
            SELECT sensor_id, metric, time_bucket(INTERVAL 1 MINUTE, ts) AS minute,
                   count(*) AS n, sum(value) AS total
            FROM readings GROUP BY ALL
        )
        SELECT count(*) FROM recomputed r FULL JOIN readings_1m a USING (sensor_id, metric, minute)
        WHERE a.n IS DISTINCT FROM r.n OR abs(a.mean * a.n - r.total) > 1e-6
        """
    ).fetchone()[0]
    assert mismatched == 0
    duplicate_alerts = con.sql("SELECT count(*) - count(DISTINCT alert_id) FROM alerts").fetchone()[
        0
    ]
    assert duplicate_alerts == 0


def test_two_workers_share_four_partitions(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "t4.readings", CITY_SIM_FAULT_RATE="0", CITY_SIM_HOURS="3")
    summary = produce(env)
    run_flow(env, "-w", "2")
    assert count(tmp_path / "lake", "SELECT count(*) FROM readings") == summary["readings"]
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap)
    parts = [TopicPartition("t4.readings", p) for p in range(4)]
    ends = consumer.end_offsets(parts)
    consumer.close()
    con = lake.connect(tmp_path / "lake", read_only=True)
    progress = dict(
        con.sql("SELECT source_partition, max(max_offset) FROM sink_progress GROUP BY 1").fetchall()
    )
    assert progress == {f"t4.readings/{tp.partition}": ends[tp] - 1 for tp in parts}


def test_the_flow_waits_for_a_restarted_broker_and_loses_nothing(tmp_path):
    from dataflows.kafka import broker as kafka_broker

    broker = kafka_broker.Broker(tmp_path / "broker", kafka_broker.free_port_pair())
    kafka_broker.start(broker)
    lake_path = tmp_path / "lake"
    env = kafka_env(broker, tmp_path, "t5.readings", CITY_SIM_FAULT_RATE="0", CITY_SIM_HOURS="6")
    env["CITY_KAFKA_STOP_AT_END"] = "false"  # streaming, as in production
    flow = None
    try:
        first = produce(env)
        flow = start_flow(env)
        wait_for(lambda: lake.count_rows(lake_path) == first["readings"], flow)
        kafka_broker.stop(broker)
        time.sleep(5)
        assert flow.poll() is None, "the flow died with the broker"
        kafka_broker.start(broker)
        second = produce({**env, "CITY_SIM_START": "2026-01-05T12:00:00Z"})
        wait_for(lambda: lake.count_rows(lake_path) == first["readings"] + second["readings"], flow)
        assert flow.poll() is None
    finally:
        if flow is not None:
            flow.send_signal(signal.SIGINT)
            flow.communicate(timeout=60)
        kafka_broker.stop(broker)
    con = lake.connect(lake_path, read_only=True)
    assert (
        con.sql(
            "SELECT count(*) - count(DISTINCT (sensor_id, ts, metric)) FROM readings"
        ).fetchone()[0]
        == 0
    )
