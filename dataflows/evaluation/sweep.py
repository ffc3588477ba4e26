"""Candidate default detectors, side by side (`python -m dataflows.cli.sweep`).

Each candidate replaces the baseline of the default detector of `rhythmic` and `count`
signals (most of the city's metrics, and every replayed one) for one run of `just evaluate
simulator` in this process; the table shows precision, false alerts per sensor-day and F1
per anomaly kind (once learnt), and the precision and worst F1 of the cold start, so that
the default is chosen by measurement. Choose on another seed than the one you report (the
`docs/evaluation.md` reports seed 42; the sweep defaults to seed 7).

On SKAB (`skab [PATH]`) each candidate runs `just evaluate skab` twice: as deployed, beside
the device's `DeviceDistance`, and on its own (no device detector), so that each
per-metric detector's own figures show; one more row has no per-metric baseline at all
(`DeviceDistance` and `Flatline` only).

    python -m dataflows.cli.sweep [--sensors 200] [--hours 336] [--seed 7] [--json]
    python -m dataflows.cli.sweep skab [PATH] [--json]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from river import base

from dataflows.evaluation.simulator import evaluate_simulator
from dataflows.evaluation.skab import evaluate_skab
from dataflows.flow import sensors as sensor_logic
from online_models.anomaly import defaults
from online_models.anomaly.cusum import ShiftCusum
from online_models.anomaly.ensemble import MaxScore
from online_models.anomaly.flatline import Flatline
from online_models.anomaly.likelihood import AnomalyLikelihood
from online_models.anomaly.seasonal import SeasonalZScore
from online_models.anomaly.trees import FeatureTrees

Baseline = Callable[[], base.AnomalyDetector]


class NoBaseline(base.AnomalyDetector):
    """A baseline that never scores: leaves a detector's other parts to do the work."""

    def learn_one(self, x: dict) -> None:
        return None

    def score_one(self, x: dict) -> float:
        return 0.0


CANDIDATES: dict[str, Baseline] = {
    "ShiftCusum(1.5, 30) (default)": lambda: ShiftCusum(allowance=1.5, limit=30.0),
    "ShiftCusum(2, 40)": lambda: ShiftCusum(allowance=2.0, limit=40.0),
    "SeasonalZScore": SeasonalZScore,
    "SeasonalZScore, hourly slots": lambda: SeasonalZScore(slot_minutes=60),
    "FeatureTrees (HalfSpaceTrees)": FeatureTrees,
    "AnomalyLikelihood(SeasonalZScore)": lambda: AnomalyLikelihood(SeasonalZScore()),
    "SeasonalZScore + its AnomalyLikelihood": lambda: MaxScore(
        [SeasonalZScore(), AnomalyLikelihood(SeasonalZScore())]
    ),
}
"""Name -> factory of the baseline paired with `Flatline` in the candidate detector."""


@contextmanager
def baseline_swapped(baseline: Baseline) -> Iterator[None]:
    """Within the block, new `rhythmic` and `count` detectors use `baseline`.

    >>> with baseline_swapped(SeasonalZScore):
    ...     type(defaults.default_detector("rhythmic").detectors[0]).__name__
    'SeasonalZScore'
    >>> type(defaults.default_detector("rhythmic").detectors[0]).__name__
    'ShiftCusum'
    """
    saved = dict(defaults.SIGNALS)
    defaults.SIGNALS["rhythmic"] = lambda: MaxScore([baseline(), Flatline()])
    defaults.SIGNALS["count"] = lambda: MaxScore([baseline(), Flatline(min_run=10)])
    try:
        yield
    finally:
        defaults.SIGNALS.clear()
        defaults.SIGNALS.update(saved)


@contextmanager
def without_device_detector() -> Iterator[None]:
    """Within the block, devices get no joint detector: only their metrics' own."""
    saved = sensor_logic.device_detector
    sensor_logic.device_detector = lambda sensor_type, n_metrics: None
    try:
        yield
    finally:
        sensor_logic.device_detector = saved


def sweep(sensors: int, hours: float, seed: int) -> list[dict[str, object]]:
    """One simulator evaluation per candidate; a row of figures each."""
    rows = []
    for name, baseline in CANDIDATES.items():
        print(f"[detector_sweep] {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        with baseline_swapped(baseline):
            figures = evaluate_simulator(sensors, hours, seed, progress=False)
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
    runs = [(name, baseline, True) for name, baseline in CANDIDATES.items()]
    runs += [(name, baseline, False) for name, baseline in CANDIDATES.items()]
    runs.append(("none (DeviceDistance + Flatline)", NoBaseline, True))
    rows = []
    for name, baseline, device in runs:
        print(f"[detector_sweep] {name}, device detector {device} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        with baseline_swapped(baseline), nullcontext() if device else without_device_detector():
            figures = evaluate_skab(root, progress=False)
        rows.append(
            {
                "candidate": name,
                "device_distance": device,
                **{k: figures[k] for k in ("f1", "far_percent", "mar_percent", "nab_standard")},
                "seconds": round(time.monotonic() - started),
            }
        )
    return rows
