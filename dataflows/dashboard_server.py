"""Serving the dashboard as a process: its Streamlit command line, URL and exposure warning.

`just dashboard` and `just demo` both start it with `command`; the flow's side never
imports the dashboard's code. The dashboard has no login: served beyond loopback, anyone
who reaches the port sees the city's data and can acknowledge its alerts, so
`exposure_warning` says so.
"""

from __future__ import annotations

import ipaddress
import sys

from dataflows.settings import PROJECT_ROOT, Settings

APP = PROJECT_ROOT / "dashboard" / "app.py"
"""The dashboard's Streamlit app (started as a process: nothing here imports it)."""


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
        # as in .streamlit/config.toml, which is read only when started from the project:
        # no deploy, rerun or cache buttons, no tracebacks in the browser, no info logging
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "none",
        "--logger.level",
        "warning",
    ]


def exposure_warning(settings: Settings) -> str | None:
    """A warning if the dashboard would be served beyond this machine, else None.

    >>> exposure_warning(Settings(dashboard_host="127.0.0.1")) is None
    True
    >>> exposure_warning(Settings(dashboard_host="0.0.0.0"))[:40]
    'warning: CITY_DASHBOARD_HOST=0.0.0.0 ser'
    """
    host = settings.dashboard_host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        loopback = False
    if loopback:
        return None
    return (
        f"warning: CITY_DASHBOARD_HOST={host} serves the dashboard beyond this machine; it has "
        "no login, so anyone who reaches the port sees the lake and can act on alerts "
        "(put it behind an authenticating proxy, or keep 127.0.0.1)"
    )


def url(settings: Settings) -> str:
    """Where the dashboard is served."""
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}"
