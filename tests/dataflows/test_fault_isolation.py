"""A fault injected at each stage of the real flow costs one record, never the flow.

Each test runs the city flow in-process (Bytewax's `run_main`, the simulator, a real lake)
with one piece broken on purpose, then compares the lake with a run of the same city
without the fault: exactly the records the fault hit are missing, each dead-lettered as
`internal_error` with its position, and the reset of the model they broke is recorded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bytewax.testing import run_main
from river import base

from dataflows import lake
from dataflows.catalogue.load import load_catalogue
from dataflows.flow import city
from dataflows.flow import maintenance as maintenance_logic
from dataflows.flow import sensors as sensor_logic
from dataflows.flow.districts import DistrictLogic
from dataflows.flow.isolation import FlowStopped, StepGuard
from dataflows.settings import Settings
from online_models.anomaly import DEFAULT_PLAN, DETECTORS, DetectorPlan
from online_models.maintenance import RemainingLife
from tests.conftest import city_env, start_flow

ASSETS = tuple(load_catalogue().asset_types)

CITY = {
    "CITY_SIM_SENSORS": "30",
    "CITY_SIM_HOURS": "3",
    "CITY_SIM_SPEEDUP": "0",
    "CITY_SIM_SEED": "11",
    "CITY_SIM_START": "2026-01-05T06:00:00Z",
    "CITY_SIM_ASSETS": "6",
    "CITY_SIM_ASSET_HISTORY_DAYS": "20",
    "CITY_RETENTION_READINGS_DAYS": "0",
    "CITY_SINK_FLUSH_S": "0.2",
    "CITY_COMPACT_EVERY_S": "0",
    # each dead letter on its own: the run takes seconds
    "CITY_DEAD_LETTERS_PER_MINUTE": "1000000",
    "CITY_DEAD_LETTERS_MAX_PER_MINUTE": "1000000",
}


def poisoned(value: float) -> bool:
    """About one value in a hundred and fifty, the same in every run."""
    return round(value * 10) % 151 == 7


def run(lake_path: Path, plan: DetectorPlan = DEFAULT_PLAN) -> dict[str, list[tuple]]:
    settings = Settings.from_env({**CITY, "CITY_LAKE": str(lake_path)})
    run_main(city.build_flow(settings, plan=plan))
    con = lake.connect(lake_path, read_only=True)
    try:
        return {
            "readings": con.sql(
                "SELECT sensor_id, epoch_ms(ts), metric, value FROM readings"
            ).fetchall(),
            "letters": con.sql(
                "SELECT source, position, reason, payload FROM dead_letters"
            ).fetchall(),
            "resets": con.sql(
                "SELECT step, key, what, reason, position FROM model_resets"
            ).fetchall(),
            "alerts": con.sql("SELECT alert_id, sensor_type FROM alerts").fetchall(),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    return run(tmp_path_factory.mktemp("baseline") / "lake")


def missing_readings(baseline: dict, faulty: dict) -> set[tuple[str, int]]:
    """(sensor, ts) of readings stored without the fault and not with it."""
    keys = {(s, t) for s, t, _, _ in baseline["readings"]}
    return keys - {(s, t) for s, t, _, _ in faulty["readings"]}


def internal_errors(result: dict, source: str) -> list[tuple]:
    return [
        letter
        for letter in result["letters"]
        if letter[0] == source and letter[2].startswith("internal_error: ")
    ]


class Poisoned(base.AnomalyDetector):
    """Scores 0; raises on a poisoned value, as a detector with a numerical bug would."""

    def learn_one(self, x: dict) -> None:
        return None

    def score_one(self, x: dict) -> float:
        if poisoned(x["value"]):
            raise FloatingPointError(f"cannot score {x['value']}")
        return 0.0


def test_a_detector_that_raises_costs_the_reading_and_resets_the_sensors_models(
    baseline, tmp_path, monkeypatch
):
    plan = DetectorPlan(
        signals={signal: "poisoned" for signal in DEFAULT_PLAN.signals},
        detectors={**DETECTORS, "poisoned": Poisoned},
    )
    faulty = run(tmp_path / "lake", plan)
    errors = internal_errors(faulty, "sensors")
    assert len(errors) >= 10
    assert all(reason.startswith("internal_error: FloatingPointError: cannot score")
               for _, _, reason, _ in errors)  # fmt: skip
    hit = {(json.loads(p)["sensor_id"], json.loads(p)["ts_ms"]) for *_, p in errors}
    assert missing_readings(baseline, faulty) == hit  # exactly those, nothing else lost
    scored = [v for s, _, _, v in faulty["readings"] if not s.startswith(ASSETS)]
    assert scored and not any(poisoned(v) for v in scored)
    resets = [r for r in faulty["resets"] if r[0] == "sensors"]
    assert sorted(r[4] for r in resets) == sorted(p for _, p, _, _ in errors)
    assert {r[2] for r in resets} == {"models"}


class PoisonedLife(RemainingLife):
    def observe(self, asset_id, t, signals, age):
        if round(signals.get("vibration_rms", 0.0) * 100) % 97 == 5:
            raise ValueError("poisoned vibration")
        return super().observe(asset_id, t, signals, age)


def test_a_maintenance_model_that_raises_costs_the_reading_and_is_reset(
    baseline, tmp_path, monkeypatch
):
    def new_model(horizon_h: float, max_pending: int = 20_000) -> RemainingLife:
        return PoisonedLife(horizon=horizon_h, cap=720.0, max_pending=max_pending)

    monkeypatch.setattr(maintenance_logic, "new_model", new_model)
    faulty = run(tmp_path / "lake")
    errors = internal_errors(faulty, "maintenance")
    assert errors and all("ValueError: poisoned vibration" in e[2] for e in errors)
    hit = {(json.loads(p)["sensor_id"], json.loads(p)["ts_ms"]) for *_, p in errors}
    assert missing_readings(baseline, faulty) == hit
    resets = [r for r in faulty["resets"] if r[0] == "maintenance"]
    assert len(resets) == len(errors) and {r[2] for r in resets} == {"model"}


def test_a_district_step_that_raises_costs_the_change_and_resets_the_district(
    baseline, tmp_path, monkeypatch
):
    opened = DistrictLogic._opened
    failed: list[str] = []

    def fragile(self, district, alert_id, *args):
        if district not in failed:  # each district's first anomaly alert breaks it
            failed.append(district)
            raise KeyError(alert_id)
        return opened(self, district, alert_id, *args)

    monkeypatch.setattr(DistrictLogic, "_opened", fragile)
    faulty = run(tmp_path / "lake")
    errors = internal_errors(faulty, "districts")
    assert len(errors) == len(failed) >= 2
    assert all(e[2].startswith("internal_error: KeyError: ") for e in errors)
    assert missing_readings(baseline, faulty) == set()  # readings are not the district's
    resets = [r for r in faulty["resets"] if r[0] == "districts"]
    assert sorted(r[1] for r in resets) == sorted(failed)
    sensor_alerts = {a for a, kind in baseline["alerts"] if kind != "district"}
    assert sensor_alerts == {a for a, kind in faulty["alerts"] if kind != "district"}


def test_a_row_that_cannot_be_written_is_dead_lettered_and_the_rest_stored(
    baseline, tmp_path, monkeypatch
):
    unit = sensor_logic.sensor_unit
    monkeypatch.setattr(
        sensor_logic,
        "sensor_unit",
        lambda sensor_type, catalogue: (
            {"broken": True} if sensor_type == "energy" else unit(sensor_type, catalogue)
        ),
    )
    faulty = run(tmp_path / "lake")
    errors = internal_errors(faulty, "lake")
    energy = {s for s, *_ in baseline["readings"] if s.startswith("energy")}
    assert {position.removeprefix("sensors:") for _, position, _, _ in errors} == energy
    assert missing_readings(baseline, faulty) == set()


def test_a_validation_that_raises_costs_the_message(baseline, tmp_path, monkeypatch):
    validate = city.validate

    def fragile(raw, source, origin, limits, catalogue):
        if isinstance(raw, dict) and raw.get("sensor_id") == "noise-00003":
            raise RuntimeError("validation bug")
        return validate(raw, source, origin, limits, catalogue)

    monkeypatch.setattr(city, "validate", fragile)
    faulty = run(tmp_path / "lake")
    errors = internal_errors(faulty, "simulator")
    hit = {(json.loads(p)["sensor_id"], json.loads(p)["ts"]) for *_, p in errors}
    assert hit and {s for s, _ in hit} == {"noise-00003"}
    assert missing_readings(baseline, faulty) == hit


def test_a_step_whose_every_record_raises_stops_the_flow_with_one_line(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'score_one'")

    monkeypatch.setattr(sensor_logic.SensorLogic, "_score", broken)
    monkeypatch.setattr(sensor_logic, "StepGuard", lambda step: StepGuard(step, trip_after=50))
    monkeypatch.setattr(city, "StepGuard", lambda step: StepGuard(step, trip_after=50))
    settings = Settings.from_env({**CITY, "CITY_LAKE": str(tmp_path / "lake")})
    with pytest.raises(Exception) as raised:
        run_main(city.build_flow(settings))
    stopped = raised.value
    while stopped is not None and not isinstance(stopped, FlowStopped):
        stopped = stopped.__cause__ or stopped.__context__
    assert stopped is not None, raised.value
    assert "step sensors: 50 records in a row raised" in str(stopped)
    assert "\n" not in str(stopped) and "a bug, not bad data" in str(stopped)


def test_a_lake_that_cannot_be_written_stops_the_flow_with_one_line(tmp_path):
    lake_path = tmp_path / "lake"
    env = city_env(lake_path, CITY_SIM_SENSORS="200", CITY_SIM_HOURS="48", CITY_SIM_ASSETS="0")
    flow = start_flow(env)
    deadline = time.monotonic() + 120
    while lake.count_rows(lake_path) == 0:
        assert flow.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    # Where the Parquet files go becomes a plain file. Moving the folder away is atomic:
    # deleting it races the flow, which keeps writing into it.
    (lake_path / "files").rename(tmp_path / "files-moved-away")
    (lake_path / "files").write_text("not a folder")
    _, stderr = flow.communicate(timeout=120)
    assert flow.returncode != 0
    (line,) = [line for line in stderr.splitlines() if "stopping the flow" in line]
    assert (
        f"CRITICAL dataflows.sinks.lake: stopping the flow: cannot write to the lake at {lake_path}"
        in line
    )
