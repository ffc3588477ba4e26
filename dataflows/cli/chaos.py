"""`just chaos`: kill the Kafka flow with SIGKILL at random moments and check the lake.

With a real broker (a temporary one, or `--bootstrap HOST:PORT`), a known stream is
produced, then the Kafka flow runs with recovery (`dataflows.cli.flow`) and is killed with
SIGKILL at random moments `--restarts` times, restarted each time, and finally run to the
end. The lake is then compared with what was produced: readings (of sensors and assets)
lost, readings duplicated, rows of the maintenance tables written twice (by their natural
keys), and whether every one-minute aggregate equals a recomputation from the raw readings.
A hostile message (`dataflows.messages.hostile`) follows every `--hostile-every` messages
(50; 0 for none): each must be dead-lettered exactly once, and none may stop the flow (the
dead-letter rate limits are lifted so that each can be counted). The last line reads
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
from dataflows.logs import configure_logging
from dataflows.settings import Settings


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


def run() -> None:
    """The console command: logging configured, then `main` with the command line."""
    configure_logging(Settings.from_env())
    raise SystemExit(main())


if __name__ == "__main__":
    run()
