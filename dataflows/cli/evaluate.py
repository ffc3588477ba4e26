"""`just evaluate skab|simulator|cmapss|gecco|assets`: how the models do on labelled streams.

    just evaluate skab [PATH] [--json]
    just evaluate gecco [PATH] [--json]
    just evaluate zoo [--seed 42 | --seeds 0-9] [--scored-from DAYS] [--step S] [--days N]
                      [--json]
    just evaluate simulator [--sensors 200] [--hours 336] [--seed 42] [--json]
    just evaluate cmapss [PATH] [--start-every N] [--json]
    just evaluate assets [--assets 100] [--days 180] [--seed 42] [--alert-prob P] [--shards N]
                         [--json]

Each evaluation runs the city flow into a temporary lake, prints its figures (or one JSON
object with `--json`), writes an HTML report with a table and Plotly charts (`--report`,
default `data/reports/`) and appends the figures to the `evaluations` table of the lake of
`CITY_LAKE` (`--no-store` to skip). Each dataset's protocol is its module of
`dataflows.evaluation`: `skab`, `simulator`, `cmapss`, `gecco`, `assets`, `zoo`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dataflows.cli import console
from dataflows.evaluation import assets as asset_evaluation
from dataflows.evaluation import cmapss
from dataflows.evaluation.cmapss import DEFAULT_CMAPSS
from dataflows.evaluation.gecco import DEFAULT_GECCO, evaluate_gecco, gecco_report
from dataflows.evaluation.report import store_summary
from dataflows.evaluation.simulator import evaluate_simulator, simulator_report
from dataflows.evaluation.skab import (
    DEFAULT_SKAB,
    LEADERBOARD_F1,
    LEADERBOARD_NAB,
    evaluate_skab,
    skab_report,
)
from dataflows.evaluation.zoo import COLUMNS as ZOO_COLUMNS
from dataflows.evaluation.zoo import (
    SEED_COLUMNS,
    evaluate_zoo,
    evaluate_zoo_seeds,
    zoo_report,
    zoo_seeds_report,
)
from dataflows.lake.address import LakeAddress
from dataflows.settings import PROJECT_ROOT, Settings
from online_models.evaluation.zoo import DAYS, MAX_STEP_S, STEP_S, WARMUP_DAYS, check_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset",
        nargs="?",
        default="skab",
        choices=["skab", "simulator", "cmapss", "assets", "gecco", "zoo"],
    )
    parser.add_argument("path", nargs="?", type=Path, help="data folder (skab, cmapss, gecco)")
    parser.add_argument(
        "--start-every",
        type=int,
        default=None,
        help="cmapss only: start a training engine every N cycles (default: one after another)",
    )
    parser.add_argument("--sensors", type=int, default=200, help="simulator only")
    parser.add_argument("--hours", type=float, default=336.0, help="simulator only")
    parser.add_argument("--seed", type=int, default=42, help="simulator, assets, zoo")
    parser.add_argument(
        "--seeds",
        type=_seeds,
        help="zoo only: several seeds, as 0-9 or 0,7,42; the worst over them",
    )
    parser.add_argument(
        "--scored-from",
        type=float,
        default=WARMUP_DAYS,
        help=f"zoo only: score from this day of each stream (default {WARMUP_DAYS}, the warm-up)",
    )
    parser.add_argument(
        "--step", type=int, default=STEP_S, help=f"zoo only: seconds between readings ({STEP_S})"
    )
    parser.add_argument("--assets", type=int, default=100, help="assets only")
    parser.add_argument(
        "--days", type=float, help=f"assets: days simulated (180); zoo: days a stream ({DAYS})"
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=1,
        help="assets only: RUL models per asset type (CITY_MAINTENANCE_SHARDS)",
    )
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
    zoo_days = DAYS if args.days is None else int(args.days)
    if args.dataset == "zoo":
        try:
            check_size(args.step, zoo_days)
        except ValueError:
            parser.error(f"zoo: --step 1 to {MAX_STEP_S} s and --days {WARMUP_DAYS + 3} or more")
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
    elif args.dataset == "gecco":
        root = args.path or DEFAULT_GECCO
        print(f"[evaluate] GECCO 2018 station file under {root}", file=sys.stderr)
        figures = evaluate_gecco(root)
        report = gecco_report(figures, args.report)
    elif args.dataset == "zoo" and args.seeds:
        print(f"[evaluate] the signal zoo, seeds {args.seeds}", file=sys.stderr)
        figures = evaluate_zoo_seeds(
            args.seeds, scored_from_days=args.scored_from, step_s=args.step, days=zoo_days
        )
        report = zoo_seeds_report(figures, args.report)
    elif args.dataset == "zoo":
        print(f"[evaluate] the signal zoo, seed {args.seed}", file=sys.stderr)
        figures = evaluate_zoo(
            args.seed, scored_from_days=args.scored_from, step_s=args.step, days=zoo_days
        )
        report = zoo_report(figures, args.report)
    elif args.dataset == "assets":
        figures = asset_evaluation.evaluate_assets(
            args.assets,
            180.0 if args.days is None else args.days,
            args.seed,
            args.alert_prob,
            shards=args.shards,
        )
        report = asset_evaluation.assets_report(figures, args.report)
    else:
        figures = evaluate_simulator(args.sensors, args.hours, args.seed)
        report = simulator_report(figures, args.report)
    print(f"[evaluate] report: {report}", file=sys.stderr)
    if not args.no_store:
        address = LakeAddress.from_settings(Settings.from_env())
        store_summary(address, args.dataset, figures)
        print(f"[evaluate] figures appended to `evaluations` in {address}", file=sys.stderr)
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if k not in ("curve", "series")}))
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
        names: tuple[str, ...] = ("failures_scored", "warned_ahead_share", "median_lead_h")
        names += ("warnings",)
        names += ("false_warning_share", "rul_mae_h", "interval_coverage", "brier")
        print(f"{'asset type':14}" + "".join(f"{n[:18]:>20}" for n in names))
        for asset_type, f in {**figures["types"], "all": figures}.items():
            print(f"{asset_type:14}" + "".join(f"{f.get(n)!s:>20}" for n in names))
        print(f"time {figures['seconds']} s")
    elif args.dataset == "zoo" and args.seeds:
        print(f"{'':8}" + "".join(f"{n[:17]:>19}" for n in SEED_COLUMNS))
        for seed, f in figures["seeds"].items():
            print(f"{seed:8}" + "".join(f"{f[n]!s:>19}" for n in SEED_COLUMNS))
        print(
            f"worst: {figures['worst']} ({figures['worst_normal_high_share']}); NAB mean "
            f"{figures['nab_standard_mean']}, lowest {figures['nab_standard_min']}, tuned mean "
            f"{figures['nab_tuned_mean']}; found {figures['detected']} of {figures['anomalies']}"
        )
    elif args.dataset == "zoo":
        print(f"{'shape':22}" + "".join(f"{n[:17]:>19}" for n in ZOO_COLUMNS))
        for shape, f in {**figures["shapes"], "all": figures}.items():
            print(f"{shape:22}" + "".join(f"{f[n]!s:>19}" for n in ZOO_COLUMNS))
        print(
            f"NAB tuned over the zoo {figures['nab_tuned']} (score >= {figures['nab_threshold']})"
        )
    elif args.dataset == "gecco":
        names = ("f1", "precision", "recall", "flagged_share", "tuned_threshold", "tuned_f1")
        names += ("oracle_f1", "events", "detected", "median_delay_s", "false_alarms_per_day")
        print(f"GECCO 2018, scored half ({figures['scored_rows']:,} rows, online)")
        for name in names:
            print(f"  {name:28}{figures[name]!s:>12}")
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


def _seeds(text: str) -> list[int]:
    """`0-9` or `0,7,42` as a list of seeds.

    >>> _seeds("0-3"), _seeds("0,7,42")
    ([0, 1, 2, 3], [0, 7, 42])
    """
    try:
        if "-" in text.strip("-"):
            first, last = text.split("-", 1)
            return list(range(int(first), int(last) + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds as 0-9 or 0,7,42, not {text!r}") from None


run = console(main)


if __name__ == "__main__":
    run()
