"""Candidate default detectors, side by side (`python -m dataflows.cli.sweep`).

Each candidate replaces the baseline of the default detector of `rhythmic` and `count`
signals (most of the city's metrics, and every replayed one) in the detector plan of one
run of `just evaluate simulator`; the table shows precision, false alerts per sensor-day and F1
per anomaly kind (once learnt), and the precision and worst F1 of the cold start, so that
the default is chosen by measurement. Choose on another seed than the one you report (the
`docs/evaluation.md` reports seed 42; the sweep defaults to seed 7).

On SKAB (`skab [PATH]`) and GECCO 2018 (`gecco [PATH]`) each candidate runs the dataset's
`just evaluate` twice: as deployed, beside the device's `DeviceDistance`, and on its own
(no device detector), so that each per-metric detector's own figures show; one more row has
no per-metric baseline at all (`DeviceDistance` and `Flatline` only).

    python -m dataflows.cli.sweep [--sensors 200] [--hours 336] [--seed 7] [--json]
    python -m dataflows.cli.sweep skab [PATH] [--json]
    python -m dataflows.cli.sweep gecco [PATH] [--json]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataflows.evaluation.gecco import evaluate_gecco
from dataflows.evaluation.simulator import evaluate_simulator
from dataflows.evaluation.skab import evaluate_skab
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan

CANDIDATES: dict[str, str] = {
    "ShiftCusum(1.5, 30) (default)": "shift_cusum",
    "ShiftCusum(2, 40)": "shift_cusum_wide",
    "SeasonalZScore": "seasonal_zscore",
    "SeasonalZScore, hourly slots": "seasonal_zscore_hourly",
    "FeatureTrees (HalfSpaceTrees)": "feature_trees",
    "AnomalyLikelihood(SeasonalZScore)": "likelihood_seasonal_zscore",
    "SeasonalZScore + its AnomalyLikelihood": "seasonal_zscore+likelihood_seasonal_zscore",
}
"""Row name -> the baseline (a detector name) paired with `Flatline` in the candidate."""


def candidate_plan(baseline: str) -> DetectorPlan:
    """The default plan with `baseline` beside `Flatline` for `rhythmic` and `count` signals.

    >>> candidate_plan("seasonal_zscore").signals["count"]
    'seasonal_zscore+flatline_long'
    """
    return DEFAULT_PLAN.with_signals(
        rhythmic=f"{baseline}+flatline", count=f"{baseline}+flatline_long"
    )


def sweep(sensors: int, hours: float, seed: int) -> list[dict[str, object]]:
    """One simulator evaluation per candidate; a row of figures each."""
    rows = []
    for name, baseline in CANDIDATES.items():
        print(f"[detector_sweep] {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        plan = candidate_plan(baseline)
        figures = evaluate_simulator(sensors, hours, seed, progress=False, plan=plan)
        cold = figures["cold_start"]
        rows.append(
            {
                "candidate": name,
                "precision": figures["precision"],
                "false_alerts_per_sensor_day": figures["false_alerts_per_sensor_day"],
                **{kind: k["f1"] for kind, k in figures["kinds"].items()},
                "cold_start_precision": cold["precision"],
                "cold_start_worst_f1": min((k["f1"] for k in cold["kinds"].values()), default=None),
                "seconds": round(time.monotonic() - started),
            }
        )
    return rows


def sweep_skab(root: Path) -> list[dict[str, object]]:
    """`just evaluate skab` per candidate, with and without the device detector."""
    return _with_and_without_device(
        lambda plan: evaluate_skab(root, progress=False, plan=plan),
        ("f1", "far_percent", "mar_percent", "nab_standard"),
    )


def sweep_gecco(path: Path) -> list[dict[str, object]]:
    """`just evaluate gecco` per candidate, with and without the device detector."""
    return _with_and_without_device(
        lambda plan: evaluate_gecco(path, progress=False, plan=plan),
        ("f1", "precision", "recall", "flagged_share", "oracle_f1", "false_alarms_per_day"),
    )


def _with_and_without_device(
    evaluate: Callable[[DetectorPlan], dict[str, Any]], figures: tuple[str, ...]
) -> list[dict[str, object]]:
    """Each candidate beside the device's `DeviceDistance` and alone, then neither."""
    runs = [(name, baseline, True) for name, baseline in CANDIDATES.items()]
    runs += [(name, baseline, False) for name, baseline in CANDIDATES.items()]
    runs.append(("none (DeviceDistance + Flatline)", "silent", True))
    rows: list[dict[str, object]] = []
    for name, baseline, device in runs:
        print(f"[detector_sweep] {name}, device detector {device} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        plan = candidate_plan(baseline) if device else candidate_plan(baseline).without_device()
        result = evaluate(plan)
        rows.append(
            {
                "candidate": name,
                "device_distance": device,
                **{k: result[k] for k in figures},
                "seconds": round(time.monotonic() - started),
            }
        )
    return rows
