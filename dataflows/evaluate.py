"""`just evaluate skab|simulator|cmapss|assets`: how well the models do on labelled streams.

    just evaluate skab [PATH] [--json]
    just evaluate simulator [--sensors 200] [--hours 336] [--seed 42] [--json]
    just evaluate cmapss [PATH] [--start-every N] [--json]
    just evaluate assets [--assets 100] [--days 180] [--seed 42] [--alert-prob P] [--json]

Each evaluation runs the city flow into a temporary lake, prints its figures (or one JSON
object with `--json`), writes an HTML report with a table and Plotly charts (`--report`,
default `data/reports/`) and appends the figures to the `evaluations` table of the lake of
`CITY_LAKE`.

SKAB
----
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

Simulator
---------
Two simulated weeks of the city (by default) with the simulator's ground truth, scored per
anomaly kind by `dataflows.simulator_scoring`: the second week, once the detectors have
seen every kind of day, and apart (`cold_start`) days 3 to 7 of the first.

C-MAPSS
-------
Remaining useful life of turbofan engines learnt online from delayed labels
(`dataflows.cmapss`; default `../shared/data/cmapss`).

Assets
------
The simulated fleet (pumps, lifts, escalators, fans, streetlights) through the city flow's
maintenance step, scored against the simulator's true RUL: failures warned at least 24 h
ahead, lead times, false warnings, RUL error and interval coverage
(`dataflows.maintenance_scoring`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb
import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import asset_evaluation, cmapss, lake, simulator_scoring
from dataflows.city import build_flow
from dataflows.evaluation_report import store_summary, write_report
from dataflows.logs import configure_logging
from dataflows.settings import PROJECT_ROOT, Settings
from dataflows.sources.recorded import ReplaySpec
from online_models.evaluation import PROFILES
from online_models.evaluation.nab import best_threshold, corpus_score

DEFAULT_SKAB = PROJECT_ROOT.parent / "shared" / "data" / "skab"
DEFAULT_CMAPSS = PROJECT_ROOT.parent / "shared" / "data" / "cmapss"
TRAINING_ROWS = 400
WINDOW_S = 60.0
LEARNING_HOURS = 168.0
"""The simulator's probation: a week, so that weekday and weekend slots are both learnt."""
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
            flagged = flags.get(ts, False)
            tp += flagged and anomalous
            fp += flagged and not anomalous
            fn += anomalous and not flagged
            tn += not flagged and not anomalous
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
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "files": len(files),
        "test_rows": tp + fp + fn + tn,
        "f1": round(2 * precision * recall / (precision + recall), 4) if tp else 0.0,
        "far_percent": round(100 * fp / (fp + tn), 2) if fp + tn else 0.0,
        "mar_percent": round(100 * fn / (fn + tp), 2) if fn + tp else 0.0,
        "nab_standard": nab["standard"]["every_change_point"],
        "nab": nab,
    }


def _scratch_settings(folder: str, env: dict[str, str] | None = None) -> Settings:
    return replace(
        Settings.from_env(env or {}),
        lake=Path(folder),
        retention_readings_days=0.0,
        retention_aggregates_days=0.0,
        retention_dead_letters_days=0.0,
        compact_every_s=0.0,
    )


