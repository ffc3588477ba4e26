"""`python -m dashboard` (`just dashboard`): serve the dashboard on CITY_DASHBOARD_HOST:PORT."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dataflows.settings import Settings

APP = Path(__file__).resolve().parent / "app.py"


def command(settings: Settings) -> list[str]:
    """The Streamlit command line that serves the dashboard for `settings`."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        settings.dashboard_host,
        "--server.port",
        str(settings.dashboard_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def url(settings: Settings) -> str:
    """Where the dashboard is served."""
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}"


if __name__ == "__main__":
    settings = Settings.from_env()
    print(f"dashboard: {url(settings)} (lake {settings.lake})", flush=True)
    cmd = command(settings)
    os.execv(cmd[0], cmd)
