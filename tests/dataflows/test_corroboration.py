"""City events: several sensors of a district anomalous together make one alert."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from dataflows import lake
from dataflows.evaluation import simulator_scoring
from dataflows.flow.districts import DistrictLogic
from tests.conftest import ROOT, FlowRun, city_env, run_flow

MIN = 60_000


def opened(sensor: str, minute: float, sensor_type: str = "traffic_loop") -> tuple:
    ts = int(minute * MIN)
    return ("Harbour", "open", f"{sensor}@{ts}", sensor, sensor_type, ts, 0.9, ("p", ts))


def closed(sensor: str, opened_minute: float, minute: float) -> tuple:
    alert_id = f"{sensor}@{int(opened_minute * MIN)}"
    return ("Harbour", "close", alert_id, sensor, "traffic_loop", int(minute * MIN), 0.9, None)


def run(changes: list[tuple], min_sensors: int = 3) -> list:
    logic = DistrictLogic(window_ms=30 * MIN, min_sensors=min_sensors)
    return [logic.on_batch([change])[0][0] for change in changes]


def test_lone_sensors_and_spread_out_alerts_make_no_city_event():
    out = run([opened("a", 0), opened("a", 5), opened("b", 10), opened("c", 50)])
    assert not any(rows.alerts for rows in out)  # a twice, b, then c 50 min after a


def test_sensors_of_unrelated_types_together_make_no_city_event():
    out = run([opened("e", 0, "energy"), opened("w", 5, "water"), opened("q", 10, "air_quality")])
    assert not any(rows.alerts for rows in out)


def test_an_event_of_one_type_takes_in_the_other_types_open_with_it():
    out = run(
        [
            opened("n", 0, "noise"),
            opened("a", 5),
            opened("b", 10),
            opened("old", -40, "energy"),  # opened before the window: not a member
            opened("c", 15),
        ]
    )
    (event,) = [a for rows in out for a in rows.alerts]
    assert event[0] == "Harbour@0:city_event" and event[4] == "noise,traffic_loop"
    members = [member for rows in out for _, member in rows.alert_groups]
    assert members == ["n@0", "a@300000", "b@600000", "c@900000"]


def test_three_sensors_together_make_one_event_that_later_alerts_join():
    out = run(
        [
            opened("a", 0),
            opened("b", 10),
            opened("c", 20),  # three sensors within 30 minutes: an event
            opened("d", 90),  # joins the open event
            closed("a", 0, 100),
            closed("b", 10, 110),
            closed("c", 20, 120),
            closed("d", 90, 130),  # the last member closes it
            opened("e", 140),  # alone again: nothing
        ]
    )
    events = [a for rows in out for a in rows.alerts]
    assert len(events) == 1
    alert_id, district, sensor_type, kind, metrics, at, *_, detail = events[0]
    assert (alert_id, district, sensor_type, kind, at) == (
        "Harbour@0:city_event",
        "Harbour",
        "district",
        "city_event",
        0,
    )
    assert detail == "3 sensors together: a, b, c"
    groups = [g for rows in out for g in rows.alert_groups]
    members = (("a", 0), ("b", 10), ("c", 20), ("d", 90))
    assert [member for _, member in groups] == [f"{s}@{m * MIN}" for s, m in members]
    closures = [c for rows in out for c in rows.alert_closures]
    assert [(c[0], c[1], c[4]) for c in closures] == [("Harbour@0:city_event", 130 * MIN, 4)]
    assert out[2].origins == {"p": (20 * MIN, 20 * MIN)}  # exactly-once bookkeeping


def test_district_state_resumes_from_its_snapshot():
    logic = DistrictLogic(window_ms=30 * MIN, min_sensors=2)
    logic.on_batch([opened("a", 0)])
    resumed = DistrictLogic(30 * MIN, 2, logic.snapshot())
    (rows,), _ = resumed.on_batch([opened("b", 1)])
    assert [a[0] for a in rows.alerts] == ["Harbour@0:city_event"]


@pytest.fixture(scope="module")
def events_lake(tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """100 sensors for 36 hours: a road closure in the Centre, pollution in Old Town."""
    lake_path = tmp_path_factory.mktemp("events") / "lake"
    env = city_env(lake_path, CITY_SIM_SENSORS="100", CITY_SIM_HOURS="36")
    run_flow(env)
    return FlowRun(lake_path, env)


def test_flow_groups_only_anomaly_alerts_of_one_district(events_lake: FlowRun):
    con = lake.connect(events_lake.lake, read_only=True)
    figures = simulator_scoring.score(con, probation_hours=12)["city_events"]
    assert figures["alerts"] >= 1 and figures["precision"] == 1.0  # only real city events
    assert con.sql("SELECT count(*) FROM alert_groups").fetchone()[0] >= 3
    wrong = con.sql(
        """
        SELECT count(*) FROM alert_groups g
        JOIN alerts e ON e.alert_id = g.group_id
        LEFT JOIN alerts m ON m.alert_id = g.alert_id
        LEFT JOIN sensors s ON s.sensor_id = m.sensor_id
        WHERE e.kind <> 'city_event' OR m.kind IS DISTINCT FROM 'anomaly'
           OR s.district IS DISTINCT FROM e.sensor_id
           OR m.opened_at < e.opened_at
        """
    ).fetchone()[0]
    assert wrong == 0
    duplicates = con.sql(
        "SELECT count(*) - count(DISTINCT (group_id, alert_id)) FROM alert_groups"
    ).fetchone()[0]
    assert duplicates == 0


def test_alert_page_shows_one_alert_per_city_event(events_lake: FlowRun, monkeypatch):
    monkeypatch.setenv("CITY_LAKE", str(events_lake.lake))
    con = lake.connect(events_lake.lake, read_only=True)
    total, grouped = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE alert_id IN (SELECT alert_id FROM alert_groups))"
        " FROM alerts"
    ).fetchone()
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "alerts.py"), default_timeout=60)
    at.run()
    at.radio(key="alert_status").set_value("all").run()
    assert grouped >= 3
    assert len(at.dataframe[0].value) == min(total - grouped, 500)
    at.toggle(key="alert_grouped").set_value(False).run()
    assert len(at.dataframe[0].value) == min(total, 500)


def test_a_district_with_no_alert_change_for_its_lifetime_leaves_the_state():
    logic = DistrictLogic(window_ms=30 * MIN, min_sensors=2, ttl_ms=100)
    logic.on_batch([("Centre", "open", f"t{k}@0", f"t{k}", "traffic_loop", k, 0.9, None)
                    for k in range(2)])  # fmt: skip
    assert logic.state.event is not None
    time.sleep(0.2)
    assert logic.notify_at() <= datetime.now(UTC)
    (rows,), discard = logic.on_notify()
    assert discard
    assert [c[0] for c in rows.alert_closures] == ["Centre@0:city_event"]
    assert [r[2:4] for r in rows.model_resets] == [("Centre", "state")]
