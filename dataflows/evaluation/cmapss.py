"""`just evaluate cmapss [PATH]`: remaining useful life on NASA's C-MAPSS, learnt online.

The training engines of a subset (FD001 by default) are replayed as a stream through
`online_models.maintenance.RemainingLife`: each engine reports its 21 sensors every cycle,
and its RUL labels become known only when it fails (its last cycle), as they would in a
fleet. Engines run one after another by default (`start_every=None`), like a test bench;
`start_every=N` starts one every N cycles, so several age at once (all at once with 0).
Then the test engines are replayed, and the RUL predicted at each one's last cycle is
scored against `RUL_FD001.txt`: RMSE and the asymmetric PHM score (Saxena et al. 2008)
with targets capped at 125 cycles, the usual protocol, next to published offline figures.
The operating settings are not fed to the model: FD001 runs at one operating condition.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from dataflows.evaluation.report import write_report
from dataflows.settings import PROJECT_ROOT
from online_models.evaluation import rmse_and_score
from online_models.maintenance import Prediction, RemainingLife

DEFAULT_CMAPSS = PROJECT_ROOT.parent / "shared" / "data" / "cmapss"
CAP = 125.0
HORIZON = 30.0
SENSORS = [f"s{i}" for i in range(1, 22)]
PUBLISHED_RMSE = {
    "MLP (Babu 2016)": 37.56,
    "SVR (Babu 2016)": 20.96,
    "CNN (Babu 2016)": 18.45,
    "LSTM (Zheng 2017)": 16.14,
    "deep CNN (Li 2018)": 12.61,
}

Engines = dict[int, np.ndarray]


def read_engines(path: Path) -> Engines:
    """Rows per engine (unit, cycle, 3 settings, 21 sensors), ordered by cycle."""
    table = np.loadtxt(path, ndmin=2)
    if table.shape[1] != 26:
        raise ValueError(f"{path}: expected 26 columns (C-MAPSS layout), got {table.shape[1]}")
    table = table[np.lexsort((table[:, 1], table[:, 0]))]  # by unit, then cycle
    units, starts = np.unique(table[:, 0], return_index=True)
    return {int(u): rows for u, rows in zip(units, np.split(table, starts[1:]), strict=True)}


def default_model() -> RemainingLife:
    """The model scored here; k and windows chosen by 5-fold CV on the training engines."""
    return RemainingLife(
        horizon=HORIZON, cap=CAP, k=100, window=10, trend_window=50, band_edges=(25, 50, 75, 100)
    )


def schedule(engines: Engines, start_every: int | None) -> list[tuple[float, int, int]]:
    """(stream time, engine, row) for every training row, in stream order.

    >>> rows = {1: np.zeros((2, 26)), 2: np.zeros((3, 26))}
    >>> schedule(rows, None)
    [(0, 1, 0), (1, 1, 1), (2, 2, 0), (3, 2, 1), (4, 2, 2)]
    >>> schedule(rows, 1)
    [(0, 1, 0), (1, 1, 1), (1, 2, 0), (2, 2, 1), (3, 2, 2)]
    """
    stream, start = [], 0
    for order, (unit, rows) in enumerate(sorted(engines.items())):
        if start_every is not None:
            start = order * start_every
        stream += [(start + i, unit, i) for i in range(len(rows))]
        if start_every is None:
            start += len(rows)
    return sorted(stream)


def evaluate_cmapss(
    root: Path,
    subset: str = "FD001",
    start_every: int | None = None,
    progress: bool = True,
    model_factory: Callable[[], RemainingLife] = default_model,
) -> dict:
    """Replay `subset` under `root` and score the test engines' last-cycle predictions."""
    train = read_engines(root / f"train_{subset}.txt")
    test = read_engines(root / f"test_{subset}.txt")
    truth = np.loadtxt(root / f"RUL_{subset}.txt", ndmin=1)
    if len(truth) != len(test):
        raise ValueError(f"{len(test)} test engines but {len(truth)} true RULs")
    model = model_factory()
    started = time.perf_counter()
    events = []
    failed = 0
    for t, unit, i in schedule(train, start_every):
        row = train[unit][i]
        model.observe(unit, t, dict(zip(SENSORS, row[5:], strict=True)), age=row[1])
        if i == len(train[unit]) - 1:
            events += model.failed(unit, t)
            failed += 1
            if progress and (failed % 10 == 0 or failed == len(train)):
                _say(f"training engines failed and learnt: {failed}/{len(train)}")
    training = model.metrics()
    last: dict[int, Prediction | None] = {}
    for n, (unit, rows) in enumerate(sorted(test.items()), 1):
        for row in rows:
            signals = dict(zip(SENSORS, row[5:], strict=True))
            last[unit] = model.observe(("test", unit), row[1], signals, age=row[1])
        if progress and (n % 25 == 0 or n == len(test)):
            _say(f"test engines replayed: {n}/{len(test)}")
    seconds = time.perf_counter() - started
    predictions = [p for unit in sorted(test) if (p := last[unit]) is not None]
    if len(predictions) < len(test):
        raise RuntimeError("the model was not ready to predict after the training engines")
    actual = [min(float(r), CAP) for r in truth]
    ruls = [p.rul for p in predictions]
    rmse, phm = rmse_and_score(ruls, actual)
    covered = [p.rul_low <= a <= p.rul_high for p, a in zip(predictions, actual, strict=True)]
    n_rows = sum(len(r) for r in train.values()) + sum(len(r) for r in test.values())
    return {
        "subset": subset,
        "rmse": round(rmse, 2),
        "score": round(phm, 1),
        "interval_coverage": round(sum(covered) / len(covered), 3),
        "interval_width_median": round(
            float(np.median([p.rul_high - p.rul_low for p in predictions])), 1
        ),
        "training_prequential": {k: round(v, 4) for k, v in training.items()},
        "drift_events": len(events),
        "train_engines": len(train),
        "test_engines": len(test),
        "seconds": round(seconds, 1),
        "ms_per_reading": round(1000 * seconds / n_rows, 3),
        "predictions": [round(r, 1) for r in ruls],
        "low": [round(p.rul_low, 1) for p in predictions],
        "high": [round(p.rul_high, 1) for p in predictions],
        "truth": actual,
    }


