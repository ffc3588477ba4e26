"""`just evaluate skab [PATH]`: how well the flow's detectors find SKAB's anomalies.

The SKAB experiment files (`valve1/`, `valve2/`, `other/`; default `../shared/data/skab`) are
replayed through the city flow into a temporary lake, exactly as `just replay` does: the
models learn online from the first row of each file and never see the labels. Scores follow
the published leaderboard's protocols on the test part of each file (every row after the
first 400):

- outliers: a row is flagged when any of its metrics is flagged; point-wise F1, false-alarm
  rate (FAR, %) and missed-alarm rate (MAR, %) over all test rows of all files;
- changepoints: each row of `change_points` (the device's Page-Hinkley change detector) is a
  detection; NAB standard score with a 60-second window to the right of each labelled
  changepoint (`online_models.evaluation.nab`), normalised over the whole corpus.

Prints a table next to the leaderboard quoted in the data's README; `--json` prints the
figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb
from bytewax.testing import run_main

from dataflows import lake
from dataflows.city import build_flow
from dataflows.settings import PROJECT_ROOT, Settings
from dataflows.sources.recorded import ReplaySpec
from online_models.evaluation import PROFILES
from online_models.evaluation.nab import raw_score, scaled_sigmoid

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


def score(lake_path: Path, root: Path, files: list[Path]) -> dict[str, float]:
    """Outlier and changepoint figures of the replayed `files` (see the module docstring)."""
    con = lake.connect(lake_path, read_only=True)
    truth = duckdb.connect()
    tp = fp = fn = tn = 0
    standard = PROFILES["standard"]
    raw = null = perfect = 0.0
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
            flagged = flags.get(ts, False)
            tp += flagged and anomalous
            fp += flagged and not anomalous
            fn += anomalous and not flagged
            tn += not flagged and not anomalous
        start = test[0][0] if test else 0
        onsets = [
            ts / 1000
            for (ts,) in con.execute(
                "SELECT epoch_ms(ts) FROM change_points WHERE sensor_id = ? ORDER BY ts",
                [sensor_id],
            ).fetchall()
            if ts >= start
        ]
        windows = [(ts / 1000, ts / 1000 + WINDOW_S) for ts, _, change in test if change]
        raw += raw_score(onsets, windows, standard)
        null += standard.a_fn * len(windows)
        perfect += standard.a_tp * scaled_sigmoid(-1.0) * len(windows)
    con.close()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "files": len(files),
        "test_rows": tp + fp + fn + tn,
        "f1": round(2 * precision * recall / (precision + recall), 4) if tp else 0.0,
        "far_percent": round(100 * fp / (fp + tn), 2) if fp + tn else 0.0,
        "mar_percent": round(100 * fn / (fn + tp), 2) if fn + tp else 0.0,
        "nab_standard": round(100 * (raw - null) / (perfect - null), 2) if perfect != null else 0,
    }


def evaluate_skab(root: Path, progress: bool = True) -> dict[str, float]:
    """Replay SKAB's experiment files into a temporary lake and score them."""
    files = experiment_files(root)
    spec = ReplaySpec(
        tuple(files), root, label_columns=("anomaly", "changepoint"), progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        settings = replace(
            Settings.from_env({}),
            lake=Path(folder),
            retention_readings_days=0.0,
            retention_aggregates_days=0.0,
            compact_every_s=0.0,
        )
        run_main(build_flow(settings, replay=spec))
        return score(Path(folder), root, files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="skab", choices=["skab"])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_SKAB)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    print(f"[evaluate] SKAB experiment files under {args.path}", file=sys.stderr)
    figures = evaluate_skab(args.path)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'SKAB (test parts, online)':34}{'ours':>10}   published (offline)")
    best_f1 = ", ".join(f"{k} {v}" for k, v in LEADERBOARD_F1.items())
    best_nab = ", ".join(f"{k} {v}" for k, v in LEADERBOARD_NAB.items())
    print(f"{'outlier F1':34}{figures['f1']:>10}   {best_f1}")
    print(f"{'false-alarm rate FAR %':34}{figures['far_percent']:>10}   Conv-AE 13.55")
    print(f"{'missed-alarm rate MAR %':34}{figures['mar_percent']:>10}   Conv-AE 28.02")
    print(f"{'changepoint NAB standard':34}{figures['nab_standard']:>10}   {best_nab}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
