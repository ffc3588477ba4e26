"""The simulator's ground truth: two simulated weeks of the city, alerts scored per kind.

Two simulated weeks of the city (by default) with the simulator's ground truth, scored per
anomaly kind by `dataflows.evaluation.simulator_scoring`: the second week, once the
detectors have seen every kind of day, and apart (`cold_start`) days 3 to 7 of the first.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import lake
from dataflows.evaluation import simulator_scoring
from dataflows.evaluation.harness import scratch_settings
from dataflows.evaluation.report import write_report
from dataflows.flow.city import build_flow
from dataflows.lake.progress import LakeProgress
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan

LEARNING_HOURS = 168.0
"""The simulator's probation: a week, so that weekday and weekend slots are both learnt."""


def evaluate_simulator(
    sensors: int = 200,
    hours: float = 336.0,
    seed: int = 42,
    progress: bool = True,
    plan: DetectorPlan = DEFAULT_PLAN,
) -> dict[str, Any]:
    """Run the simulator for `hours` into a temporary lake and score alerts per kind.

    The figures are scored after a probation of half the run (at most a week, by when every
    half-hour of a weekday and of a weekend day has been learnt); `cold_start` holds the
    same figures for that probation itself, after a shorter one (a third of it, at most 48 h).
    """
    env = {
        "CITY_SIM_SENSORS": str(sensors),
        "CITY_SIM_ASSETS": "0",  # anomaly detection only: assets have `just evaluate assets`
        "CITY_SIM_HOURS": str(hours),
        "CITY_SIM_SEED": str(seed),
        "CITY_SIM_SPEEDUP": "0",
        "CITY_SIM_START": "2026-01-05T00:00:00Z",
    }
    learnt = min(LEARNING_HOURS, hours / 2)
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        settings = scratch_settings(folder, env)
        if progress:
            print(f"[evaluate] simulating {sensors} sensors for {hours:g} h", file=sys.stderr)
            start_ms = datetime.fromisoformat(env["CITY_SIM_START"]).timestamp() * 1000
            end_ms = start_ms + hours * 3_600_000
            with LakeProgress(folder, start_ms, end_ms, "[evaluate] simulated"):
                run_main(build_flow(settings, plan=plan))
        else:
            run_main(build_flow(settings, plan=plan))
        if progress:
            print("[evaluate] scoring alerts against the simulator's labels", file=sys.stderr)
        con = lake.connect(folder, read_only=True)
        try:
            figures = simulator_scoring.score(con, probation_hours=learnt)
            cold_start = simulator_scoring.score(
                con, probation_hours=min(48.0, learnt / 3), until_hours=learnt
            )
        finally:
            con.close()
    return {"probation_hours": learnt, **figures, "cold_start": cold_start}


def simulator_report(figures: dict, folder: Path) -> Path:
    """The HTML report of `figures`: per kind, recall, precision, F1 and delays."""
    kinds, cold = figures["kinds"], figures["cold_start"]["kinds"]
    table = [
        (
            "kind",
            "labels",
            "recall",
            "precision",
            "F1",
            "median delay s",
            "p90 delay s",
            "F1 cold start",
        )
    ]
    for kind, k in kinds.items():
        table.append(
            (
                kind,
                str(k["labels"]),
                str(k["recall"]),
                str(k["precision"]),
                str(k["f1"]),
                str(k["median_delay_s"]),
                str(k["p90_delay_s"]),
                str(cold.get(kind, {}).get("f1")),
            )
        )
    chart = go.Figure(
        [
            *(
                go.Bar(name=name, x=list(kinds), y=[k[name] for k in kinds.values()])
                for name in ("recall", "precision", "f1")
            ),
            go.Bar(
                name="f1, cold start",
                x=list(kinds),
                y=[cold.get(kind, {}).get("f1") for kind in kinds],
            ),
        ],
        layout={"title": "Simulator: alerts vs. ground truth per kind", "barmode": "group"},
    )
    delays = go.Figure(
        go.Bar(x=list(kinds), y=[k["median_delay_s"] or 0 for k in kinds.values()]),
        layout={"title": "Median detection delay (s)", "yaxis": {"type": "log"}},
    )
    note = (
        f"{figures['sensors']} sensors, {figures['scored_days']} scored days after "
        f"{figures['probation_hours']:g} h of probation; precision "
        f"{figures['precision']}, {figures['alerts_per_sensor_day']} alerts and "
        f"{figures['false_alerts_per_sensor_day']} false alerts per sensor-day; precision "
        f"at a budget of {figures['budget']} alerts {figures['precision_at_budget']}. "
        f"Cold start ({figures['cold_start']['scored_days']} days before that): precision "
        f"{figures['cold_start']['precision']}, "
        f"{figures['cold_start']['false_alerts_per_sensor_day']} false alerts per sensor-day"
    )
    return write_report(folder, "simulator", "Simulator ground truth", table, [chart, delays], note)
