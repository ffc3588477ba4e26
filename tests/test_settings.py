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


def test_every_setting_is_documented_as_declared():
    from dataflows.settings import markdown, specs

    root = Path(__file__).parent.parent
    assert len(specs()) > 60
    pages = (("configuration", "configuration.md"), ("kafka", "kafka.md"), ("lake", "lake.md"))
    for group, page in pages:
        assert markdown(group) in (root / "docs" / page).read_text(), (
            f"docs/{page} is out of date: paste `python -m dataflows.cli.settings {group}`"
        )
    # nothing reads a CITY_ variable that is not declared
    declared = {spec.env for _, spec in specs()} | {
        f"{spec.env}_FILE" for _, spec in specs() if spec.secret
    }
    read = set()
    for path in (root / "dataflows").rglob("*.py"):
        read |= set(re.findall(r'"(CITY_[A-Z0-9_]+)"', path.read_text()))
    assert read - declared == set()


def test_each_declared_setting_is_read_from_its_variable():
    from dataflows.settings import specs

    defaults = Settings.from_env({})
    for name, spec in specs():
        default = getattr(defaults, name)
        if spec.choices:
            value = next(c for c in spec.choices if c != default)
        elif isinstance(default, bool):
            value = str(not default).lower()
        elif spec.minimum is not None or isinstance(default, int | float):
            low = spec.minimum if spec.minimum is not None else 0
            high = spec.maximum if spec.maximum is not None else 1e6
            value = next(
                v
                for v in ("3", "0.25", "100", "2000")
                if low <= float(v) <= high
                and (isinstance(default, float) or "." not in v)
                and float(v) != default
            )
        elif name == "sim_start":
            value = "2026-01-05T00:00:00Z"
        else:
            value = "/tmp/elsewhere" if isinstance(default, Path) else "other-value"
        env = {spec.env: value}
        if name == "kafka_security_protocol" and value.startswith("SASL_"):
            env["CITY_KAFKA_SASL_MECHANISM"] = "PLAIN"
        if name == "kafka_sasl_mechanism":
            env["CITY_KAFKA_SECURITY_PROTOCOL"] = "SASL_SSL"
        assert getattr(Settings.from_env(env), name) != getattr(defaults, name), spec.env


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
