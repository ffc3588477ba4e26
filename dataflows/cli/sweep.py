"""`python -m dataflows.cli.sweep`: candidate default detectors, side by side.

    python -m dataflows.cli.sweep [--sensors 200] [--hours 336] [--seed 7] [--json]
    python -m dataflows.cli.sweep skab [PATH] [--json]
    python -m dataflows.cli.sweep gecco [PATH] [--json]
    python -m dataflows.cli.sweep datasets [--datasets skab,gecco,zoo,simulator]
        [--candidates shift_cusum,calibrated_level_cusum,...] [--json]

`--candidates` takes the detector names of `CANDIDATES` (default: every one), so that a long
sweep can be split over processes. What each candidate is and how it is run is
`dataflows.evaluation.sweep`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dataflows.cli import console
from dataflows.evaluation.gecco import DEFAULT_GECCO
from dataflows.evaluation.skab import DEFAULT_SKAB
from dataflows.evaluation.sweep import (
    CANDIDATES,
    TARGETS,
    sweep,
    sweep_datasets,
    sweep_gecco,
    sweep_skab,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset",
        nargs="?",
        default="simulator",
        choices=["simulator", "skab", "gecco", "datasets"],
    )
    parser.add_argument("path", nargs="?", type=Path, help="skab and gecco only")
    parser.add_argument("--sensors", type=int, default=200, help="simulator only")
    parser.add_argument("--hours", type=float, default=336.0, help="simulator only")
    parser.add_argument("--seed", type=int, default=7, help="simulator only")
    parser.add_argument(
        "--datasets",
        default="skab,gecco,zoo,simulator",
        help="datasets only: which, comma-separated",
    )
    parser.add_argument(
        "--candidates",
        help="datasets only: which candidates, by detector name, comma-separated (default all)",
    )
    parser.add_argument("--skab", type=Path, default=DEFAULT_SKAB, help="datasets only")
    parser.add_argument("--gecco", type=Path, default=DEFAULT_GECCO, help="datasets only")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.dataset == "skab":
        rows = sweep_skab(args.path or DEFAULT_SKAB)
    elif args.dataset == "gecco":
        rows = sweep_gecco(args.path or DEFAULT_GECCO)
    elif args.dataset == "datasets":
        chosen = tuple(d for d in args.datasets.split(",") if d)
        unknown = set(chosen) - set(TARGETS)
        if unknown:
            parser.error(f"unknown datasets {sorted(unknown)}; known: {sorted(TARGETS)}")
        wanted = set(args.candidates.split(",")) if args.candidates else set(CANDIDATES.values())
        unknown = wanted - set(CANDIDATES.values())
        if unknown:
            parser.error(
                f"unknown candidates {sorted(unknown)}; known: {list(CANDIDATES.values())}"
            )
        candidates = {name: b for name, b in CANDIDATES.items() if b in wanted}
        rows = sweep_datasets(chosen, {"skab": args.skab, "gecco": args.gecco}, candidates)
    else:
        rows = sweep(args.sensors, args.hours, args.seed)
    if args.json:
        print(json.dumps(rows))
        return 0
    columns = [c for c in rows[0] if c != "candidate"]
    print(f"{'candidate':44}" + "".join(f"{c[:15]:>16}" for c in columns))
    for row in rows:
        print(f"{row['candidate']:44}" + "".join(f"{row[c]!s:>16}" for c in columns))
    return 0


run = console(main)


if __name__ == "__main__":
    run()
