"""Snapshots of an epoch a killed run never finished: drop them before Bytewax resumes.

Bytewax 0.21 resumes a flow at the *resume epoch*: the oldest epoch that some worker of
the latest run had not finished. It loads each key's newest snapshot taken before that
epoch, and the new run numbers its epochs from there. A run killed in the middle of an
epoch may already have written snapshots of that epoch (and the next) for some keys. The
new run rewrites the snapshots of the keys it touches in those epochs, not of the others,
so a later resume loads such a key's leftover state: state that had seen records the
sources will replay. The flow then takes them for duplicates and their results are lost
(seen as "duplicate" dead letters and missing readings after a run was killed twice).

`drop_stale_snapshots` deletes, before the flow starts, every snapshot of an epoch at or
after the resume epoch: Bytewax would not load them on this resume, and they must not
outlive it. It needs the whole store in one folder (every partition of
`python -m bytewax.recovery`), because the resume epoch depends on every worker's
progress. A store split between hosts, each holding only its own partitions, is left
untouched with a warning (docs/scaling.md); gathered in one folder, its files can be
repaired with `just repair-recovery <folder>` (`dataflows.cli.repair_recovery`).

The tables read and written are those of Bytewax 0.21's recovery partitions (SQLite):
`exs` (one row per run: workers, resume epoch), `fronts` (per run and worker, the first
epoch it had not finished) and `snaps` (per step, key and epoch). Another layout is left
untouched with a warning.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from dataflows.flow.run_options import bytewax_run_option

log = logging.getLogger(__name__)

_TABLES = {"parts", "exs", "fronts", "snaps"}


@dataclass(frozen=True)
class Repair:
    """What `drop_stale_snapshots` found and did."""

    resume_epoch: int | None
    """The epoch Bytewax resumes at; `None` on a store no run has used yet."""
    dropped: int
    """Snapshots deleted: of epochs at or after `resume_epoch`."""


class StoreNotWhole(Exception):
    """The folder lacks partitions of the store, or holds files of another layout."""


def drop_stale_snapshots(store: Path) -> Repair:
    """Delete the snapshots of epochs the latest run of `store` did not finish.

    >>> import subprocess, sys, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = subprocess.run([sys.executable, "-m", "bytewax.recovery", folder, "1"], check=True)
    >>> drop_stale_snapshots(folder)
    Repair(resume_epoch=None, dropped=0)
    """
    paths = _partitions(store)
    with _connections(paths) as connections:
        resume = resume_epoch(connections)
        if resume is None:
            return Repair(None, 0)
        dropped = 0
        for con in connections:
            with con:  # one transaction per partition
                dropped += con.execute(
                    "DELETE FROM snaps WHERE snap_epoch >= ?", (resume,)
                ).rowcount
    return Repair(resume, dropped)


def resume_epoch(connections: Sequence[sqlite3.Connection]) -> int | None:
    """The epoch Bytewax resumes at: the oldest one a worker of the latest run had not finished.

    A worker of that run with no progress recorded had finished nothing: the run's own
    resume epoch. `None` when no run has started.
    """
    runs: dict[int, tuple[int, int]] = {}
    fronts: dict[tuple[int, int], int] = {}
    for con in connections:
        runs_query = "SELECT ex_num, worker_count, resume_epoch FROM exs"
        for ex, workers, resume in con.execute(runs_query):
            runs[ex] = (workers, resume)
        for ex, worker, front in con.execute(
            "SELECT ex_num, worker_index, worker_frontier FROM fronts"
        ):
            fronts[(ex, worker)] = front
    if not runs:
        return None
    latest = max(runs)
    workers, resumed_at = runs[latest]
    return min(fronts.get((latest, worker), resumed_at) for worker in range(workers))


def _partitions(store: Path) -> list[Path]:
    paths = sorted(store.glob("part-*.sqlite3"))
    if not paths:
        raise StoreNotWhole(f"no recovery partitions in {store}")
    with _connections(paths) as connections:
        indexes: set[int] = set()
        counts: set[int] = set()
        for path, con in zip(paths, connections, strict=True):
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
            if not tables >= _TABLES:
                raise StoreNotWhole(f"{path} is not a Bytewax 0.21 recovery partition")
            for index, count in con.execute("SELECT part_index, part_count FROM parts"):
                indexes.add(index)
                counts.add(count)
    if len(counts) != 1 or indexes != set(range(counts.pop())):
        raise StoreNotWhole(f"{store} holds partitions {sorted(indexes)} of a larger store")
    return paths


@contextmanager
def _connections(paths: Sequence[Path]) -> Iterator[list[sqlite3.Connection]]:
    """SQLite connections to `paths`, closed together."""
    with ExitStack() as stack:
        yield [stack.enter_context(closing(sqlite3.connect(p, timeout=30))) for p in paths]


def recovery_directory_of_this_run(argv: Sequence[str] | None = None) -> Path | None:
    """The `-r` folder of this process when it is `python -m bytewax.run`, else `None`.

    >>> import importlib.util
    >>> run = importlib.util.find_spec("bytewax.run").origin
    >>> recovery_directory_of_this_run([run, "flow:build()", "-r", "/tmp/store", "-s", "1"])
    PosixPath('/tmp/store')
    >>> recovery_directory_of_this_run(["pytest", "-r", "a"]) is None
    True
    """
    found = bytewax_run_option("-r", "--recovery-directory", "BYTEWAX_RECOVERY_DIRECTORY", argv)
    return Path(found) if found else None


def repair_before_resuming(store: Path | None) -> None:
    """Drop the stale snapshots of `store` (if any), logging what was done or why not."""
    if store is None or not store.exists():
        return
    try:
        repair = drop_stale_snapshots(store)
    except StoreNotWhole as why:
        log.warning(
            "recovery store left as it is (%s): snapshots a killed run left behind cannot be"
            " told apart here; see docs/scaling.md",
            why,
        )
        return
    if repair.dropped:
        log.warning(
            "recovery: dropped %d snapshots of epochs %d and later, left by a run killed"
            " before it finished them",
            repair.dropped,
            repair.resume_epoch,
        )
