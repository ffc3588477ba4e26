"""Every dashboard page, run by Streamlit's AppTest against a real lake."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dataflows import lake
from tests.conftest import ROOT, FlowRun

VIEWS = ROOT / "dashboard" / "views"


@pytest.fixture
def on_lake(city_lake: FlowRun, monkeypatch):
    monkeypatch.setenv("CITY_LAKE", str(city_lake.lake))
    con = lake.connect(city_lake.lake, read_only=True)
    yield con
    con.close()


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(VIEWS / f"{name}.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_router_lists_the_four_pages(on_lake):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "City overview"


def test_overview_shows_the_lakes_figures(on_lake):
    shown = metrics(page("overview"))
    total = on_lake.sql("SELECT count(*) FROM readings").fetchone()[0]
    sensors = on_lake.sql("SELECT count(*) FROM sensors").fetchone()[0]
    open_alerts = on_lake.sql("SELECT count(*) FROM alerts WHERE closed_at IS NULL").fetchone()[0]
    assert shown["Readings stored"] == f"{total:,}"
    assert shown["Sensors reporting"].endswith(f"/ {sensors:,}")
    assert shown["Open alerts"] == f"{open_alerts:,}"
    assert float(shown["Readings/s"].replace(",", "")) > 0


def test_alert_feed_filters(on_lake):
    at = page("alerts")
    at.radio(key="alert_status").set_value("all").run()
    total = on_lake.sql("SELECT count(*) FROM alerts").fetchone()[0]
    assert len(at.dataframe[0].value) == min(total, 500) > 0
    at.text_input(key="alert_search").set_value("traffic").run()
    shown = at.dataframe[0].value
    assert len(shown) > 0 and shown["sensor_id"].str.contains("traffic").all()
    # each sensor's alert links to its drill-down, which opens on that sensor
    assert (shown["drill_down"] == "sensor?sensor=" + shown["sensor_id"]).all()
    sensor = AppTest.from_file(str(VIEWS / "sensor.py"), default_timeout=60)
    sensor.query_params["sensor"] = shown["sensor_id"].iloc[0]
    assert sensor.run().selectbox(key="sensor_id").value == shown["sensor_id"].iloc[0]
    at.multiselect(key="alert_types").set_value(["water"]).run()
    assert len(at.dataframe[0].value) == 0  # traffic ids of type water: none


def test_free_text_cannot_break_the_query(on_lake):
    at = page("alerts")
    at.radio(key="alert_status").set_value("all").run()
    at.text_input(key="alert_search").set_value("x'); DROP TABLE alerts; --").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 0
    assert on_lake.sql("SELECT count(*) FROM alerts").fetchone()[0] > 0


def test_sensor_drill_down_plots_values_scores_and_alerts(on_lake):
    sensor_id = on_lake.sql(
        "SELECT sensor_id FROM alerts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    at = page("sensor")
    at.selectbox(key="sensor_id").set_value(sensor_id).run()
    assert not at.exception
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"name":"score"' in chart.replace(" ", "") and '"anomaly"' in chart
    alerts = at.dataframe[0].value
    assert (
        len(alerts)
        == on_lake.execute(
            "SELECT count(*) FROM alerts WHERE sensor_id = ?", [sensor_id]
        ).fetchone()[0]
    )


def test_data_quality_counts_dead_letters_by_reason(on_lake):
    at = page("quality")
    total = on_lake.sql("SELECT count(*) FROM dead_letters").fetchone()[0]
    assert metrics(at)["Dead letters"] == f"{total:,}"
    assert len(at.get("plotly_chart")) == 2
    at.selectbox(key="dead_reason").set_value("duplicate").run()
    table = at.dataframe[0].value
    assert len(table) > 0 and table["reason"].str.startswith("duplicate").all()


def test_pages_explain_a_missing_lake(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "nothing-here"))
    for name in ["overview", "alerts", "sensor", "quality"]:
        at = page(name)
        assert "No lake yet" in at.info[0].value


def test_drill_down_of_a_replayed_sensor_lists_its_recorded_metrics(tmp_path, monkeypatch):
    from tests.conftest import city_env
    from tests.dataflows.test_replay import replay, write_recordings

    write_recordings(tmp_path / "recordings")
    replay(city_env(tmp_path / "lake"), str(tmp_path / "recordings"), "--labels", "anomaly")
    monkeypatch.setenv("CITY_LAKE", str(tmp_path / "lake"))
    at = page("sensor")
    at.selectbox(key="sensor_id").set_value("pumps/a").run()
    assert not at.exception
    assert at.selectbox(key="sensor_metric").options == ["current", "vibration"]
    assert len(at.get("plotly_chart")) == 1


def test_alerts_are_acknowledged_and_resolved_for_everyone(on_lake, city_lake):
    at = page("alerts")
    at.radio(key="alert_status").set_value("all").run()
    first, second = list(at.dataframe[0].value["alert_id"][:2])
    at.multiselect(key="action_alerts").set_value([first, second])
    at.button(key="acknowledged").click().run()
    assert at.error and "say who you are" in at.error[0].value  # unsigned: refused
    at.text_input(key="action_actor").set_value("Dana")
    at.text_input(key="action_note").set_value("crew on site")
    at.button(key="acknowledged").click().run()
    assert not at.exception and "2 alert(s) acknowledged by Dana" in at.success[0].value
    at.multiselect(key="action_alerts").set_value([second])
    at.button(key="resolved").click().run()
    # another viewer, a new session, reads the state from the lake
    other = page("alerts")
    other.radio(key="alert_status").set_value("all").run()
    table = other.dataframe[0].value.set_index("alert_id")
    assert table.loc[first, "handling"] == "acknowledged"
    assert table.loc[first, "handled_by"] == "Dana" and table.loc[first, "note"] == "crew on site"
    assert table.loc[second, "handling"] == "resolved"
    stored = (
        lake.connect(city_lake.lake, read_only=True)
        .sql("SELECT action, count(*) FROM alert_actions GROUP BY 1 ORDER BY 1")
        .fetchall()
    )
    assert stored == [("acknowledged", 2), ("resolved", 1)]
    assert table.loc[first, "signed_via"] == "typed"  # and the box says it is unauthenticated
    assert at.text_input(key="action_actor").label == "Your name (unauthenticated)"


def test_behind_single_sign_on_a_request_without_the_user_header_cannot_act(on_lake, monkeypatch):
    monkeypatch.setenv("CITY_DASHBOARD_ACTOR_HEADER", "X-Forwarded-User")
    at = page("alerts")
    assert "action_actor" not in [t.key for t in at.text_input]  # no name to type
    assert "No `X-Forwarded-User` header" in at.warning[0].value
    at.radio(key="alert_status").set_value("all").run()
    at.multiselect(key="action_alerts").set_value([at.dataframe[0].value["alert_id"].iloc[0]])
    at.button(key="acknowledged").click().run()
    assert "say who you are" in at.error[0].value
