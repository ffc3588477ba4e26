"""`just chaos`: kill the Kafka flow with SIGKILL at random moments and check the lake.

    just chaos [--restarts 10] [--sensors 100] [--assets 10] [--hours 48] [--seed N]
               [--bootstrap HOST:PORT] [--hostile-every 50]

What is produced, killed and checked is `dataflows.bench.chaos`. The last line reads
`restarts=N lost=N duplicated=N aggregates_ok=true|false hostile=N dead_lettered=N`; the exit
code is non-zero unless nothing was lost or duplicated, the aggregates are right and every
hostile message was dead-lettered once.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dataflows.bench.chaos import _say, chaos
from dataflows.cli import console


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--hours", type=float, default=48.0, help="simulated hours")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--bootstrap", help="use this broker instead of a temporary one")
    parser.add_argument("--hostile-every", type=int, default=50, help="0: no hostile messages")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="city-chaos-") as folder:
        result = chaos(
            args.restarts,
            args.sensors,
            args.hours,
            args.seed,
            args.bootstrap,
            Path(folder),
            args.assets,
            args.hostile_every,
        )
    if result["unexpected"]:
        _say(f"{result['unexpected']} readings in the lake were never produced")
    ok = str(result["aggregates_ok"]).lower()
    print(
        f"restarts={result['restarts']} lost={result['lost']} "
        f"duplicated={result['duplicated']} aggregates_ok={ok} "
        f"hostile={result['hostile']} dead_lettered={result['dead_lettered']}"
    )
    good = not (result["lost"] or result["duplicated"] or result["unexpected"])
    good = good and result["dead_lettered"] == result["hostile"]
    return 0 if good and result["aggregates_ok"] else 1


run = console(main)


if __name__ == "__main__":
    run()
