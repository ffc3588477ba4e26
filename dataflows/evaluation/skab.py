"""SKAB (water pumps): the experiment files replayed through the city flow, scored.

The SKAB experiment files (`valve1/`, `valve2/`, `other/`; default `../shared/data/skab`) are
replayed through the city flow into a temporary lake, exactly as `just replay` does: the
models learn online from the first row of each file and never see the labels. Scores follow
the published leaderboard's protocols on the test part of each file (every row after the
first 400):

- outliers: a row is flagged when any of its metrics is flagged; point-wise F1, false-alarm
  rate (FAR, %) and missed-alarm rate (MAR, %) over all test rows of all files;
- changepoints: each row of `change_points` (the device's Page-Hinkley change detector) is a
  detection; NAB score with a 60-second window to the right of each labelled changepoint
  (`online_models.evaluation.nab`), normalised over the whole corpus, for NAB's three
  profiles (standard, reward low FP, reward low FN): with every change point the flow
  records (`nab_standard`, what an operator sees), and, as NAB's protocol does, with the
  threshold on the change statistic that scores best over the whole corpus.

Figures are shown next to the leaderboard quoted in the data's README.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import lake
from dataflows.evaluation.harness import scratch_settings
from dataflows.evaluation.report import write_report
from dataflows.flow.city import build_flow
from dataflows.settings import PROJECT_ROOT
from dataflows.sources.recorded import ReplaySpec
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan
from online_models.evaluation import PROFILES, PointCounts
from online_models.evaluation.nab import best_threshold, corpus_score

DEFAULT_SKAB = PROJECT_ROOT.parent / "shared" / "data" / "skab"


TRAINING_ROWS = 400


WINDOW_S = 60.0


LEADERBOARD_F1 = {"Conv-AE": 0.78, "MSET": 0.78, "T-squared+Q (PCA)": 0.76, "LSTM-AE": 0.74}


LEADERBOARD_NAB = {"MSCRED": 32.42, "Isolation forest": 26.16, "T-squared+Q": 25.35}


def experiment_files(root: Path) -> list[Path]:
    """SKAB's labelled experiment files (the anomaly-free recording is not scored)."""
    files = sorted(p for p in root.rglob("*.csv") if "anomaly-free" not in p.parts)
    if not files:
        raise FileNotFoundError(f"no SKAB experiment files under {root}")
    return files


def score(lake_path: Path, root: Path, files: list[Path]) -> dict[str, Any]:
    """Outlier and changepoint figures of the replayed `files` (see the module docstring)."""
    con = lake.connect(lake_path, read_only=True)
    truth = duckdb.connect()
    counts = PointCounts()
    corpus: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]] = []
    for path in files:
        sensor_id = str(path.relative_to(root).with_suffix(""))
        labels = truth.execute(
            "SELECT epoch_ms(CAST(datetime AS TIMESTAMP)) AS ts, anomaly <> 0, changepoint <> 0 "
            "FROM read_csv(?, header = true) ORDER BY ts",
            [str(path)],
        ).fetchall()
        flags = dict(
            con.execute(
                "SELECT epoch_ms(ts), bool_or(is_anomaly) FROM readings WHERE sensor_id = ? "
                "GROUP BY 1",
                [sensor_id],
            ).fetchall()
        )
        test = labels[TRAINING_ROWS:]
        for ts, anomalous, _ in test:
            counts.add(flags.get(ts, False), anomalous)
        start = test[0][0] if test else 0
        onsets = [
            (ts / 1000, statistic)
            for ts, statistic in con.execute(
                "SELECT epoch_ms(ts), statistic FROM change_points WHERE sensor_id = ? ORDER BY ts",
                [sensor_id],
            ).fetchall()
            if ts >= start
        ]
        windows = [(ts / 1000, ts / 1000 + WINDOW_S) for ts, _, change in test if change]
        corpus.append((onsets, windows))
    con.close()
    every_point = [([t for t, _ in onsets], windows) for onsets, windows in corpus]
    nab = {}
    for profile in PROFILES:
        threshold, tuned = best_threshold(corpus, profile)
        nab[profile] = {
            "every_change_point": round(corpus_score(every_point, profile), 2),
            "tuned": round(tuned, 2),
            "threshold": None if threshold == float("inf") else round(threshold, 4),
        }
    return {
        "files": len(files),
        "test_rows": counts.rows,
        "f1": round(counts.f1(), 4),
        "far_percent": round(counts.far_percent(), 2),
        "mar_percent": round(counts.mar_percent(), 2),
        "nab_standard": nab["standard"]["every_change_point"],
        "nab": nab,
    }


def evaluate_skab(
    root: Path, progress: bool = True, plan: DetectorPlan = DEFAULT_PLAN
) -> dict[str, Any]:
    """Replay SKAB's experiment files into a temporary lake (with `plan`) and score them."""
    files = experiment_files(root)
    spec = ReplaySpec(
        tuple(files), root, label_columns=("anomaly", "changepoint"), progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        run_main(build_flow(scratch_settings(folder), replay=spec, plan=plan))
        return score(Path(folder), root, files)


def skab_report(figures: dict, folder: Path) -> Path:
    """The HTML report of `figures`: a table and two charts beside the leaderboard."""
    table = [
        ("figure", "ours (online)", "published best (offline)"),
        ("outlier F1", str(figures["f1"]), "Conv-AE 0.78, MSET 0.78"),
        ("false-alarm rate FAR %", str(figures["far_percent"]), "Conv-AE 13.55"),
        ("missed-alarm rate MAR %", str(figures["mar_percent"]), "Conv-AE 28.02"),
        ("changepoint NAB standard", str(figures["nab_standard"]), "MSCRED 32.42"),
        *(
            (
                f"NAB {profile}: every change point / threshold tuned over the corpus",
                f"{nab['every_change_point']} / {nab['tuned']} (≥ {nab['threshold']})",
                "",
            )
            for profile, nab in figures["nab"].items()
        ),
    ]
    f1 = go.Figure(
        go.Bar(
            x=["ours (online)", *LEADERBOARD_F1],
            y=[figures["f1"], *LEADERBOARD_F1.values()],
            marker_color=["#d62728"] + ["#7f7f7f"] * len(LEADERBOARD_F1),
        ),
        layout={"title": "SKAB outlier F1 (test parts)", "yaxis": {"range": [0, 1]}},
    )
    nab = go.Figure(
        go.Bar(
            x=["ours (online)", *LEADERBOARD_NAB],
            y=[figures["nab_standard"], *LEADERBOARD_NAB.values()],
            marker_color=["#d62728"] + ["#7f7f7f"] * len(LEADERBOARD_NAB),
        ),
        layout={"title": "SKAB changepoint NAB standard score"},
    )
    note = f"{figures['files']} files, {figures['test_rows']} test rows"
    return write_report(folder, "skab", "SKAB: our online detectors", table, [f1, nab], note)