def evaluate_skab(root: Path, progress: bool = True) -> dict[str, float]:
    """Replay SKAB's experiment files into a temporary lake and score them."""
    files = experiment_files(root)
    spec = ReplaySpec(
        tuple(files), root, label_columns=("anomaly", "changepoint"), progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        run_main(build_flow(_scratch_settings(folder), replay=spec))
        return score(Path(folder), root, files)


def evaluate_simulator(
    sensors: int = 200, hours: float = 336.0, seed: int = 42, progress: bool = True
) -> dict[str, object]:
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
        settings = _scratch_settings(folder, env)
        if progress:
            print(f"[evaluate] simulating {sensors} sensors for {hours:g} h", file=sys.stderr)
        run_main(build_flow(settings))
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


def skab_report(figures: dict, folder: Path) -> Path:
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


def simulator_report(figures: dict, folder: Path) -> Path:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset", nargs="?", default="skab", choices=["skab", "simulator", "cmapss", "assets"]
    )
    parser.add_argument("path", nargs="?", type=Path, help="data folder (skab, cmapss)")
    parser.add_argument(
        "--start-every",
        type=int,
        default=None,
        help="cmapss only: start a training engine every N cycles (default: one after another)",
    )
    parser.add_argument("--sensors", type=int, default=200, help="simulator only")
    parser.add_argument("--hours", type=float, default=336.0, help="simulator only")
    parser.add_argument("--seed", type=int, default=42, help="simulator, assets")
    parser.add_argument("--assets", type=int, default=100, help="assets only")
    parser.add_argument("--days", type=float, default=180.0, help="assets only")
    parser.add_argument(
        "--alert-prob",
        type=float,
        default=None,
        help="assets only: failure probability that opens a warning (CITY_MAINTENANCE_ALERT_PROB)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--report", type=Path, default=PROJECT_ROOT / "data" / "reports")
    parser.add_argument("--no-store", action="store_true", help="do not write to the lake")
    args = parser.parse_args(argv)
    if args.dataset == "skab":
        root = args.path or DEFAULT_SKAB
        print(f"[evaluate] SKAB experiment files under {root}", file=sys.stderr)
        figures: dict = evaluate_skab(root)
        report = skab_report(figures, args.report)
    elif args.dataset == "cmapss":
        root = args.path or DEFAULT_CMAPSS
        print(f"[evaluate] C-MAPSS FD001 under {root}", file=sys.stderr)
        figures = cmapss.evaluate_cmapss(root, start_every=args.start_every)
        report = cmapss.cmapss_report(figures, args.report)
    elif args.dataset == "assets":
        figures = asset_evaluation.evaluate_assets(
            args.assets, args.days, args.seed, args.alert_prob
        )
        report = asset_evaluation.assets_report(figures, args.report)
    else:
        figures = evaluate_simulator(args.sensors, args.hours, args.seed)
        report = simulator_report(figures, args.report)
    print(f"[evaluate] report: {report}", file=sys.stderr)
    if not args.no_store:
        lake_path = Settings.from_env().lake
        store_summary(lake_path, args.dataset, figures)
        print(f"[evaluate] figures appended to `evaluations` in {lake_path}", file=sys.stderr)
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if k != "curve"}))
    elif args.dataset == "skab":
        print(f"{'SKAB (test parts, online)':34}{'ours':>10}   published (offline)")
        best_f1 = ", ".join(f"{k} {v}" for k, v in LEADERBOARD_F1.items())
        best_nab = ", ".join(f"{k} {v}" for k, v in LEADERBOARD_NAB.items())
        print(f"{'outlier F1':34}{figures['f1']:>10}   {best_f1}")
        print(f"{'false-alarm rate FAR %':34}{figures['far_percent']:>10}   Conv-AE 13.55")
        print(f"{'missed-alarm rate MAR %':34}{figures['mar_percent']:>10}   Conv-AE 28.02")
        print(f"{'changepoint NAB standard':34}{figures['nab_standard']:>10}   {best_nab}")
        for profile, nab in figures["nab"].items():
            print(
                f"{'  NAB ' + profile:34}{nab['every_change_point']:>10}   tuned over the "
                f"corpus: {nab['tuned']} (statistic ≥ {nab['threshold']})"
            )
    elif args.dataset == "cmapss":
        published = ", ".join(f"{k} {v}" for k, v in cmapss.PUBLISHED_RMSE.items())
        print(f"{'C-MAPSS FD001 (online)':34}{'ours':>10}   published (offline)")
        print(f"{'RMSE at last cycle (cap 125)':34}{figures['rmse']:>10}   {published}")
        print(f"{'PHM score':34}{figures['score']:>10}   deep CNN 273.7")
        print(f"{'90 % interval coverage':34}{figures['interval_coverage']:>10}")
        print(f"{'median interval width':34}{figures['interval_width_median']:>10}")
        print(f"{'drift events':34}{figures['drift_events']:>10}")
        print(f"{'training, prequential':34}{figures['training_prequential']}")
        print(f"{'time':34}{figures['seconds']:>9}s   {figures['ms_per_reading']} ms/reading")
    elif args.dataset == "assets":
        names = ("failures_scored", "warned_ahead_share", "median_lead_h", "warnings")
        names += ("false_warning_share", "rul_mae_h", "interval_coverage", "brier")
        print(f"{'asset type':14}" + "".join(f"{n[:18]:>20}" for n in names))
        for asset_type, f in {**figures["types"], "all": figures}.items():
            print(f"{asset_type:14}" + "".join(f"{f.get(n)!s:>20}" for n in names))
        print(f"time {figures['seconds']} s")
    else:
        cold = figures["cold_start"]
        for name, part in (("learnt", figures), ("cold start", cold)):
            overall = {k: v for k, v in part.items() if k not in ("kinds", "cold_start")}
            print(f"{name}: " + "  ".join(f"{k}={v}" for k, v in overall.items()))
        print(
            f"{'kind':20}{'labels':>8}{'recall':>9}{'precision':>11}{'F1':>8}{'delay s':>10}"
            f"{'F1 cold start':>15}"
        )
        for kind, k in figures["kinds"].items():
            print(
                f"{kind:20}{k['labels']:>8}{k['recall']:>9}{k['precision']:>11}{k['f1']:>8}"
                f"{k['median_delay_s'] or '-':>10}{cold['kinds'].get(kind, {}).get('f1')!s:>15}"
            )
    return 0


if __name__ == "__main__":
    configure_logging(Settings.from_env())
    raise SystemExit(main())
