"""Hostile streams through a real broker: the flow goes on, and everything is accounted for.

Every test here sends its messages with kafka-python to the session's real broker and runs
the real Kafka flow (`python -m bytewax.run`), then checks the lake: each valid reading
stored once, each bad message dead-lettered with its `topic/partition/offset`.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from dataflows import lake
from dataflows.kafka import client as kafka_io
from dataflows.kafka.client import KafkaRecord, decode
from dataflows.settings import Settings
from dataflows.simulator.city import whole_stream
from tests.conftest import ROOT, kafka_env, run_flow, start_flow, wait_for
from tests.hostile import HOSTILE, WIRE_HOSTILE

pytestmark = pytest.mark.kafka

T0 = 1767600000000
UNLIMITED = {  # one row per dead letter, to check each
    "CITY_DEAD_LETTERS_PER_MINUTE": "1000000",
    "CITY_DEAD_LETTERS_MAX_PER_MINUTE": "1000000",
}


def create_topic(kafka, topic: str, partitions: int = 3) -> None:
    settings = Settings.from_env({"CITY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap})
    kafka_io.ensure_topic(settings, topic, partitions)


def valid(k: int, minute: int) -> bytes:
    message = {
        "sensor_id": f"valid-{k}",
        "type": "noise",
        "ts": T0 + 60_000 * minute,
        "values": {"laeq": 50.0 + (minute % 7)},
    }
    return json.dumps(message).encode()


def publish_mixed(kafka, topic: str, hostile: list[bytes], partitions: int = 3) -> dict:
    """Valid readings with the hostile messages among them; where each hostile one went."""
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, max_request_size=2_000_000)
    positions: dict[str, bytes] = {}
    readings = 0
    for i, value in enumerate(hostile):
        partition = i % partitions
        sensor = partition  # one valid sensor per partition keeps its time order
        producer.send(topic, valid(sensor, 2 * i), partition=partition)
        meta = producer.send(topic, value, key=b"gw", partition=partition).get(timeout=30)
        positions[f"{topic}/{partition}/{meta.offset}"] = value
        producer.send(topic, valid(sensor, 2 * i + 1), partition=partition)
        readings += 2
    producer.flush()
    producer.close()
    return {"hostile": positions, "readings": readings}


def lake_rows(lake_path, sql: str) -> list[tuple]:
    con = lake.connect(lake_path, read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def check_accounted(lake_path, sent: dict) -> dict[str, str]:
    """Every valid reading stored once; every hostile message dead-lettered once."""
    stored = lake_rows(
        lake_path, "SELECT count(*), count(DISTINCT (sensor_id, ts, metric)) FROM readings"
    )
    assert stored == [(sent["readings"], sent["readings"])]
    letters = lake_rows(
        lake_path, "SELECT position, reason FROM dead_letters WHERE source = 'kafka'"
    )
    by_position = dict(letters)
    assert len(by_position) == len(letters)  # one letter per message
    assert set(by_position) == set(sent["hostile"])
    assert not [r for r in by_position.values() if r.startswith("internal_error")]
    return by_position


def test_each_hostile_kind_among_valid_readings_is_dead_lettered_and_the_flow_completes(
    kafka, tmp_path
):
    topic = "h1.readings"
    create_topic(kafka, topic)
    sent = publish_mixed(kafka, topic, [value for _, value, _ in HOSTILE])
    env = kafka_env(kafka, tmp_path, topic, **UNLIMITED)
    started = time.monotonic()
    run_flow(env, timeout=300)
    assert time.monotonic() - started < 120
    reasons = check_accounted(tmp_path / "lake", sent)
    expected = {
        position: reason
        for position, value in sent["hostile"].items()
        for _, hostile, reason in HOSTILE
        if hostile == value
    }
    assert {p: r.split(":")[0] for p, r in reasons.items()} == expected


REJECTED = WIRE_HOSTILE.filter(lambda v: decode(KafkaRecord("t", 0, 0, None, v, 0))[0] is None)


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(hostile=st.lists(REJECTED, min_size=120, max_size=120))
def test_a_generated_hostile_stream_never_stops_the_flow(kafka, tmp_path_factory, hostile):
    tmp_path = tmp_path_factory.mktemp("generated")
    topic = f"h2.{random.randrange(10**9)}"
    create_topic(kafka, topic)
    sent = publish_mixed(kafka, topic, hostile)
    run_flow(kafka_env(kafka, tmp_path, topic, **UNLIMITED), timeout=300)
    check_accounted(tmp_path / "lake", sent)


def simulated_with_hostile(kafka, topic: str, env: dict, every: int = 40) -> dict:
    """The simulator's stream with a hostile message after every `every` messages."""
    s = Settings.from_env(env)
    start = int(s.sim_start.timestamp() * 1000)
    end = start + int(s.sim_hours * 3_600_000)
    stream = [m for m in whole_stream(s.sim_seed, s.sim_sensors, 4, start, end, 0.0)]
    messages = [m for m in stream if isinstance(m, dict)]
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=20)
    futures = []
    readings = 0
    for i, message in enumerate(messages):
        key, value = kafka_io.encode(message)
        producer.send(topic, value, key=key)
        readings += len(message["values"])
        if i % every == 0:
            value = HOSTILE[(i // every) % len(HOSTILE)][1]
            futures.append(producer.send(topic, value, key=key))
    producer.flush()
    producer.close()
    hostile = {}
    for future in futures:
        meta = future.get(timeout=30)
        hostile[f"{topic}/{meta.partition}/{meta.offset}"] = b""
    return {"hostile": hostile, "readings": readings}


def test_a_hostile_stream_killed_and_restarted_loses_and_duplicates_nothing(kafka, tmp_path):
    topic = "h3.readings"
    create_topic(kafka, topic, partitions=4)
    env = kafka_env(
        kafka,
        tmp_path,
        topic,
        CITY_SIM_SENSORS="40",
        CITY_SIM_HOURS="24",
        CITY_SINK_FLUSH_S="0.2",
        **UNLIMITED,
    )
    sent = simulated_with_hostile(kafka, topic, env)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT
    )
    args = ["-r", str(recovery), "-s", "1", "-b", "0"]
    for kill_at in (sent["readings"] // 4, sent["readings"] // 2):
        flow = start_flow(env, *args)
        deadline = time.monotonic() + 120
        written = lake.count_rows(tmp_path / "lake")
        while written < kill_at:
            assert flow.poll() is None, flow.stderr.read()[-3000:]  # never a crash loop
            assert time.monotonic() < deadline
            time.sleep(0.2)
            written = lake.count_rows(tmp_path / "lake")
        flow.send_signal(signal.SIGKILL)
        flow.communicate()
        assert written < sent["readings"], "killed too late to prove anything"
    run_flow(env, *args)
    check_accounted(tmp_path / "lake", sent)


def test_a_flood_from_one_gateway_is_rate_limited_and_counted(kafka, tmp_path):
    topic = "h4.readings"
    create_topic(kafka, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=20)
    for i in range(3_000):
        producer.send(topic, b"{broken " + str(i).encode(), key=b"gw-7")
    producer.send(topic, valid(0, 0))
    producer.flush()
    run_flow(kafka_env(kafka, tmp_path, topic))
    rows = lake_rows(
        tmp_path / "lake",
        "SELECT reason FROM dead_letters WHERE sensor_id = 'gw-7'",
    )
    single = [r for (r,) in rows if r.startswith("bad_json")]
    summaries = [r for (r,) in rows if r.startswith("rate_limited")]
    assert 10 <= len(single) <= 30  # 10 a minute; the run may span a minute boundary
    assert 1 <= len(summaries) <= 3
    assert len(single) + sum(int(s.split()[1]) for s in summaries) == 3_000
    assert lake_rows(tmp_path / "lake", "SELECT count(*) FROM readings") == [(1,)]


def test_a_sensor_silent_past_its_lifetime_leaves_the_state_and_returns_cold(kafka, tmp_path):
    topic = "h5.readings"
    create_topic(kafka, topic, partitions=1)
    env = kafka_env(kafka, tmp_path, topic, CITY_STATE_TTL_S="4", CITY_KAFKA_STOP_AT_END="false")
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    now = int(time.time() * 1000) - 3_600_000

    def send(minutes: range) -> None:
        for m in minutes:
            message = {"sensor_id": "n-1", "type": "noise", "ts": now + m * 1000,
                       "values": {"laeq": 50.0 + m % 3}}  # fmt: skip
            producer.send(topic, json.dumps(message).encode())
        producer.flush()

    flow = start_flow(env)
    try:
        send(range(30))
        wait_for(lambda: lake.count_rows(tmp_path / "lake") == 30, flow)
        wait_for(lambda: resets(tmp_path / "lake") == 1, flow, timeout=60)  # silent 4 s
        send(range(30, 40))
        wait_for(lambda: lake.count_rows(tmp_path / "lake") == 40, flow)
    finally:
        flow.send_signal(signal.SIGINT)
        flow.communicate(timeout=60)
    evictions = lake_rows(
        tmp_path / "lake", "SELECT epoch_ms(reset_at), reason FROM model_resets ORDER BY 1"
    )
    # the first when the sensor fell silent after its 30th reading (a second may follow the
    # last ten, if the flow outlives another 4 s of silence)
    assert evictions[0] == (now + 29 * 1000, "expired: silent for 4 s") and len(evictions) <= 2


def resets(lake_path) -> int:
    if not lake.is_ready(lake_path):
        return 0
    return lake_rows(lake_path, "SELECT count(*) FROM model_resets")[0][0]


def test_records_deleted_before_the_flow_read_them_are_a_recorded_data_gap(kafka, tmp_path):
    topic = "h6.readings"
    create_topic(kafka, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for m in range(100):
        producer.send(topic, valid(0, m))
    producer.flush()
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT
    )
    args = ["-r", str(recovery), "-s", "1", "-b", "0"]
    env = kafka_env(kafka, tmp_path, topic)
    run_flow(env, *args)  # reads offsets 0-99, snapshots its position: 100
    for m in range(100, 200):
        producer.send(topic, valid(0, m))
    producer.flush()
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    admin.delete_records({TopicPartition(topic, 0): 150})  # retention took 100-149 unread
    admin.close()
    restarted = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert f"{topic}/0: offsets 100 to 149 were deleted" in restarted.stderr
    assert "skipping 50 offsets" in restarted.stderr
    gaps = lake_rows(
        tmp_path / "lake",
        "SELECT source_partition, first_offset, last_offset, missing, reason FROM data_gaps",
    )
    assert gaps == [(f"{topic}/0", 100, 149, 50, "deleted by the topic's retention")]
    assert lake.count_rows(tmp_path / "lake") == 150  # all that was left was read


def test_an_unreachable_alerts_broker_does_not_hold_up_the_lake(kafka, tmp_path):
    topic = "h7.readings"
    env = kafka_env(
        kafka,
        tmp_path,
        topic,
        CITY_SIM_FAULT_RATE="0",
        CITY_SIM_HOURS="6",
        CITY_KAFKA_ALERTS_BOOTSTRAP_SERVERS="127.0.0.1:9",  # nothing listens there
    )
    summary = json.loads(
        subprocess.run(
            [sys.executable, "-m", "dataflows.cli.produce", "--json"],
            env={**env, "CITY_SOURCE": "simulator"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    )
    started = time.monotonic()
    run_flow(env)
    took = time.monotonic() - started
    assert lake.count_rows(tmp_path / "lake") == summary["readings"]
    alerts = lake_rows(tmp_path / "lake", "SELECT count(*) + count(closed_at) FROM alerts")[0][0]
    failed = lake_rows(
        tmp_path / "lake",
        "SELECT count(DISTINCT event_id) FROM alert_deliveries WHERE status = 'failed'",
    )[0][0]
    assert alerts > 0 and failed == alerts  # every event recorded as not delivered
    assert took < 150, f"the flow took {took:.0f} s"


def test_a_reading_a_day_ahead_through_kafka_is_a_clock_jump_and_nothing_else_is_late(
    kafka, tmp_path
):
    topic = "h8.readings"
    create_topic(kafka, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for m in range(60):
        producer.send(topic, valid(1, m))
        if m == 30:  # the gateway's clock jumps 23 h ahead once
            producer.send(topic, valid(1, m + 23 * 60))
    producer.flush()
    run_flow(kafka_env(kafka, tmp_path, topic))
    letters = lake_rows(tmp_path / "lake", "SELECT position, reason FROM dead_letters")
    assert [(p, r.split(":")[0]) for p, r in letters] == [(f"{topic}/0/31", "clock_jump")]
    assert lake.count_rows(tmp_path / "lake") == 60


def test_alert_events_beyond_the_queue_are_recorded_as_failed_never_dropped(tmp_path, monkeypatch):
    from dataflows.sinks import kafka_alerts

    monkeypatch.setattr(kafka_alerts, "_MAX_PENDING", 100)
    monkeypatch.setattr(kafka_alerts, "_CLOSE_PATIENCE_S", 1.0)
    settings = Settings.from_env(
        {"CITY_LAKE": str(tmp_path / "lake"), "CITY_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    )
    sink = kafka_alerts._AlertPartition(settings, [])  # nothing listens: it backs off
    events = [
        {"event_id": f"s@{i}:opened", "alert_id": f"s@{i}", "sensor_id": "s"} for i in range(130)
    ]
    sink.write_batch(events)
    assert len(sink.snapshot()) == 100  # the queue is the sink's recovery state
    sink.close()
    rows = lake_rows(
        tmp_path / "lake", "SELECT status, detail, count(*) FROM alert_deliveries GROUP BY ALL"
    )
    assert sorted((status, n) for status, _, n in rows) == [("failed", 30), ("failed", 100)]
    assert {detail.split(" ")[0] for _, detail, _ in rows} == {"more", "the"}
