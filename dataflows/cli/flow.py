"""`just flow`: run the city flow with Bytewax recovery on (`CITY_RECOVERY=false` turns it off).

    python -m dataflows.cli.flow [BYTEWAX ARGS]     # e.g. -w 2, or -i 0 -a "h1:2101;h2:2101"

Settings, the catalogue and, for the Kafka source, the broker and topics are checked first
(`dataflows.cli.startup`): a problem is one line and exit code 2. After a crash or
`kill -9`, the same command resumes from the last snapshot: the source from its position,
the models, open minutes and alert episodes from their state, and the lake sink writes
every result exactly once. Delete the store (`just reset-recovery`) to start afresh;
`dataflows.flow.recovery` says where it lives.
"""

from __future__ import annotations

import os
import sys

from dataflows.cli import console
from dataflows.cli.startup import check
from dataflows.flow.recovery import command
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings.from_env()
    check(settings)
    cmd = command(settings, args)
    if settings.recovery:
        print(f"[flow] recovery store: {cmd[cmd.index('-r') + 1]}", file=sys.stderr, flush=True)
    os.execv(cmd[0], cmd)
    return 0  # not reached: the process is now the flow's


run = console(main, "flow")


if __name__ == "__main__":
    run()
