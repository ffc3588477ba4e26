import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dataflows.settings import DEFAULT_LAKE, Settings


def test_defaults_keep_state_under_data_and_listen_on_loopback():
    s = Settings.from_env({})
    assert s.lake == DEFAULT_LAKE and DEFAULT_LAKE.parent.name == "data"
    assert s.dashboard_host == "127.0.0.1"
    assert s.sim_hours is None and s.sim_sensors == 200


def test_every_documented_variable_is_read():
    env = {
        "CITY_LAKE": "/tmp/x",
        "CITY_SIM_SENSORS": "10",
        "CITY_SIM_HOURS": "1.5",
        "CITY_SIM_SPEEDUP": "0",
        "CITY_SIM_SEED": "3",
        "CITY_SIM_START": "2026-01-05T00:00:00Z",
        "CITY_DASHBOARD_PORT": "9000",
    }
    s = Settings.from_env(env)
    assert (s.lake, s.sim_sensors, s.sim_hours, s.sim_speedup, s.sim_seed) == (
        Path("/tmp/x"),
        10,
        1.5,
        0.0,
        3,
    )
    assert s.sim_start == datetime(2026, 1, 5, tzinfo=UTC) and s.dashboard_port == 9000


def test_every_setting_is_documented():
    root = Path(__file__).parent.parent
    names = set(
        re.findall(r'"(CITY_[A-Z0-9_]+)"', (root / "dataflows" / "settings.py").read_text())
    )
    assert len(names) > 60
    reference = (root / "docs" / "configuration.md").read_text()
    reference += (root / "docs" / "kafka.md").read_text()
    assert sorted(name for name in names if f"`{name}`" not in reference) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CITY_SIM_SENSORS", "-1"),
        ("CITY_SIM_ASSETS", "some"),
        ("CITY_SIM_SPEEDUP", "-1"),
        ("CITY_SIM_START", "noon"),
        ("CITY_SIM_SPEEDUP", "nan"),
        ("CITY_DASHBOARD_PORT", "99999"),
        ("CITY_ALERT_CLEAR_SCORE", "7"),
        ("CITY_MAINTENANCE_ALERT_PROB", "1.5"),
        ("CITY_STATE_TTL_S", "inf"),
        ("CITY_KAFKA_SASL_MECHANISM", "PLAIN"),  # without a SASL protocol
    ],
)
def test_bad_values_are_clear_errors(key, value):
    with pytest.raises(ValueError, match=key):
        Settings.from_env({key: value})