def cmapss_report(figures: dict, folder: Path) -> Path:
    """The HTML report: figures next to the published ones, predicted vs. true RUL."""
    table = [
        ("figure", "ours (online)", "published (offline)"),
        ("RMSE, last cycle, cap 125", str(figures["rmse"]), "LSTM 16.14, deep CNN 12.61"),
        ("PHM score", str(figures["score"]), "deep CNN 273.7 (Li 2018)"),
        ("90 % interval coverage (test)", str(figures["interval_coverage"]), "-"),
        ("median interval width", str(figures["interval_width_median"]), "-"),
        ("drift events while training", str(figures["drift_events"]), "-"),
    ]
    truth, predicted = figures["truth"], figures["predictions"]
    scatter = go.Figure(
        [
            go.Scatter(
                x=truth,
                y=predicted,
                mode="markers",
                name="test engine",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [h - p for h, p in zip(figures["high"], predicted, strict=True)],
                    "arrayminus": [p - lo for p, lo in zip(predicted, figures["low"], strict=True)],
                    "thickness": 1,
                },
            ),
            go.Scatter(x=[0, CAP], y=[0, CAP], mode="lines", name="perfect"),
        ],
        layout={
            "title": "Predicted vs. true RUL at each test engine's last cycle (90 % band)",
            "xaxis": {"title": "true RUL (cycles, capped at 125)"},
            "yaxis": {"title": "predicted RUL"},
        },
    )
    bars = go.Figure(
        go.Bar(
            x=["ours (online)", *PUBLISHED_RMSE],
            y=[figures["rmse"], *PUBLISHED_RMSE.values()],
            marker_color=["#d62728"] + ["#7f7f7f"] * len(PUBLISHED_RMSE),
        ),
        layout={"title": f"C-MAPSS {figures['subset']} RMSE (lower is better)"},
    )
    note = (
        f"{figures['train_engines']} training engines learnt online as they failed, "
        f"{figures['test_engines']} test engines; {figures['seconds']} s, "
        f"{figures['ms_per_reading']} ms per reading"
    )
    return write_report(
        folder, "cmapss", "C-MAPSS: remaining useful life", table, [scatter, bars], note
    )


def _say(message: str) -> None:
    print(f"[evaluate] {message}", file=sys.stderr, flush=True)
