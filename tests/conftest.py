"""Shared fixtures: a real flow run into a temporary lake, reused by many tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI explores the same examples on every run; locally each run explores new ones
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent

SMALL_CITY = {
    "CITY_SIM_SENSORS": "60",
    "CITY_SIM_ASSETS": "0",  # assets: FLEET and tests/dataflows/test_maintenance_flow.py
    "CITY_SIM_HOURS": "12",
    "CITY_SIM_SPEEDUP": "0",
    "CITY_SIM_SEED": "7",
    "CITY_SIM_START": "2026-01-05T06:00:00Z",
    "CITY_SINK_FLUSH_S": "0.2",
}


def require_shared_data(path: Path) -> None:
    """Skip when the shared data at `path` is missing, except in CI: there it always is."""
    if not path.exists():
        assert not os.environ.get("CI"), f"{path} is missing"
        pytest.skip(f"{path} is not beside this checkout")


def city_env(lake: Path, **overrides: str) -> dict[str, str]:
    """The environment of a flow run on the small test city into `lake`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
    recovery = str(lake.parent / f"{lake.name}-recovery")
    return {**env, **SMALL_CITY, "CITY_LAKE": str(lake), "CITY_RECOVERY_DIR": recovery, **overrides}


def run_flow(env: dict[str, str], *bytewax_args: str, timeout: float = 300) -> None:
    """Run `bytewax.run "dataflows.flow.city:build_flow()"` to completion; fail on error."""
    result = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()", *bytewax_args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def start_flow(env: dict[str, str], *bytewax_args: str) -> subprocess.Popen:
    """Start `python -m bytewax.run "dataflows.flow.city:build_flow()"` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()", *bytewax_args],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )


def kafka_env(kafka, tmp_path: Path, topic: str, **overrides: str) -> dict[str, str]:
    """The environment of a Kafka flow over `topic` of the broker `kafka`, into tmp_path/lake."""
    env = {
        "CITY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "CITY_KAFKA_READINGS_TOPIC": topic,
        "CITY_KAFKA_ALERTS_TOPIC": f"{topic}.alerts",
        "CITY_SOURCE": "kafka",
        "CITY_KAFKA_STOP_AT_END": "true",
    }
    return city_env(tmp_path / "lake", **{**env, **overrides})


def wait_for(condition, flow: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until `condition()` holds, failing if the flow dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert flow.poll() is None, flow.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def run_json(module: str, env: dict[str, str] | None, *args: str) -> dict:
    """Run `python -m <module> *args --json`; check it succeeded and showed its progress.

    Progress lines start with `[<last part of the module name>]` on stderr.
    """
    result = subprocess.run(
        [sys.executable, "-m", module, *args, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"[{module.rsplit('.', 1)[-1]}]" in result.stderr  # progress is shown
    return json.loads(result.stdout)


@dataclass(frozen=True)
class FlowRun:
    lake: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def city_lake(tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """A lake filled by one real run of the city flow (60 sensors, 12 simulated hours)."""
    lake = tmp_path_factory.mktemp("city") / "lake"
    env = city_env(lake)
    run_flow(env)
    return FlowRun(lake, env)


FLEET = {
    "CITY_SIM_SENSORS": "12",
    "CITY_SIM_ASSETS": "15",
    "CITY_SIM_ASSET_HISTORY_DAYS": "45",
    "CITY_SIM_HOURS": "24",
    "CITY_RETENTION_READINGS_DAYS": "0",  # keep the 45 days of asset history
}
"""A small city whose assets have been running for 45 days when its sensors start."""


@pytest.fixture(scope="session")
def fleet_lake(tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """A lake filled by one real run of the city flow with sensors and assets (`FLEET`)."""
    lake = tmp_path_factory.mktemp("fleet") / "lake"
    env = city_env(lake, **FLEET)
    run_flow(env)
    return FlowRun(lake, env)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory):
    """A real Apache Kafka broker for the whole session (started with the recipe's code)."""
    from dataflows.kafka import broker as kafka_broker

    broker = kafka_broker.Broker(tmp_path_factory.mktemp("kafka"), kafka_broker.free_port_pair())
    kafka_broker.start(broker)
    yield broker
    kafka_broker.stop(broker)


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the whole session (started with the recipe's code).

    Its home is outside pytest's folder, which only root may enter: PostgreSQL runs as
    the `postgres` user when the tests run as root.
    """
    import shutil
    import tempfile

    from dataflows.servers import postgres as pg

    server = pg.PostgresServer(Path(tempfile.mkdtemp(prefix="city-test-postgres-")), free_port())
    pg.start(server)
    yield server
    pg.stop(server)
    shutil.rmtree(server.home, ignore_errors=True)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory):
    """A real S3-compatible server (S3Proxy) for the whole session."""
    from dataflows.servers import s3 as s3_server

    server = s3_server.S3Server(tmp_path_factory.mktemp("s3"), free_port())
    s3_server.start(server)
    yield server
    s3_server.stop(server)


def server_lake_env(postgres, s3, lake: Path, name: str, **overrides: str) -> dict[str, str]:
    """`city_env` for a lake whose catalog is on `postgres` and files on `s3`.

    Each `name` is a lake of its own: a database of its name, files under `name/`.
    """
    from dataflows.servers import postgres as pg
    from dataflows.servers.lake_settings import lake_settings

    pg.create_database(postgres, name)
    servers = lake_settings(postgres, s3, name)
    return city_env(lake, **{**servers, **overrides})
