"""The lake on servers: a PostgreSQL catalog and Parquet files in S3 object storage.

Real servers, started by the recipes' code (`just postgres`, `just s3`): Debian's
PostgreSQL and S3Proxy from Maven Central.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dataflows import lake
from dataflows.lake.address import LakeAddress
from dataflows.settings import Settings
from tests.conftest import ROOT, run_flow, run_json, server_lake_env, start_flow
from tests.dataflows.test_replay import write_recordings


def address(env: dict[str, str]) -> LakeAddress:
    return LakeAddress.from_settings(Settings.from_env(env))


def parquet_files(s3, name: str) -> list:
    return sorted((s3.store / "city-lake" / name).rglob("*.parquet"))


@pytest.fixture(scope="module")
def server_flow(postgres, s3, tmp_path_factory):
    """The small test city's flow run into a lake on the servers, at DEBUG: (env, stderr)."""
    local = tmp_path_factory.mktemp("server-flow") / "local"
    env = server_lake_env(postgres, s3, local, "flow_lake", CITY_LOG_LEVEL="DEBUG")
    flow = start_flow(env)
    _, stderr = flow.communicate(timeout=300)
    assert flow.returncode == 0, stderr[-3000:]
    return env, stderr


def test_the_flow_writes_its_catalog_to_postgres_and_its_files_to_s3(server_flow, postgres, s3):
    env, stderr = server_flow
    con = lake.connect(address(env), read_only=True)
    counted = con.sql("SELECT count(*), count(DISTINCT sensor_id) FROM readings").fetchone()
    con.close()
    assert counted[0] > 10_000 and counted[1] == 60
    assert parquet_files(s3, "flow_lake")  # the files are in the object store
    local = Path(env["CITY_LAKE"])
    assert not (local / "catalog.sqlite").exists() and not (local / "files").exists()
    # passwords and keys never reach a log line, even at DEBUG
    for secret in (postgres.password_file.read_text().strip(), s3.secret_file.read_text().strip()):
        assert secret not in stderr


def test_sql_and_compaction_use_the_server_lake(server_flow):
    env, _ = server_flow
    con = lake.connect(address(env), read_only=True)
    readings = con.sql("SELECT count(*) FROM readings").fetchone()[0]
    con.close()
    result = subprocess.run(
        [sys.executable, "-m", "dataflows.cli.sql", "--csv", "SELECT count(*) AS n FROM readings"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", str(readings)]
    summary = lake.maintain({**env, "CITY_RETENTION_READINGS_DAYS": "0"})
    assert set(summary) == {"deleted", "expired_snapshots", "deleted_files"}
    con = lake.connect(address(env), read_only=True)
    assert con.sql("SELECT count(*) FROM readings").fetchone()[0] == readings  # nothing lost
    con.close()


def test_the_dashboard_reads_the_server_lake(server_flow, monkeypatch):
    env, _ = server_flow
    for key, value in env.items():
        if key.startswith("CITY_"):
            monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "overview.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Sensors reporting"].endswith("/ 60"), shown


def test_a_flow_and_a_replay_write_one_server_lake_at_once_without_a_lock(postgres, s3, tmp_path):
    recordings = tmp_path / "recordings"
    write_recordings(recordings)
    # the recordings are from 2024: retention (from the newest reading) would delete them
    env = server_lake_env(
        postgres, s3, tmp_path / "flow-host", "shared_lake", CITY_RETENTION_READINGS_DAYS="0"
    )
    baseline = tmp_path / "baseline"
    run_flow(
        {
            **env,
            **{k: "" for k in env if k.startswith(("CITY_LAKE_", "CITY_S3_"))},
            "CITY_LAKE": str(baseline),
        }
    )
    flow = start_flow(env)
    # the replay runs on "another host": a working folder of its own, the same servers
    replay_env = {**env, "CITY_LAKE": str(tmp_path / "replay-host")}
    summary = run_json("dataflows.cli.replay", replay_env, str(recordings), "--labels", "anomaly")
    _, stderr = flow.communicate(timeout=300)
    assert flow.returncode == 0, stderr[-3000:]
    assert summary["readings"] == 600 * 2 + 400
    con = lake.connect(address(env), read_only=True)
    per_source = dict(
        con.sql(
            "SELECT sensor_id IN ('pumps/a', 'tank'), count(*) FROM readings GROUP BY 1"
        ).fetchall()
    )
    distinct = con.sql("SELECT count(DISTINCT (sensor_id, ts, metric)) FROM readings").fetchone()[0]
    con.close()
    expected = lake.connect(baseline, read_only=True)
    simulated = expected.sql("SELECT count(*) FROM readings").fetchone()[0]
    expected.close()
    assert per_source == {False: simulated, True: 600 * 2 + 400}  # nothing lost
    assert distinct == simulated + 600 * 2 + 400  # nothing twice
    for host in ("flow-host", "replay-host"):
        assert not (tmp_path / host / ".writer.lock").exists()  # no file lock was taken


def test_an_unreachable_catalog_is_one_line_without_the_password(postgres, s3, tmp_path):
    env = server_lake_env(
        postgres, s3, tmp_path / "local", "refused_lake", CITY_LAKE_CATALOG_PASSWORD_FILE=""
    )
    env["CITY_LAKE_CATALOG_PASSWORD"] = "not-the-password-42"
    with pytest.raises(lake.LakeUnreachable) as raised:
        lake.connect(address(env))
    message = str(raised.value)
    assert "\n" not in message and "not-the-password-42" not in message
    assert postgres.database_url("refused_lake") in message


def test_writers_starting_together_on_a_new_catalog_all_attach(postgres, s3, tmp_path):
    """Two workers' sink partitions open a new server lake at the same moment."""
    import threading

    for attempt in range(3):
        env = server_lake_env(postgres, s3, tmp_path / "local", f"together_{attempt}")
        start = threading.Barrier(4)
        failures: list[BaseException] = []
        threads = [
            threading.Thread(target=open_together, args=(address(env), start, failures))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert lake.count_rows(address(env)) == 0  # one lake, all its tables made


def open_together(where: LakeAddress, start, failures: list[BaseException]) -> None:
    start.wait()
    try:
        lake.connect(where).close()
    except BaseException as error:  # noqa: BLE001 - reported by the test
        failures.append(error)
