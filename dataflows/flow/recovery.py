"""Bytewax recovery for the city flow: its store, one folder per source and lake.

The recovery store lives in `CITY_RECOVERY_DIR` (default `data/recovery`), in a folder per
source and lake, so a flow on another lake or source never resumes this one's state. It is
created on first use; snapshots are taken every `CITY_SNAPSHOT_S` seconds.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from dataflows.lake.address import LakeAddress
from dataflows.settings import Settings

FLOW = "dataflows.flow.city:build_flow()"
"""The flow's factory, as `python -m bytewax.run` takes it."""

RECOVERY_PARTITIONS = 1


def recovery_store(settings: Settings) -> Path:
    """The recovery folder of this source and lake (created with its partitions if missing)."""
    address = LakeAddress.from_settings(settings)
    where = str(address) if address.on_server else str(settings.lake.resolve())
    lake_id = hashlib.sha1(where.encode()).hexdigest()[:10]
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
