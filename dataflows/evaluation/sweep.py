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
    python -m dataflows.cli.sweep datasets [--datasets skab,gecco,zoo,simulator] [--json]

`datasets` runs every candidate, beside the device detector as deployed, on each dataset
(zoo seed 0, simulator seed 7) and ranks it by its worst dataset: the one where its figure
is the smallest share of the issue's targets (`TARGETS`, `CEILINGS`); it also times each candidate
(`us`: µs per reading, score and learn, on one noisy daily stream).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataflows.evaluation.gecco import evaluate_gecco
from dataflows.evaluation.simulator import evaluate_simulator
from dataflows.evaluation.skab import evaluate_skab
from dataflows.evaluation.zoo import evaluate_zoo
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan, make
from online_models.evaluation.zoo import stream as zoo_stream

CANDIDATES: dict[str, str] = {
    "ShiftCusum(1.5, 30)": "shift_cusum",
    "ShiftCusum(2, 40)": "shift_cusum_wide",
    "SeasonalZScore": "seasonal_zscore",
    "SeasonalZScore, hourly slots": "seasonal_zscore_hourly",
    "FeatureTrees (HalfSpaceTrees)": "feature_trees",
    "AnomalyLikelihood(SeasonalZScore)": "likelihood_seasonal_zscore",
    "SeasonalZScore + its AnomalyLikelihood": "seasonal_zscore+likelihood_seasonal_zscore",
    "TailCalibrated(SeasonalZScore)": "calibrated_seasonal_zscore",
    "TailCalibrated(ShiftCusum)": "calibrated_shift_cusum",
    "TailCalibrated(ShiftCusum, level-following)": "calibrated_level_cusum",
    "TailCalibrated(ShiftCusum, level-following), hourly slots": "calibrated_level_cusum_hourly",
    "the same + UnseenLevel": "calibrated_level_cusum_hourly+unseen_level",
    "the same + UnseenLevel + ShortCycling": (
        "calibrated_level_cusum_hourly+unseen_level+short_cycling"
    ),
    "TailCalibrated(ShiftCusum, level-following) + UnseenLevel + ShortCycling": (
        "calibrated_level_cusum+unseen_level+short_cycling"
    ),
}
"""Row name -> the baseline (a detector name) paired with `Flatline` in the candidate.
The default of the city's rhythmic and count signals is `shift_cusum`, that of replayed
(`recorded`) metrics `calibrated_level_cusum+unseen_level+short_cycling` (see
`DEFAULT_PLAN`)."""

TARGETS: dict[str, tuple[str, float]] = {
    "simulator": ("worst_f1", 0.90),
    "skab": ("f1", 0.80),
    "gecco": ("f1", 0.50),
    "zoo": ("nab_standard", 60.0),
}
"""Dataset -> (figure, target) by which `sweep_datasets` ranks candidates: each candidate's
worst dataset is the one where the figure is the smallest share of its target."""

CEILINGS: dict[str, tuple[str, float]] = {"zoo": ("worst_normal_high_share", 0.001)}
"""Dataset -> (figure, ceiling): a target of "at most", whose share is `ceiling / figure`
(capped at 10); a dataset's share is the smaller of its target's and its ceiling's."""


def target_share(dataset: str, figures: dict[str, Any]) -> float:
    """How far `figures` reach the dataset's targets: 1.0 just meets them, below misses.

    >>> target_share("zoo", {"nab_standard": 72.0, "worst_normal_high_share": 0.002})
    0.5
    >>> target_share("gecco", {"f1": 0.55})
    1.1
    """
    figure, target = TARGETS[dataset]
    share = figures[figure] / target
    if dataset in CEILINGS:
        figure, ceiling = CEILINGS[dataset]
        value = figures[figure]
        share = min(share, ceiling / value if value * 10 > ceiling else 10.0)
    return round(share, 6)


def candidate_plan(baseline: str) -> DetectorPlan:
    """The default plan with `baseline` beside `Flatline` for rhythmic, count and recorded.

    >>> candidate_plan("seasonal_zscore").signals["count"]
    'seasonal_zscore+flatline_long'
    >>> candidate_plan("seasonal_zscore").signals["recorded"]
    'seasonal_zscore+flatline'
    """
    return DEFAULT_PLAN.with_signals(
        rhythmic=f"{baseline}+flatline",
        count=f"{baseline}+flatline_long",
        recorded=f"{baseline}+flatline",
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


def cost_us(baseline: str, readings: int = 20_000) -> float:
    """µs per reading to score and learn `baseline` beside `Flatline` on a noisy daily stream."""
    detector = make(f"{baseline}+flatline")
    stream = zoo_stream("noisy_daily", None)
    xs: list[dict] = [
        {"value": v, "t": t}
        for t, v in zip(stream.times, stream.values, strict=True)
        if v is not None
    ]
    xs = (xs * (readings // len(xs) + 1))[:readings]
    started = time.perf_counter()
    for x in xs:
        detector.score_one(x)
        detector.learn_one(x)
    return round(1e6 * (time.perf_counter() - started) / readings, 1)


def _dataset_figures(dataset: str, plan: DetectorPlan, paths: dict[str, Path]) -> dict[str, Any]:
    if dataset == "skab":
        f = evaluate_skab(paths["skab"], progress=False, plan=plan)
        return {k: f[k] for k in ("f1", "far_percent", "nab_standard")}
    if dataset == "gecco":
        f = evaluate_gecco(paths["gecco"], progress=False, plan=plan)
        return {k: f[k] for k in ("f1", "flagged_share", "false_alarms_per_day")}
    if dataset == "zoo":
        f = evaluate_zoo(0, progress=False, plan=plan)
        return {k: f[k] for k in ("nab_standard", "worst_normal_high_share", "f1")}
    f = evaluate_simulator(200, 336.0, 7, progress=False, plan=plan)
    worst = min((k["f1"] for k in f["kinds"].values()), default=0.0)
    return {"precision": f["precision"], "worst_f1": worst}


def sweep_datasets(
    datasets: tuple[str, ...], paths: dict[str, Path], candidates: dict[str, str] = CANDIDATES
) -> list[dict[str, object]]:
    """Every candidate on every dataset of `datasets`, one row each, with its cost and worst.

    `worst` names the dataset where the candidate reaches the smallest share of its targets
    (`target_share`), and `worst_share` is that share: the default is chosen by it. Each row
    is also printed to stderr as it is done (a sweep takes long: what is done is not lost).
    """
    rows: list[dict[str, object]] = []
    for name, baseline in candidates.items():
        row: dict[str, object] = {"candidate": name}
        shares = {}
        for dataset in datasets:
            print(f"[detector_sweep] {name} on {dataset} ...", file=sys.stderr, flush=True)
            figures = _dataset_figures(dataset, candidate_plan(baseline), paths)
            row.update({f"{dataset}_{k}": v for k, v in figures.items()})
            shares[dataset] = target_share(dataset, figures)
        worst = min(shares, key=shares.__getitem__)
        row.update(worst=worst, worst_share=round(shares[worst], 3), us=cost_us(baseline))
        rows.append(row)
        print(f"[detector_sweep] {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows
