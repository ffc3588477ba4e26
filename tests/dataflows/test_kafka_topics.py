"""A fresh broker: the flow's topics are created, the README's kcat example works, and a
startup problem is one line."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient

from dataflows import lake
from tests.conftest import ROOT, city_env, kafka_env, run_flow

pytestmark = pytest.mark.kafka


def topics(kafka) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        described = admin.describe_topics()
    finally:
        admin.close()
    return {t["name"]: len(t["partitions"]) for t in described if t.get("partitions")}


def command(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def readme_kcat_example() -> str:
    """The README's kcat command line (the shell block that pipes a message into kcat)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "kcat -P" in b]
    return block.replace("\\\n", " ").strip()


def test_kafka_topics_creates_the_missing_topics_once(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "fresh1.readings", CITY_KAFKA_PARTITIONS="3")
    first = command("dataflows.cli.kafka_topics", env)
    assert first.returncode == 0, first.stderr
    assert "fresh1.readings: 3 partitions" in first.stderr
    assert {"fresh1.readings": 3, "fresh1.readings.alerts": 3}.items() <= topics(kafka).items()
    again = command("dataflows.cli.kafka_topics", {**env, "CITY_KAFKA_PARTITIONS": "5"})
    assert again.returncode == 0 and topics(kafka)["fresh1.readings"] == 3  # left as it was


def test_the_readme_kcat_example_reaches_the_lake_on_fresh_topics(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "fresh2.readings")
    assert command("dataflows.cli.kafka_topics", env).returncode == 0
    example = readme_kcat_example()
    assert "-b 127.0.0.1:9092 -t city.readings" in example
    line = example.replace("127.0.0.1:9092", kafka.bootstrap).replace(
        "city.readings", "fresh2.readings"
    )
    produced = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60)
    assert produced.returncode == 0, produced.stderr
    run_flow(env)
    con = lake.connect(tmp_path / "lake", read_only=True)
    rows = con.sql("SELECT sensor_id, metric, value FROM readings").fetchall()
    assert rows == [("noise-9000", "laeq", 61.5)], shlex.quote(line)


def test_the_flow_creates_its_topics_when_missing(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "fresh3.readings", CITY_KAFKA_PARTITIONS="2")
    run_flow(env)  # `bytewax.run` itself: the source creates the topic it reads
    assert topics(kafka)["fresh3.readings"] == 2
    env = kafka_env(kafka, tmp_path, "fresh5.readings", CITY_RECOVERY="false")
    started = command("dataflows.cli.flow", env)  # `just flow`: both, before the flow starts
    assert started.returncode == 0, started.stderr
    assert {"fresh5.readings": 4, "fresh5.readings.alerts": 4}.items() <= topics(kafka).items()


def test_a_missing_topic_not_to_be_created_is_one_line(kafka, tmp_path):
    env = kafka_env(kafka, tmp_path, "fresh4.readings", CITY_KAFKA_CREATE_TOPICS="false")
    result = command("dataflows.cli.flow", env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"[flow] error: Kafka topic 'fresh4.readings' does not exist at {kafka.bootstrap}"
        " (PLAINTEXT): create it with `just kafka-topics`, or set CITY_KAFKA_CREATE_TOPICS=true"
    ]
    assert "fresh4.readings" not in topics(kafka)


def test_an_unreachable_broker_is_one_line(tmp_path):
    env = city_env(
        tmp_path / "lake", CITY_SOURCE="kafka", CITY_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"
    )
    result = command("dataflows.cli.flow", env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "[flow] error: no Kafka broker answers at 127.0.0.1:1 (PLAINTEXT) within 10 s"
        " (CITY_KAFKA_BOOTSTRAP_SERVERS): is it running? `just kafka` starts one here"
    ]
