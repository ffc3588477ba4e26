"""How the flow scales on this machine: 1 worker, 2 workers in one process, 2 processes.

`just bench --scaling` runs the simulator flow and the Kafka flow (from a topic of
`CITY_KAFKA_PARTITIONS` partitions, read to its end) three times each, with Bytewax's own
workers (`-w 2`) and processes (`-i`/`-a`), recovery off, each run into a fresh lake with
two sink partitions: the SQLite lake and, given servers, a lake on PostgreSQL and S3Proxy.
The same readings are stored every time (checked). Prints readings/s of every shape, its
ratio to one worker and the cores its processes kept busy, side by side, from one run: the
figures of different machines and sessions are not comparable, the ratios are. With
`rounds` above 1 every shape runs that often, the shapes in turn, and each figure is the
median of its runs.

Beside them, two figures that say what two processes could reach on this machine: "2
flows apart" runs two one-worker flows at once, each reading the whole stream into a lake
of its own (nothing exchanged, the work split exactly in two: the machine's ceiling for
two processes), and "busier" is the share of the sensor step's readings that the busier of
the two processes handled (Bytewax places each sensor on a process by a hash of its id).
Last, `placement` says how unevenly that hash splits the simulator's sensor ids between two
workers at other sizes of city (each id counted once), so that the split at the measured
size can be told from luck.
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence

from dataflows import lake
from dataflows.bench.memory import progress
from dataflows.lake.address import LakeAddress
from dataflows.servers import postgres as pg
from dataflows.servers.lake_settings import lake_settings
from dataflows.servers.s3 import S3Server
from dataflows.settings import PROJECT_ROOT, Settings

LAKES = ("sqlite", "server")
LAKE_NAMES = {"sqlite": "SQLite lake", "server": "PostgreSQL + S3 lake"}

FLOW = "dataflows.flow.city:build_flow()"
SHAPES = ("1 worker", "2 workers", "2 processes", "2 flows apart")
PLACEMENT_SIZES = (100, 200, 400, 1_000, 2_000, 4_000, 10_000)
"""City sizes (sensors) at which `placement` splits the simulator's ids between two workers."""
TARGET_TWO_PROCESSES = 1.6
"""Issue target: two processes at least 1.6 times one process on the Kafka flow (2 cores)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _commands(shape: str) -> list[list[str]]:
    run = [sys.executable, "-m", "bytewax.run", FLOW]
    if shape == "1 worker":
        return [[*run, "-w", "1"]]
    if shape == "2 flows apart":
        return [[*run, "-w", "1"], [*run, "-w", "1"]]
    if shape == "2 workers":
        return [[*run, "-w", "2"]]
    addresses = f"127.0.0.1:{_free_port()};127.0.0.1:{_free_port()}"
    return [[*run, "-i", str(i), "-a", addresses] for i in range(2)]


def run_shape(
    env: dict[str, str], shape: str, servers: tuple[pg.PostgresServer, S3Server] | None = None
) -> dict[str, float]:
    """One run of the flow of `env` in `shape`, into a fresh lake: readings and seconds.

    The lake is a local folder's, or with `servers` a new database and prefix on them;
    "2 flows apart" gives each of its flows a lake of its own. `busier` (2 processes) is the
    busier process's share of the sensor step's readings.
    """
    commands = _commands(shape)
    apart = shape == "2 flows apart"
    with tempfile.TemporaryDirectory(prefix="city-bench-scaling-") as folder:
        run_envs = []
        for flow in range(len(commands) if apart else 1):
            run_env = {**env, "CITY_LAKE": os.path.join(folder, f"lake-{flow}")}
            if servers is not None:
                name = f"bench_{uuid.uuid4().hex[:12]}"
                pg.create_database(servers[0], name)
                run_env.update(lake_settings(*servers, name))
            run_envs.append(run_env)
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                command,
                env=run_envs[i if apart else 0],
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i, command in enumerate(commands)
        ]
        errors = [p.communicate(timeout=1800)[1] for p in processes]
        seconds = time.perf_counter() - started
        cpu_s = _children_cpu_s() - cpu_before
        for process, error in zip(processes, errors, strict=True):
            if process.returncode != 0:
                raise RuntimeError(f"{shape} failed ({process.returncode}): {error[-2000:]}")
        lakes = [LakeAddress.from_settings(Settings.from_env(e)) for e in run_envs]
        stored = [lake.count_rows(address) for address in lakes]
        busier = _busier_share(lakes[0]) if shape == "2 processes" else None
    figures = {
        "readings": stored[0],  # each flow apart stores them all (checked)
        "seconds": seconds,
        "readings_per_s": sum(stored) / seconds,
        "cores": cpu_s / seconds,
    }
    if len(set(stored)) != 1:
        raise RuntimeError(f"the flows apart stored different readings: {stored}")
    if busier is not None:
        figures["busier"] = busier
    return figures


def _busier_share(address: LakeAddress) -> float | None:
    """The busier process's share of the sensor step's readings, from the run's tallies.

    None if a process wrote no tallies (it held no sink partition).
    """
    con = lake.connect(address, read_only=True)
    try:
        per_process = [
            items
            for (items,) in con.sql(
                "SELECT sum(value) FROM flow_metrics WHERE metric = 'items' "
                "AND starts_with(scope, 'step:sensors@') GROUP BY scope"
            ).fetchall()
        ]
    finally:
        con.close()
    if len(per_process) != 2 or not sum(per_process):
        return None
    return max(per_process) / sum(per_process)


def _children_cpu_s() -> float:
    """CPU seconds (user and system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def placement(sizes: Sequence[int], seed: int) -> dict[int, float]:
    """The share of the simulator's sensor ids that Bytewax puts on the busier of two workers.

    For each city size, its ids go through a keyed step of a two-worker flow, as the sensor
    step's readings do (Bytewax 0.21 routes a key by a hash of it; two workers of one process
    or one worker in each of two processes are the same two workers to it).

    >>> shares = placement([40], seed=7)
    >>> 0.5 <= shares[40] <= 1.0
    True
    """
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, cluster_main

    from dataflows.simulator.city import City

    shares = {}
    for size in sizes:
        ids = [sensor.sensor_id for sensor in City(seed, size).sensors]
        flow = Dataflow("placement")
        keyed = op.input("ids", flow, TestingSource([(sensor_id, None) for sensor_id in ids]))
        placed = op.stateful_map("place", keyed, lambda state, _: (state, threading.get_ident()))
        workers: list[tuple[str, int]] = []
        op.output("workers", placed, TestingSink(workers))
        cluster_main(flow, [], 0, worker_count_per_proc=2)
        per_worker = Counter(worker for _, worker in workers)
        shares[size] = max(per_worker.values()) / len(ids)
    return shares


def scaling(
    sensors: int,
    hours: float,
    bootstrap: str | None,
    servers: tuple[pg.PostgresServer, S3Server] | None = None,
    rounds: int = 1,
) -> dict:
    """Every shape of the simulator flow and (with a broker at `bootstrap`) the Kafka flow.

    Each into the SQLite lake and, with `servers` (PostgreSQL, S3Proxy), a lake on them;
    `rounds` times in turn, the medians.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
    env = {
        **base,
        "CITY_SIM_SENSORS": str(sensors),
        "CITY_SIM_HOURS": f"{hours:g}",
        "CITY_SIM_SPEEDUP": "0",
        "CITY_SIM_ASSETS": "0",
        "CITY_SIM_START": "2026-01-05T00:00:00Z",
        "CITY_COMPACT_EVERY_S": "0",
        "CITY_METRICS_PORT": "0",
        "CITY_SINK_PARTITIONS": "2",
    }
    sources = [("simulator", {**env, "CITY_SOURCE": "simulator"})]
    if bootstrap is not None:
        topic = f"bench-scaling.{uuid.uuid4().hex[:8]}"
        kafka_env = {
            **env,
            "CITY_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CITY_KAFKA_READINGS_TOPIC": topic,
            "CITY_KAFKA_ALERTS_TOPIC": f"{topic}.alerts",
            "CITY_KAFKA_STOP_AT_END": "true",
        }
        progress(f"scaling: producing the simulated stream to {topic} ...")
        subprocess.run(
            [sys.executable, "-m", "dataflows.cli.produce", "--json"],
            env={**kafka_env, "CITY_SOURCE": "simulator", "CITY_LAKE": tempfile.mkdtemp()},
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        sources.append(("kafka", {**kafka_env, "CITY_SOURCE": "kafka"}))
    lakes = [("sqlite", None)] + ([("server", servers)] if servers is not None else [])
    figures: dict = {"scaling_sensors": sensors, "scaling_hours": hours}
    for source, source_env in sources:
        for lake_kind, lake_servers in lakes:
            all_runs: dict[str, list[dict[str, float]]] = {shape: [] for shape in SHAPES}
            for round_number in range(rounds):
                for shape in SHAPES:
                    which = f" (round {round_number + 1} of {rounds})" if rounds > 1 else ""
                    progress(
                        f"scaling: the {source} flow, {LAKE_NAMES[lake_kind]}, {shape}{which} ..."
                    )
                    run = run_shape(source_env, shape, lake_servers)
                    all_runs[shape].append(run)
                    progress(
                        f"  {run['readings']:,} readings in {run['seconds']:.1f} s,"
                        f" {run['cores']:.2f} cores busy on average"
                        + (f", busier process {run['busier']:.0%}" if "busier" in run else "")
                    )
            stored = {run["readings"] for shape_runs in all_runs.values() for run in shape_runs}
            if len(stored) != 1:
                raise RuntimeError(f"the {source} flow stored different readings: {all_runs}")
            runs = {shape: _medians(shape_runs) for shape, shape_runs in all_runs.items()}
            one = runs["1 worker"]["readings_per_s"]
            for shape, run in runs.items():
                key = _key(source, lake_kind, shape)
                figures[f"{key}_readings_per_s"] = round(run["readings_per_s"])
                figures[f"{key}_ratio"] = round(run["readings_per_s"] / one, 3)
                figures[f"{key}_cores"] = round(run["cores"], 2)
                if "busier" in run:
                    figures[f"{key}_busier_share"] = round(run["busier"], 3)
    sizes = sorted({*PLACEMENT_SIZES, sensors})
    progress(f"scaling: how Bytewax splits the ids of {', '.join(map(str, sizes))} sensors ...")
    for size, share in placement(sizes, Settings().sim_seed).items():
        figures[f"scaling_placement_{size}_sensors_busier_share"] = round(share, 3)
    return figures


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs that have it.

    >>> _medians([{"seconds": 3.0, "busier": 0.6}, {"seconds": 1.0}, {"seconds": 1.5}])
    {'seconds': 1.5, 'busier': 0.6}
    """
    names = dict.fromkeys(name for run in runs for name in run)
    return {name: statistics.median(run[name] for run in runs if name in run) for name in names}


def _key(source: str, lake_kind: str, shape: str) -> str:
    """`scaling_kafka_2_processes` (SQLite lake), `scaling_kafka_server_lake_2_processes`."""
    where = "" if lake_kind == "sqlite" else f"{lake_kind}_lake_"
    return f"scaling_{source}_{where}{shape.replace(' ', '_')}"


def print_table(figures: dict) -> None:
    """The readings/s, ratios and busy cores of every source, lake and shape, side by side."""
    print(f"{'scaling (readings/s, ratio, cores)':46}" + "".join(f"{s:>26}" for s in SHAPES))
    for source in ("simulator", "kafka"):
        for lake_kind in LAKES:
            if f"{_key(source, lake_kind, SHAPES[0])}_readings_per_s" not in figures:
                continue
            cells = []
            for shape in SHAPES:
                name = _key(source, lake_kind, shape)
                rate, ratio = figures[f"{name}_readings_per_s"], figures[f"{name}_ratio"]
                cells.append(f"{rate:>10,} {ratio:>5.2f}x {figures[f'{name}_cores']:>4.2f} cores")
            label = f"{source} flow, {LAKE_NAMES[lake_kind]}"
            print(f"{label:46}" + "".join(f"{c:>26}" for c in cells))
    placed = {
        int(name.split("_")[2]): share
        for name, share in figures.items()
        if name.startswith("scaling_placement_")
    }
    if placed:
        shares = ", ".join(f"{size:,}: {share:.1%}" for size, share in sorted(placed.items()))
        print(f"sensor ids on the busier of two workers (sensors: share): {shares}")
    for lake_kind in LAKES:
        two = _key("kafka", lake_kind, "2 processes")
        if f"{two}_ratio" in figures:
            ratio = figures[f"{two}_ratio"]
            verdict = "meets target" if ratio >= TARGET_TWO_PROCESSES else "BELOW target"
            ceiling = figures[f"{_key('kafka', lake_kind, '2 flows apart')}_ratio"]
            busier = figures.get(f"{two}_busier_share")
            split = f", the busier process {busier:.0%} of the sensor step" if busier else ""
            print(
                f"kafka flow, {LAKE_NAMES[lake_kind]}, 2 processes / 1: {ratio:.2f}x"
                f" vs target {TARGET_TWO_PROCESSES}: {verdict}"
                f" (this machine's ceiling, 2 flows apart: {ceiling:.2f}x{split})"
            )
