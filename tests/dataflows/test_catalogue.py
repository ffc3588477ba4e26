"""The sensor catalogue: its checks, and a new type added by a catalogue edit alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaProducer
from streamlit.testing.v1 import AppTest

from dataflows import lake
from dataflows.catalogue.load import DEFAULT_CATALOGUE, CatalogueError, load_catalogue
from dataflows.kafka import client as kafka_io
from dataflows.messages.schema import validate
from dataflows.settings import Settings
from dataflows.simulator.city import SIMULATED_METRICS
from tests.conftest import ROOT, kafka_env, run_flow

PARKING = """
[types.parking]
description = "parking bay occupancy"
interval_s = 300

[types.parking.metrics.occupied_bays]
unit = "bays"
low = 0
high = {high}
signal = "count"
description = "occupied bays of the car park"

[types.parking.metrics.free_share]
unit = "%"
low = 0
high = 100
detector = "seasonal_zscore+flatline"
description = "share of free bays"
"""


def city_catalogue(folder: Path, high: int = 100) -> Path:
    """The default catalogue plus a `parking` type: what a city appends to add one."""
    path = folder / "city.toml"
    path.write_text(DEFAULT_CATALOGUE.read_text() + PARKING.format(high=high))
    return path


def problem(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError) as error:
        load_catalogue(path)
    return str(error.value).removeprefix(f"{path}:")


def test_the_default_catalogue_lists_what_the_simulator_makes():
    catalogue = load_catalogue()
    for sensor_type, metrics in SIMULATED_METRICS.items():
        assert tuple(m.name for m in catalogue.metrics(sensor_type)) == metrics
    assert catalogue.asset_types == {"pump", "lift", "escalator", "fan", "streetlight"}
    assert all(m.signal == "condition" for t in catalogue.asset_types
               for m in catalogue.metrics(t))  # fmt: skip


def test_a_new_type_is_validated_by_its_catalogue_entry(tmp_path):
    catalogue = load_catalogue(city_catalogue(tmp_path))
    message = {"sensor_id": "park-1", "type": "parking", "ts": 1767600000000,
               "values": {"occupied_bays": 140, "free_share": 30.0}}  # fmt: skip
    reading, rejected = validate(message, "test", catalogue=catalogue)
    assert reading.values == {"free_share": 30.0}
    assert [d.reason for d in rejected] == ["out_of_range: occupied_bays outside [0, 100] bays"]
    assert validate(message, "test")[1][0].reason == "unknown_type: 'parking'"  # the default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[types.a]\n[types.a.metrics.x]\nunit = 'm'\nlow = 0\nhigh = 1\ncolour = 2\n",
         "6: types.a.metrics.x.colour: unknown field"),
        ("[types.a]\n[types.a.metrics.x]\nunit = 'm'\nlow = 0\nhigh = 1\nsignal = 'wavy'\n",
         "6: types.a.metrics.x.signal: unknown signal 'wavy'"),
        ("[types.a]\n[types.a.metrics.x]\nunit = 'm'\nlow = 0\nhigh = 1\ndetector = 'magic'\n",
         "6: types.a.metrics.x.detector: unknown detector 'magic'"),
        ("[types.a]\ninterval_s = 60\n\n[types.a.metrics.x]\nunit = 'm'\nhigh = 1\n",
         "4: types.a.metrics.x.low: missing"),
        ("[types.a]\ninterval_s = -5\n[types.a.metrics.x]\nunit = 'm'\nlow = 0\nhigh = 1\n",
         "2: types.a.interval_s: must be positive"),
        ("[types.a]\nasset = true\n[types.a.metrics.x]\nunit = 'm'\nlow = 0\nhigh = 1\n"
         "signal = 'count'\n", "7: types.a.metrics.x.signal: an asset's metrics are"),
        ("[types.Bad-Name]\n", "1: types.Bad-Name: a type name is lower-case"),
        ("[types.a]\ndescription = 'no metrics'\n", "1: types.a: no metrics"),
        ("[types.a]\nunit = = 'x'\n", "2: not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_catalogue_names_its_line_and_field(tmp_path, text, expected):
    assert problem(tmp_path, text).startswith(expected)


def test_a_missing_catalogue_says_so(tmp_path):
    with pytest.raises(CatalogueError, match="nowhere.toml: cannot read the catalogue"):
        load_catalogue(tmp_path / "nowhere.toml")


@pytest.mark.parametrize("command", ["flow", "demo", "replay"])
def test_a_bad_catalogue_stops_a_command_at_start_with_one_line(tmp_path, command):
    env = {"PATH": "/usr/bin:/bin", "CITY_CATALOGUE": str(tmp_path / "nowhere.toml"),
           "CITY_LAKE": str(tmp_path / "lake")}  # fmt: skip
    args = [str(tmp_path / "*.csv")] if command == "replay" else []
    (tmp_path / "a.csv").write_text("timestamp,value\n2026-01-05T00:00:00Z,1\n")
    result = subprocess.run(
        [sys.executable, "-m", f"dataflows.cli.{command}", *args], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1:] == [
        f"[{command}] error: {tmp_path / 'nowhere.toml'}: cannot read the catalogue:"
        " No such file or directory"
    ]


def parking_messages(start_ms: int, count: int, sensors: int = 2) -> list[dict]:
    return [
        {"sensor_id": f"park-{s}", "type": "parking", "ts": start_ms + 300_000 * i,
         "district": "Centre", "lat": 52.37, "lon": 4.89,
         "values": {"occupied_bays": float(40 + (i * 7 + s) % 30), "free_share": 50.0 + i % 5}}
        for i in range(count)
        for s in range(sensors)
    ]  # fmt: skip


def send(kafka, topic: str, messages: list[dict]) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for message in messages:
        producer.send(topic, json.dumps(message).encode(), key=message["sensor_id"].encode())
    producer.flush()
    producer.close()


@pytest.mark.kafka
def test_a_type_added_to_the_catalogue_runs_end_to_end_and_a_wider_range_keeps_the_models(
    kafka, tmp_path, monkeypatch
):
    topic = "catalogue.readings"
    catalogue = city_catalogue(tmp_path, high=100)
    env = kafka_env(kafka, tmp_path, topic, CITY_CATALOGUE=str(catalogue))
    kafka_io.ensure_topic(Settings.from_env({"CITY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}),
                          topic, 1)  # fmt: skip
    t0 = 1767600000000
    first = parking_messages(t0, 150)
    over = dict(first[-1], ts=first[-1]["ts"] + 300_000, values={"occupied_bays": 150.0})
    send(kafka, topic, [*first, over])
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"],
                   check=True, cwd=ROOT)  # fmt: skip
    args = ["-r", str(recovery), "-s", "1", "-b", "0"]
    run_flow(env, *args)
    con = lake.connect(tmp_path / "lake", read_only=True)
    assert con.sql("SELECT count(*) FROM readings").fetchone()[0] == 2 * len(first)
    assert con.sql("SELECT reason FROM dead_letters").fetchall() == [
        ("out_of_range: occupied_bays outside [0, 100] bays",)
    ]
    assert con.sql(
        "SELECT metric, unit, high, signal, detector FROM metrics"
        " WHERE sensor_type = 'parking' ORDER BY metric"
    ).fetchall() == [
        ("free_share", "%", 100.0, "rhythmic", "seasonal_zscore+flatline"),
        ("occupied_bays", "bays", 100.0, "count", None),
    ]
    con.close()

    # widen the range and restart from the same recovery store
    city_catalogue(tmp_path, high=200)
    later = parking_messages(over["ts"] + 300_000, 10)
    again = dict(first[-1])  # a timestamp park-1 reported before the restart
    send(kafka, topic, [*later, dict(later[-1], ts=later[-1]["ts"] + 300_000,
                                     values={"occupied_bays": 150.0}), again])  # fmt: skip
    run_flow(env, *args)
    con = lake.connect(tmp_path / "lake", read_only=True)
    assert (
        con.sql("SELECT count(*) FROM readings").fetchone()[0]
        == 2 * len(first) + 2 * len(later) + 1
    )
    assert con.sql("SELECT value FROM readings WHERE value = 150").fetchall() == [(150.0,)]
    # the sensor's state came back from recovery: it knows what it reported before
    reasons = [r for (r,) in con.sql("SELECT reason FROM dead_letters ORDER BY 1").fetchall()]
    assert reasons[0].startswith("duplicate: the sensor already reported this timestamp")
    assert con.sql(
        "SELECT high FROM metrics WHERE sensor_type = 'parking' AND metric = 'occupied_bays'"
    ).fetchone() == (200.0,)
    con.close()

    # the dashboard's filters and drill-down know the new type
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "lake"))
    views = ROOT / "dashboard" / "views"
    alerts = AppTest.from_file(str(views / "alerts.py"), default_timeout=60).run()
    assert not alerts.exception
    assert "parking" in alerts.multiselect(key="alert_types").options
    sensor = AppTest.from_file(str(views / "sensor.py"), default_timeout=60)
    sensor.query_params["sensor"] = "park-1"
    sensor.run()
    assert not sensor.exception
    assert sensor.selectbox(key="sensor_metric").options == ["free_share", "occupied_bays"]
    assert "parking in Centre · units: occupied_bays bays, free_share %" in [
        c.value for c in sensor.caption
    ]


def test_an_asset_type_with_its_own_horizon_warns_over_it(tmp_path):
    from dataflows.flow.city import maintenance_config
    from dataflows.flow.maintenance import MaintenanceLogic

    path = tmp_path / "city.toml"
    path.write_text(DEFAULT_CATALOGUE.read_text().replace(
        '[types.fan]\ndescription = "ventilation fan (tunnels, car parks)"\nasset = true\n',
        '[types.fan]\ndescription = "ventilation fan (tunnels, car parks)"\nasset = true\n'
        "horizon_h = 24\n",
    ))  # fmt: skip
    config = maintenance_config(Settings.from_env({}), load_catalogue(path))
    logic = MaintenanceLogic(config)
    assert logic._new_model("fan").horizon == 24.0
    assert logic._new_model("pump").horizon == Settings.from_env({}).maintenance_horizon_h
