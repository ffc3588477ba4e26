"""What every evaluation shares: a scratch lake, with nothing deleted while it is scored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dataflows.settings import Settings


def scratch_settings(folder: str, env: dict[str, str] | None = None) -> Settings:
    """Settings for a run into the temporary lake `folder` (no deletion, compaction or metrics)."""
    return replace(
        Settings.from_env(env or {}),
        lake=Path(folder),
        retention_readings_days=0.0,
        retention_aggregates_days=0.0,
        retention_dead_letters_days=0.0,
        compact_every_s=0.0,
        metrics_port=0,
    )
