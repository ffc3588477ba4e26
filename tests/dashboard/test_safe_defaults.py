"""The dashboard's safe defaults hold however it is started."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from dataflows import dashboard_server
from dataflows.settings import Settings
from tests.conftest import ROOT


def test_the_committed_streamlit_config_hides_error_details_and_developer_tools():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"] == {"showErrorDetails": "none", "toolbarMode": "minimal"}
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["address"] == "127.0.0.1"
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # what `streamlit run dashboard/app.py` from the project folder gets
    for line in (
        'showErrorDetails = "none"',
        'toolbarMode = "minimal"',
        "gatherUsageStats = false",
    ):
        assert f"\n{line}\n" in shown


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_is_served_quietly(host):
    assert dashboard_server.exposure_warning(Settings(dashboard_host=host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "dashboard.city.example"])
def test_any_other_host_gets_a_warning(host):
    warning = dashboard_server.exposure_warning(Settings(dashboard_host=host))
    assert warning.startswith(f"warning: CITY_DASHBOARD_HOST={host} ") and "no login" in warning
