"""Snapshots of an epoch a killed run never finished are dropped before the flow resumes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig
from bytewax.testing import TestingSink, TestingSource, run_main

from dataflows.flow.stale_snapshots import (
    Repair,
    StoreNotWhole,
    drop_stale_snapshots,
    recovery_directory_of_this_run,
    resume_epoch,
)
from tests.conftest import ROOT


def new_store(folder: Path, partitions: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(folder), str(partitions)], check=True
    )
    return folder


def rows(store: Path, sql: str) -> list[tuple]:
    found: list[tuple] = []
    for path in sorted(store.glob("part-*.sqlite3")):
        con = sqlite3.connect(path)
        found += con.execute(sql).fetchall()
        con.close()
    return sorted(found)


def write(store: Path, part: int, *statements: tuple[str, tuple]) -> None:
    con = sqlite3.connect(store / f"part-{part}.sqlite3")
    with con:
        for sql, values in statements:
            con.execute(sql, values)
    con.close()


def run(ex: int, workers: int, resume: int) -> tuple[str, tuple]:
    return "INSERT INTO exs (ex_num, worker_count, resume_epoch) VALUES (?, ?, ?)", (
        ex,
        workers,
        resume,
    )


def front(ex: int, worker: int, epoch: int) -> tuple[str, tuple]:
    sql = "INSERT INTO fronts (ex_num, worker_index, worker_frontier) VALUES (?, ?, ?)"
    return sql, (ex, worker, epoch)


def snap(key: str, epoch: int) -> tuple[str, tuple]:
    sql = "INSERT INTO snaps (step_id, state_key, snap_epoch, ser_change) VALUES (?, ?, ?, ?)"
    return sql, ("city.sensors", key, epoch, b"state")


def test_a_killed_runs_unfinished_epochs_are_dropped_and_finished_ones_kept(tmp_path):
    # run 0 (1 worker) finished epochs 1-5 and was killed in epoch 6, after writing the
    # epoch-6 snapshot of "b" and even an epoch-7 one of "c"
    store = new_store(tmp_path / "store")
    write(store, 0, run(0, 1, 1), front(0, 0, 6), snap("a", 5), snap("b", 5), snap("b", 6))
    write(store, 1, snap("c", 4), snap("c", 7))
    assert drop_stale_snapshots(store) == Repair(resume_epoch=6, dropped=2)
    assert rows(store, "SELECT state_key, snap_epoch FROM snaps") == [("a", 5), ("b", 5), ("c", 4)]
    assert drop_stale_snapshots(store) == Repair(resume_epoch=6, dropped=0)  # idempotent


def test_a_store_gathered_in_one_folder_is_repaired_from_the_command_line(tmp_path):
    store = new_store(tmp_path / "store")
    write(store, 1, run(0, 1, 1), front(0, 0, 3), snap("a", 2), snap("a", 3))
    command = ["just", "repair-recovery", str(store)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout == "resume epoch 3: dropped 1 stale snapshots\n"
    (store / "part-0.sqlite3").unlink()
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1 and "not repaired" in refused.stderr


def test_the_resume_epoch_is_the_latest_runs_slowest_worker(tmp_path):
    store = new_store(tmp_path / "store")
    # run 1 had two workers, in two partitions; the slower had finished epochs up to 8
    write(store, 0, run(0, 1, 1), front(0, 0, 4), front(1, 1, 9))
    write(store, 1, run(1, 2, 4), front(1, 0, 10))
    assert drop_stale_snapshots(store).resume_epoch == 9
    # a worker of the latest run that recorded no progress finished nothing
    write(store, 1, run(2, 3, 9), front(2, 0, 12), front(2, 2, 11))
    assert drop_stale_snapshots(store).resume_epoch == 9


def test_a_fresh_store_is_left_alone(tmp_path):
    store = new_store(tmp_path / "store")
    assert drop_stale_snapshots(store) == Repair(resume_epoch=None, dropped=0)


def test_part_of_a_split_store_is_refused(tmp_path):
    store = new_store(tmp_path / "store", partitions=3)
    (store / "part-1.sqlite3").rename(tmp_path / "elsewhere.sqlite3")  # on another host
    with pytest.raises(StoreNotWhole, match=r"partitions \[0, 2\] of a larger store"):
        drop_stale_snapshots(store)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "part-0.sqlite3").write_bytes(b"")
    with pytest.raises(StoreNotWhole, match="not a Bytewax 0.21 recovery partition"):
        drop_stale_snapshots(tmp_path / "other")


def counting_flow(store: Path, items: int) -> None:
    flow = Dataflow("count")
    keyed = op.key_on("key", op.input("in", flow, TestingSource(range(items))), str)
    sums = op.stateful_map("sum", keyed, lambda total, x: ((total or 0) + x,) * 2)
    op.output("out", sums, TestingSink([]))
    run_main(flow, epoch_interval=None, recovery_config=RecoveryConfig(store))


def test_the_predicted_resume_epoch_is_the_one_bytewax_resumes_at(tmp_path):
    """Against Bytewax itself: the epoch predicted before a run is the one it records."""
    store = new_store(tmp_path / "store")
    script = (
        "import sys; from pathlib import Path; from tests.dataflows.test_stale_snapshots "
        "import counting_flow; counting_flow(Path(sys.argv[1]), int(sys.argv[2]))"
    )
    for items in (5, 9, 3):
        connections = [sqlite3.connect(p) for p in sorted(store.glob("part-*.sqlite3"))]
        predicted = resume_epoch(connections)
        for con in connections:
            con.close()
        subprocess.run([sys.executable, "-c", script, str(store), str(items)], cwd=ROOT, check=True)
        runs = rows(store, "SELECT ex_num, resume_epoch FROM exs")
        if predicted is not None:
            assert runs[-1][1] == predicted
    assert len(runs) == 3


def test_the_recovery_folder_is_read_from_bytewax_runs_command_line(monkeypatch):
    import importlib.util

    run_py = importlib.util.find_spec("bytewax.run").origin
    monkeypatch.delenv("BYTEWAX_RECOVERY_DIRECTORY", raising=False)
    assert recovery_directory_of_this_run([run_py, "f:g()", "-w", "2"]) is None
    assert recovery_directory_of_this_run([run_py, "f:g()", "--recovery-directory=/s"]) == Path(
        "/s"
    )
    monkeypatch.setenv("BYTEWAX_RECOVERY_DIRECTORY", "/from-env")
    assert recovery_directory_of_this_run([run_py, "f:g()"]) == Path("/from-env")
    assert recovery_directory_of_this_run(["pytest", "-r", "a"]) is None
