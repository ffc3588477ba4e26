"""Memory figures for `just bench`: the flow's resident memory under its heaviest inputs.

Each run is a fresh process whose resident memory (RSS) is sampled every 0.2 s:

1. **At the metric cap**: a replay of `devices` recorded devices, each with
   `CITY_MAX_METRICS` (64) metrics, one reading a second. The state is bounded if memory
   stops growing once every device's models exist: the figure is the ratio of the peak RSS
   in the second half of the run to that in the first half (1.0 = flat; a state growing with
   every message would give about 2).
2. **Hostile** (with a broker, `hostile`): the simulator's stream through Kafka, once clean
   and once with a hostile message (`dataflows.messages.hostile`) after every 10 messages;
   the figures are each run's peak RSS, their ratio, and whether each run completed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from dataflows import lake
from dataflows.kafka.produce import produce
from dataflows.settings import PROJECT_ROOT, Settings


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def watch(command: list[str], env: dict[str, str], timeout_s: float = 1800) -> dict:
    """Run `command`; its exit code, seconds and RSS samples (seconds since start, MiB)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    samples: list[tuple[float, float]] = []
    errors: list[str] = []
    stderr = process.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: errors.append(stderr.read().decode()))
    reader.start()
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            rss = watched.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        samples.append((time.monotonic() - started, rss))
        if time.monotonic() - started > timeout_s:
            process.kill()
        time.sleep(0.2)
    process.wait()
    reader.join()
    return {
        "code": process.returncode,
        "seconds": time.monotonic() - started,
        "samples": samples,
        "stderr": errors[0][-2000:] if errors else "",
    }


def _peak(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """The peak RSS between `start` and `end`, as shares of the run's duration."""
    duration = samples[-1][0]
    return max(rss for t, rss in samples if start * duration <= t <= end * duration)


def _recordings(folder: Path, devices: int, rows: int, metrics: int) -> None:
    rng = np.random.default_rng(7)
    times = pa.array(
        np.datetime64("2026-01-05T00:00:00") + np.arange(rows).astype("timedelta64[s]")
    )
    for device in range(devices):
        columns = {"time": times}
        for m in range(metrics):
            walk = np.cumsum(rng.normal(0, 0.1, rows)) + 10 * m
            columns[f"m{m:02d}"] = pa.array(walk + rng.normal(0, 1, rows))
        pq.write_table(pa.table(columns), folder / f"device-{device:02d}.parquet")


def metric_cap(settings: Settings, devices: int = 10, rows: int = 3_000) -> dict:
    """Replay `devices` devices with `settings.max_metrics` metrics each; RSS over the run."""
    metrics = settings.max_metrics
    with tempfile.TemporaryDirectory(prefix="city-bench-memory-") as folder:
        recordings = Path(folder) / "recordings"
        recordings.mkdir()
        _recordings(recordings, devices, rows, metrics)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
        env["CITY_LAKE"] = str(Path(folder) / "lake")
        run = watch([sys.executable, "-m", "dataflows.cli.replay", str(recordings)], env)
        stored = lake.count_rows(Path(folder) / "lake") if run["code"] == 0 else 0
    if run["code"] != 0:
        raise RuntimeError(f"the replay failed: {run['stderr']}")
    first, second = _peak(run["samples"], 0, 0.5), _peak(run["samples"], 0.5, 1)
    return {
        "cap_devices": devices,
        "cap_metrics_per_message": metrics,
        "cap_messages": devices * rows,
        "cap_readings": stored,
        "cap_seconds": round(run["seconds"], 1),
        "cap_rss_peak_first_half_mb": round(first, 1),
        "cap_rss_peak_second_half_mb": round(second, 1),
        "cap_rss_second_to_first_half": round(second / first, 3),
    }


def hostile(settings: Settings, every: int = 10) -> dict:
    """Peak RSS of the Kafka flow on the simulated stream, clean and with hostile messages."""
    figures: dict = {}
    for name, hostile_every in (("clean", 0), ("hostile", every)):
        topic = f"bench-{name}.{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory(prefix="city-bench-hostile-") as folder:
            run_settings = replace(
                settings,
                kafka_readings_topic=topic,
                kafka_alerts_topic=f"{topic}.alerts",
                lake=Path(folder) / "lake",
            )
            progress(f"  {name}: producing the simulated stream to {topic} ...")
            sent = produce(
                replace(run_settings, source="simulator"),
                progress=False,
                hostile_every=hostile_every,
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_")}
            env.update(
                CITY_LAKE=str(run_settings.lake),
                CITY_SOURCE="kafka",
                CITY_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
                CITY_KAFKA_READINGS_TOPIC=topic,
                CITY_KAFKA_ALERTS_TOPIC=f"{topic}.alerts",
                CITY_KAFKA_STOP_AT_END="true",
                CITY_SIM_ASSETS="0",
                CITY_COMPACT_EVERY_S="0",
            )
            progress(f"  {name}: the Kafka flow on {sent['messages'] + sent['hostile']:,} messages")
            command = [sys.executable, "-m", "bytewax.run", "dataflows.flow.city:build_flow()"]
            run = watch(command, env)
            stored = lake.count_rows(run_settings.lake) if run["code"] == 0 else 0
        figures[f"{name}_messages"] = sent["messages"] + sent["hostile"]
        figures[f"{name}_hostile_messages"] = sent["hostile"]
        figures[f"{name}_completed"] = run["code"] == 0
        figures[f"{name}_readings_stored"] = stored
        figures[f"{name}_readings_sent"] = sent["readings"]
        figures[f"{name}_rss_peak_mb"] = round(_peak(run["samples"], 0, 1), 1)
        figures[f"{name}_seconds"] = round(run["seconds"], 1)
    figures["hostile_to_clean_rss_peak"] = round(
        figures["hostile_rss_peak_mb"] / figures["clean_rss_peak_mb"], 3
    )
    return figures
