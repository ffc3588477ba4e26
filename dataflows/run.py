"""`just flow`: run the city flow with Bytewax recovery on (`CITY_RECOVERY=false` turns it off).

    python -m dataflows.run [BYTEWAX ARGS]     # e.g. -w 2, or -i 0 -a "h1:2101;h2:2101"

The recovery store lives in `CITY_RECOVERY_DIR` (default `data/recovery`), in a folder per
source and lake, so a flow on another lake or source never resumes this one's state. It is
created on first use; snapshots are taken every `CITY_SNAPSHOT_S` seconds. After a crash or
`kill -9`, the same command resumes from the last snapshot: the source from its position,
the models, open minutes and alert episodes from their state, and the lake sink writes
every result exactly once. Delete the folder (`just reset-recovery`) to start afresh.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from dataflows.settings import Settings

FLOW = "dataflows.city:build_flow()"
RECOVERY_PARTITIONS = 1


def recovery_store(settings: Settings) -> Path:
    """The recovery folder of this source and lake (created with its partitions if missing)."""
    lake_id = hashlib.sha1(str(settings.lake.resolve()).encode()).hexdigest()[:10]
    folder = settings.recovery_dir / f"{settings.source}-{lake_id}"
    if not (folder / "part-0.sqlite3").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "bytewax.recovery", str(folder), str(RECOVERY_PARTITIONS)],
            check=True,
        )
    return folder


def command(settings: Settings, bytewax_args: list[str]) -> list[str]:
    """The `bytewax.run` command line, with recovery options unless recovery is off."""
    cmd = [sys.executable, "-m", "bytewax.run", FLOW, *bytewax_args]
    if settings.recovery:
        store = recovery_store(settings)
        cmd += ["-r", str(store), "-s", f"{settings.snapshot_s:g}", "-b", "0"]
    return cmd


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings.from_env()
    cmd = command(settings, args)
    if settings.recovery:
        print(f"[flow] recovery store: {cmd[cmd.index('-r') + 1]}", file=sys.stderr, flush=True)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
