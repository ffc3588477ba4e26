"""`just evaluate assets`: the simulated fleet through the city flow, scored.

The flow runs on the simulator's assets alone (no sensors) into a temporary lake, showing
the simulated day it has reached; `dataflows.evaluation.maintenance_scoring` then scores
warnings and RUL predictions against the simulator's true RUL, and `assets_report` draws
them.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import lake
from dataflows.evaluation.maintenance_scoring import score
from dataflows.evaluation.report import write_report
from dataflows.flow.city import build_flow
from dataflows.lake.progress import LakeProgress
from dataflows.settings import Settings

START = "2026-01-05T00:00:00Z"


def evaluate_assets(
    assets: int = 100,
    days: float = 180.0,
    seed: int = 42,
    alert_prob: float | None = None,
    progress: bool = True,
    shards: int = 1,
) -> dict[str, object]:
    """Run the simulated fleet (no sensors) for `days` through the city flow and score it.

    The flow runs in a temporary lake; a progress line shows the simulated day reached.
    """
    env = {
        "CITY_SIM_SENSORS": "0",
        "CITY_SIM_ASSETS": str(assets),
        "CITY_SIM_HOURS": str(days * 24),
        "CITY_SIM_SEED": str(seed),
        "CITY_SIM_SPEEDUP": "0",
        "CITY_SIM_START": START,
        "CITY_MAINTENANCE_SHARDS": str(shards),
    }
    if alert_prob is not None:
        env["CITY_MAINTENANCE_ALERT_PROB"] = str(alert_prob)
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        settings = replace(
            Settings.from_env(env),
            lake=Path(folder),
            compact_every_s=0.0,
            retention_readings_days=0.0,
        )
        start = time.monotonic()
        if progress:
            print(f"[evaluate] simulating {assets} assets for {days:g} days", file=sys.stderr)
            begin_ms = datetime.fromisoformat(START).timestamp() * 1000
            span = LakeProgress(
                folder, begin_ms, begin_ms + days * 86_400_000, "[evaluate] simulated"
            )
            with span:
                run_main(build_flow(settings))
        else:
            run_main(build_flow(settings))
        con = lake.connect(folder, read_only=True)
        try:
            figures = score(con, settings.maintenance_horizon_h)
            figures["curve"] = _curve(con)
        finally:
            con.close()
    seconds = time.monotonic() - start
    return {
        "assets": assets,
        "days": days,
        "alert_prob": settings.maintenance_alert_prob,
        "shards": settings.maintenance_shards,
        **figures,
        "seconds": round(seconds, 1),
    }


def _curve(con: duckdb.DuckDBPyConnection, sample: int = 3000) -> dict[str, list]:
    """A sample of (true RUL, predicted RUL, low, high) for the report's chart."""
    rows = con.execute(
        f"""
        SELECT epoch(t.failure_ts - p.ts) / 3600, p.rul, p.rul_low, p.rul_high
        FROM maintenance_predictions p ASOF JOIN asset_truth t
          ON p.asset_id = t.asset_id AND p.ts >= t.from_ts
        USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE (1)
        """
    ).fetchall()
    rows.sort()
    return {
        name: [round(float(r[i]), 1) for r in rows]
        for i, name in enumerate(("true", "rul", "low", "high"))
    }


def assets_report(figures: dict, folder: Path) -> Path:
    """The HTML report of `evaluate_assets`: figures per asset type and two charts."""
    names = (
        "failures_scored",
        "warned_ahead_share",
        "median_lead_h",
        "warnings",
        "false_warning_share",
        "beyond_twice_horizon_share",
        "median_true_rul_at_warning_h",
        "rul_mae_h",
        "rul_mae_within_horizon_h",
        "interval_coverage",
        "brier",
    )
    table: list[tuple[str, ...]] = [("asset type", *names)]
    for asset_type, f in {**figures["types"], "all": figures}.items():
        table.append((asset_type, *(str(f.get(name, "")) for name in names)))
    curve = figures["curve"]
    scatter = go.Figure(
        [
            go.Scatter(
                x=curve["true"],
                y=curve["high"],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            ),
            go.Scatter(
                x=curve["true"],
                y=curve["low"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31,119,180,0.15)",
                name="90 % band",
            ),
            go.Scatter(
                x=curve["true"],
                y=curve["rul"],
                mode="markers",
                marker={"size": 3},
                name="predicted RUL",
            ),
            go.Scatter(x=[0, 720], y=[0, 720], mode="lines", name="perfect", line={"dash": "dot"}),
        ],
        layout={
            "title": "Predicted vs. true RUL (hours; sample of predictions)",
            "xaxis": {"title": "true RUL (h)", "range": [0, 1000]},
            "yaxis": {"title": "predicted RUL (h)"},
        },
    )
    types = list(figures["types"])
    shares = go.Figure(
        [
            go.Bar(
                name="failures warned ≥ 24 h ahead",
                x=types,
                y=[figures["types"][t].get("warned_ahead_share") for t in types],
            ),
            go.Bar(
                name="false warnings (true RUL > horizon)",
                x=types,
                y=[figures["types"][t].get("false_warning_share") for t in types],
            ),
        ],
        layout={"title": "Warnings per asset type", "barmode": "group", "yaxis": {"range": [0, 1]}},
    )
    note = (
        f"{figures['assets']} assets, {figures['days']:g} simulated days, alert at failure "
        f"probability ≥ {figures['alert_prob']:g} within {figures['horizon_h']:g} h"
    )
    return write_report(
        folder, "assets", "Simulated assets: maintenance warnings", table, [shares, scatter], note
    )
