"""`python -m dashboard` (`just dashboard`): serve the dashboard on CITY_DASHBOARD_HOST:PORT."""

from __future__ import annotations

import os
import sys

from dataflows.dashboard_server import command, exposure_warning, url
from dataflows.lake.address import LakeAddress
from dataflows.settings import Settings


def main() -> None:
    """Serve the dashboard: Streamlit takes this process over."""
    settings = Settings.from_env()
    warning = exposure_warning(settings)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    print(f"dashboard: {url(settings)} (lake {LakeAddress.from_settings(settings)})", flush=True)
    cmd = command(settings)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
