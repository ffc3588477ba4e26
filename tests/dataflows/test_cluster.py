"""Several hosts, one lake: a two-process Bytewax cluster over Kafka writing a server lake.

Each process has a working folder and a recovery folder of its own (no shared filesystem):
the recovery store's two partitions are split between them, which Bytewax allows as long as
every partition is on some process. The lake's catalog is on PostgreSQL and its files on S3,
both real servers; a replay writes the same lake meanwhile, as a third host would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataflows import lake
from dataflows.lake.address import LakeAddress
from dataflows.settings import Settings
from tests.conftest import ROOT, free_port, run_json, server_lake_env
from tests.dataflows.test_replay import write_recordings

pytestmark = pytest.mark.kafka

FLOW = "dataflows.flow.city:build_flow()"


def split_recovery_store(folder: Path) -> list[Path]:
    """Two recovery partitions, one in each process's own folder."""
    made = folder / "made"
    made.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(made), "2"], check=True)
    homes = []
    for index in range(2):
        home = folder / f"process-{index}"
        home.mkdir()
        (made / f"part-{index}.sqlite3").rename(home / f"part-{index}.sqlite3")
        homes.append(home)
    return homes


def start_cluster(env: dict[str, str], tmp_path: Path, recovery: list[Path], addresses: str):
    processes = []
    for index, store in enumerate(recovery):
        host = {**env, "CITY_LAKE": str(tmp_path / f"host-{index}")}  # its working folder
        args = ["-i", str(index), "-a", addresses, "-r", str(store), "-s", "1", "-b", "0"]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "bytewax.run", FLOW, *args],
                env=host,
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return processes


def stored(address: LakeAddress) -> int:
    return lake.count_rows(address)


def test_a_killed_process_of_a_two_host_cluster_resumes_and_nothing_is_lost_or_twice(
    kafka, postgres, s3, tmp_path
):
    env = server_lake_env(
        postgres,
        s3,
        tmp_path / "producer",
        "cluster_lake",
        CITY_KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap,
        CITY_KAFKA_READINGS_TOPIC="cluster.readings",
        CITY_KAFKA_ALERTS_TOPIC="cluster.readings.alerts",
        CITY_SIM_FAULT_RATE="0",
        CITY_SIM_HOURS="12",
        CITY_SINK_PARTITIONS="2",
        CITY_METRICS_PORT="0",
        CITY_RETENTION_READINGS_DAYS="0",  # the replay's recordings are from 2024
    )
    produced = run_json("dataflows.cli.produce", {**env, "CITY_SOURCE": "simulator"})
    env = {**env, "CITY_SOURCE": "kafka", "CITY_KAFKA_STOP_AT_END": "true"}
    address = LakeAddress.from_settings(Settings.from_env(env))
    recovery = split_recovery_store(tmp_path / "recovery")
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    first = start_cluster(env, tmp_path, recovery, addresses)
    deadline = time.monotonic() + 180
    while stored(address) < produced["readings"] // 4:
        assert time.monotonic() < deadline and all(p.poll() is None for p in first)
        time.sleep(0.3)
    first[1].send_signal(signal.SIGKILL)  # one host dies
    for process in first:
        process.communicate(timeout=120)
    assert stored(address) < produced["readings"], "killed too late to prove anything"
    # the cluster restarts while another host replays recordings into the same lake
    again = start_cluster(env, tmp_path, recovery, addresses)
    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    replay_env = {**env, "CITY_LAKE": str(tmp_path / "replay-host"), "CITY_SOURCE": "simulator"}
    replayed = run_json("dataflows.cli.replay", replay_env, str(recordings), "--labels", "anomaly")
    ended = [(p.communicate(timeout=300)[1], p.returncode) for p in again]
    assert [code for _, code in ended] == [0, 0], "\n---\n".join(e[-3000:] for e, _ in ended)
    con = lake.connect(address, read_only=True)
    by_source = dict(
        con.sql(
            "SELECT sensor_id IN ('pumps/a', 'tank'), count(*) FROM readings GROUP BY 1"
        ).fetchall()
    )
    unique = con.sql("SELECT count(DISTINCT (sensor_id, ts, metric)) FROM readings").fetchone()[0]
    labels = con.sql("SELECT count(*) FROM labels WHERE sensor_id NOT IN ('pumps/a')").fetchone()
    con.close()
    assert by_source == {False: produced["readings"], True: replayed["readings"]}
    assert unique == produced["readings"] + replayed["readings"]
    assert labels[0] == produced["labels"]
