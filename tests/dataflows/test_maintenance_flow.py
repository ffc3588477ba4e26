"""Simulated assets, the flow's maintenance step, its tables, alerts, scoring and page."""

from __future__ import annotations

import pickle
import time
from collections import defaultdict
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from dataflows import lake
from dataflows.evaluation import maintenance_scoring
from dataflows.flow import maintenance
from dataflows.flow.city import alert_policy, validate_batch
from dataflows.flow.maintenance import MaintenanceConfig, MaintenanceLogic, fleet_key
from dataflows.lake.rows import Rows
from dataflows.messages.schema import AssetEvent, AssetTruth, Reading, SourceRecord
from dataflows.settings import Settings
from dataflows.simulator.assets import DAY_MS, HOUR_MS, AssetSimulator, Fleet, whole_fleet
from online_models.maintenance import RemainingLife
from tests.conftest import FLEET, ROOT, SMALL_CITY, FlowRun, run_json

START = 1767225600000


def test_assets_wear_fail_at_their_true_time_and_come_back_repaired():
    fleet = Fleet(seed=3, n_assets=10)
    out = AssetSimulator(fleet, "pump", START, START + 150 * DAY_MS).advance(START + 151 * DAY_MS)
    truth: dict[str, int] = {}
    last_event: dict[str, str] = {}
    before_failure: dict[str, list[float]] = defaultdict(list)
    rises = []
    for item in out:
        if isinstance(item, AssetTruth):
            truth[item.asset_id] = item.failure_ms
        elif "event" in item:
            asset = item["asset_id"]
            if item["event"] == "failure":
                assert item["ts"] == truth[asset]  # fails exactly when the truth said
                early, late = before_failure[asset][:24], before_failure[asset][-24:]
                if len(early) == 24:
                    rises.append(sum(late) / sum(early))
                before_failure[asset] = []
            elif item["event"] == "maintenance":
                before_failure[asset] = []
            last_event[asset] = item["event"]
        else:
            asset = item["sensor_id"]
            assert last_event.get(asset) != "failure"  # down until repaired: no readings
            assert truth[asset] > item["ts"]  # the true RUL is known and positive
            before_failure[asset].append(item["values"]["vibration_rms"])
    assert len(rises) >= 3
    assert sorted(rises)[len(rises) // 2] > 1.5  # vibration grows towards failure
    kinds = {m["event"] for m in out if isinstance(m, dict) and "event" in m}
    assert kinds == {"failure", "repair", "maintenance"}


def test_asset_simulation_resumes_from_its_state_exactly():
    fleet = Fleet(seed=5, n_assets=8)
    whole = AssetSimulator(fleet, "lift", START, START + 40 * DAY_MS).advance(START + 41 * DAY_MS)
    first = AssetSimulator(fleet, "lift", START, START + 40 * DAY_MS)
    part = first.advance(START + 17 * DAY_MS + 1234)
    state = pickle.loads(pickle.dumps(first.state()))
    resumed = AssetSimulator(fleet, "lift", START, START + 40 * DAY_MS, state=state)
    assert part + resumed.advance(START + 41 * DAY_MS) == whole


def test_maintenance_messages_are_routed_by_asset_type_and_bad_ones_dead_lettered():
    good = {"asset_id": "fan-1", "type": "fan", "ts": START, "event": "failure"}
    bad = [
        {**good, "event": "exploded"},
        {**good, "type": "noise"},
        {**good, "ts": "yesterday"},
        {**good, "rul_h": -3},
        {k: v for k, v in good.items() if k != "asset_id"},
    ]
    reading = {"sensor_id": "fan-1", "type": "fan", "ts": START, "values": {"vibration_rms": 2.0}}
    records = [SourceRecord("p", i, m) for i, m in enumerate([good, reading, *bad])]
    out = validate_batch(records)
    keyed = [item for item in out if isinstance(item, tuple)]
    assert [(key, type(value).__name__) for key, value in keyed] == [
        ("fan", "AssetEvent"),
        ("fan", "Reading"),
    ]
    (side,) = [item for item in out if isinstance(item, Rows)]
    reasons = sorted(letter.reason.split(":")[0] for letter in side.dead_letters)
    assert reasons == [
        "bad_timestamp",
        "bad_value",
        "missing_field",
        "unknown_event",
        "unknown_type",
    ]


def test_out_of_order_asset_readings_are_dead_lettered_and_late_events_applied_in_order():
    logic = MaintenanceLogic(
        MaintenanceConfig(horizon_h=24, alert_prob=0.5, policy=alert_policy(Settings()))
    )
    readings = [
        Reading("fan-1", "fan", START + k * HOUR_MS, {"vibration_rms": 1.0 + k}) for k in range(3)
    ]
    (rows,), _ = logic.on_batch([*readings, readings[1], readings[2]])
    assert [d.reason.split(":")[0] for d in rows.dead_letters] == ["out_of_order", "duplicate"]
    assert len(rows.readings) == 3
    (rows,), _ = logic.on_batch([AssetEvent("fan-1", "fan", START, "failure")])
    assert rows.maintenance_events[0][:4] == (START, "fan", "fan-1", "failure")
    assert logic.state.model.metrics()["labelled"] == 0  # not ready: nothing predicted yet
    assert not logic.state.model._pending  # but the three readings were revealed


@pytest.fixture(scope="module")
def fleet_con(fleet_lake: FlowRun):
    con = lake.connect(fleet_lake.lake, read_only=True)
    yield con
    con.close()


def expected_fleet() -> list:
    start = int(datetime.fromisoformat(SMALL_CITY["CITY_SIM_START"]).timestamp() * 1000)
    history = int(float(FLEET["CITY_SIM_ASSET_HISTORY_DAYS"]) * DAY_MS)
    end = start + int(float(FLEET["CITY_SIM_HOURS"]) * HOUR_MS)
    return whole_fleet(int(SMALL_CITY["CITY_SIM_SEED"]), int(FLEET["CITY_SIM_ASSETS"]),
                       start - history, end)  # fmt: skip


def test_flow_stores_every_asset_message_once(fleet_con):
    stream = expected_fleet()
    readings = {
        (m["sensor_id"], m["ts"], metric)
        for m in stream
        if isinstance(m, dict) and "values" in m
        for metric in m["values"]
    }
    stored = fleet_con.sql(
        "SELECT sensor_id, epoch_ms(ts), metric, score FROM readings "
        "WHERE sensor_id IN (SELECT sensor_id FROM sensors WHERE type IN "
        "('pump', 'lift', 'escalator', 'fan', 'streetlight'))"
    ).fetchall()
    assert {(a, t, m) for a, t, m, _ in stored} == readings
    assert len(stored) == len(readings)
    assert all(score is None for *_, score in stored)  # condition signals are not scored
    events = sorted(
        (m["ts"], m["asset_id"], m["event"]) for m in stream if isinstance(m, dict) and "event" in m
    )
    assert (
        events
        and fleet_con.sql(
            "SELECT epoch_ms(ts), asset_id, kind FROM maintenance_events "
            "WHERE asset_id IS NOT NULL ORDER BY ALL"
        ).fetchall()
        == events
    )
    truths = sorted(
        (t.asset_id, t.from_ms, t.failure_ms) for t in stream if isinstance(t, AssetTruth)
    )
    assert (
        fleet_con.sql(
            "SELECT asset_id, epoch_ms(from_ts), epoch_ms(failure_ts) FROM asset_truth ORDER BY ALL"
        ).fetchall()
        == truths
    )
    assert fleet_con.sql("SELECT count(*) FROM sensors").fetchone()[0] == 12 + 15
    sensor_scores = "SELECT count(*) FROM readings r JOIN sensors s USING (sensor_id) "
    sensor_scores += "WHERE s.type = 'traffic_loop' AND r.score IS NULL"
    assert fleet_con.sql(sensor_scores).fetchone()[0] == 0  # sensors still scored


def test_predictions_come_after_labels_and_are_consistent(fleet_con):
    bad = fleet_con.sql(
        # the band is where past errors put the truth: a biased model's point may lie outside
        "SELECT count(*) FROM maintenance_predictions WHERE NOT (0 <= rul_low AND "
        "rul_low <= rul_high AND rul >= 0 AND failure_prob BETWEEN 0 AND 1)"
    ).fetchone()[0]
    assert bad == 0
    per_type = fleet_con.sql(
        """
        SELECT s.type, min(p.ts) AS first_prediction,
               (SELECT min(ts) FROM maintenance_events e
                WHERE e.asset_type = s.type AND e.kind = 'failure') AS first_failure,
               count(*) AS n
        FROM maintenance_predictions p JOIN sensors s ON s.sensor_id = p.asset_id
        GROUP BY s.type
        """
    ).fetchall()
    assert len(per_type) >= 3  # most types learnt enough in 45 days to predict
    for asset_type, first_prediction, first_failure, n in per_type:
        assert first_failure < first_prediction, asset_type  # never before a label
        assert n > 100
    metrics = fleet_con.sql(
        "SELECT model, labelled FROM model_metrics ORDER BY model, ts, labelled"
    ).fetchall()
    by_model = defaultdict(list)
    for model, labelled in metrics:
        by_model[model].append(labelled)
    assert all(counts == sorted(counts) for counts in by_model.values())
    assert max(max(c) for c in by_model.values()) > 0


def test_maintenance_alerts_follow_the_failure_probability(fleet_con):
    threshold = Settings().maintenance_alert_prob
    alerts = fleet_con.sql(
        "SELECT alert_id, sensor_id, opened_at, closed_at, peak_score, detector FROM alerts "
        "WHERE kind = 'maintenance'"
    ).fetchall()
    assert alerts
    for alert_id, asset, opened, closed, peak, detector in alerts:
        assert detector == "RemainingLife" and peak >= threshold
        assert alert_id == f"{asset}@{int(opened.timestamp() * 1000)}"
        # it opened at a prediction at or above the threshold
        p = fleet_con.execute(
            "SELECT failure_prob FROM maintenance_predictions WHERE asset_id = ? AND ts = ?",
            [asset, opened],
        ).fetchone()
        assert p is not None and p[0] >= threshold
        # a failure or a visit after it closed it
        ended = fleet_con.execute(
            "SELECT min(ts) FROM maintenance_events WHERE asset_id = ? AND ts > ? "
            "AND kind IN ('failure', 'maintenance')",
            [asset, opened],
        ).fetchone()[0]
        if ended is not None:
            assert closed is not None and closed <= ended


def test_scoring_counts_what_the_lake_holds(fleet_con):
    figures = maintenance_scoring.score(fleet_con)
    failures = fleet_con.sql(
        "SELECT count(*) FROM maintenance_events WHERE kind = 'failure'"
    ).fetchone()[0]
    assert figures["failures"] == failures > 0
    assert figures["failures_scored"] <= failures
    assert sum(t["failures"] for t in figures["types"].values()) == failures
    warnings = fleet_con.sql("SELECT count(*) FROM alerts WHERE kind = 'maintenance'").fetchone()
    assert figures["warnings"] == warnings[0]
    assert 0 <= figures["interval_coverage"] <= 1 and figures["rul_mae_h"] > 0


def test_maintenance_page_shows_the_fleet(fleet_lake: FlowRun, fleet_con, monkeypatch):
    monkeypatch.setenv("CITY_LAKE", str(fleet_lake.lake))
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "maintenance.py"))
    at.run(timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assets = fleet_con.sql("SELECT count(DISTINCT asset_id) FROM maintenance_predictions")
    assets_count = assets.fetchone()[0]
    assert shown["Assets with predictions"] == str(assets_count)

    def frame(column: str):  # the page's table that has `column` (AppTest shows no keys)
        found = [f.value for f in at.dataframe if column in f.value.columns]
        return found[0] if found else None

    ranked = frame("failure_prob")  # assets in service, by risk
    assert list(ranked["failure_prob"]) == sorted(ranked["failure_prob"], reverse=True)
    assert ranked["true_rul"].notna().all()  # the simulator's truth is shown
    # an asset whose last event is a failure is down: listed apart, out of the ranking
    down = {
        asset_id
        for asset_id, last in fleet_con.sql(
            "SELECT asset_id, arg_max(kind, ts) FROM maintenance_events"
            " WHERE asset_id IS NOT NULL AND kind IN ('failure', 'repair', 'maintenance')"
            " GROUP BY 1"
        ).fetchall()
        if last == "failure"
    }
    down_table = frame("down_since")
    listed = set() if down_table is None else set(down_table["asset_id"])
    assert listed == down and not down & set(ranked["asset_id"])
    assert shown["Assets down"] == str(len(down))
    assert len(ranked) + len(down) == assets_count
    failures = frame("failure_ts")
    assert len(failures) == maintenance_scoring.score(fleet_con)["failures"]
    at.selectbox(key="asset_id").set_value(ranked["asset_id"].iloc[-1]).run(timeout=60)
    assert not at.exception


def test_evaluate_assets_reports_warnings_and_stores_them(tmp_path):
    env = {"CITY_LAKE": str(tmp_path / "summary"), "PATH": "/usr/bin:/bin"}
    args = ["assets", "--assets", "10", "--days", "50", "--report", str(tmp_path / "reports")]
    figures = run_json("dataflows.cli.evaluate", env, *args)
    assert figures["assets"] == 10 and figures["failures"] > 0
    assert 0 <= figures["warned_ahead_share"] <= 1
    assert set(figures["types"]) == {"pump", "lift", "streetlight", "escalator", "fan"}
    assert list((tmp_path / "reports").glob("evaluate-assets-*.html"))
    con = lake.connect(tmp_path / "summary", read_only=True)
    stored = con.sql(
        "SELECT value FROM evaluations WHERE dataset = 'assets' AND scope = 'overall' "
        "AND figure = 'failures'"
    ).fetchone()
    assert stored[0] == figures["failures"]


def test_overview_counts_sensors_not_assets(fleet_lake: FlowRun, monkeypatch):
    monkeypatch.setenv("CITY_LAKE", str(fleet_lake.lake))
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / "overview.py"))
    at.run(timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Sensors reporting"].endswith(f"/ {FLEET['CITY_SIM_SENSORS']}")


def test_an_asset_silent_longer_than_its_state_lifetime_leaves_the_state():
    config = MaintenanceConfig(horizon_h=24, ttl_ms=2 * DAY_MS)
    logic = MaintenanceLogic(config)
    early = [Reading("fan-1", "fan", START + k * HOUR_MS, {"vibration_rms": 1.0}) for k in range(5)]
    logic.on_batch(early)
    later = START + 5 * DAY_MS
    back = [Reading("fan-1", "fan", later + k * HOUR_MS, {"vibration_rms": 1.0}) for k in range(3)]
    (rows,), _ = logic.on_batch(back)  # held by its clock, then confirmed
    assert [r[1:4] for r in rows.model_resets] == [("maintenance", "fan-1", "state")]
    assert rows.model_resets[0][4] == "expired: silent 4.83 days, starts cold"
    assert len(rows.readings) == 3 and rows.sensors == []  # back, cold, still registered


def test_a_model_reset_names_the_shard_whose_model_started_afresh(monkeypatch):
    class Broken(RemainingLife):
        def observe(self, *args):
            raise ValueError("broken")

    monkeypatch.setattr(
        maintenance, "new_model", lambda horizon_h, max_pending=20_000: Broken(horizon=horizon_h)
    )
    for shards, key in ((1, "fan"), (4, fleet_key("fan", "fan-1", 4))):
        logic = MaintenanceLogic(MaintenanceConfig(horizon_h=24, shards=shards))
        (rows,), _ = logic.on_batch([Reading("fan-1", "fan", START, {"vibration_rms": 1.0})])
        assert [r[1:4] for r in rows.model_resets] == [("maintenance", key, "model")]
        assert key == "fan" or key.startswith("fan/")


def test_assets_silent_on_the_flows_clock_leave_the_state(monkeypatch):
    logic = MaintenanceLogic(MaintenanceConfig(ttl_ms=100))
    logic.on_batch([Reading("fan-1", "fan", START, {"vibration_rms": 1.0})])
    logic.on_batch([Reading("fan-2", "fan", START + 1, {"vibration_rms": 1.0})])
    assert logic.notify_at() is not None
    time.sleep(0.2)
    (rows,), discard = logic.on_notify()
    assert not discard  # the type's model stays: it is not an asset's
    assert sorted(r[2] for r in rows.model_resets) == ["fan-1", "fan-2"]
    assert logic.state.assets == {} and logic.notify_at() is None


def test_an_event_far_ahead_does_not_make_the_assets_readings_out_of_order():
    logic = MaintenanceLogic(MaintenanceConfig(horizon_h=24))
    reading = Reading("fan-1", "fan", START, {"vibration_rms": 1.0})
    (rows,), _ = logic.on_batch(
        [reading, AssetEvent("fan-1", "fan", START + 30 * DAY_MS, "maintenance")]
        + [reading._replace(ts_ms=START + k * HOUR_MS) for k in range(1, 4)]
    )
    assert rows.dead_letters == [] and len(rows.readings) == 4


def test_sharded_fleets_spread_each_type_over_models_that_each_see_their_assets(tmp_path):
    """`CITY_MAINTENANCE_SHARDS`: every asset message once, each asset in one model."""
    from dataclasses import replace

    from bytewax.testing import run_main

    from dataflows.flow.city import build_flow

    counts = {}
    for shards in (1, 3):
        env = {**SMALL_CITY, "CITY_SIM_SENSORS": "0", "CITY_SIM_ASSETS": "10",
               "CITY_SIM_HOURS": str(20 * 24), "CITY_MAINTENANCE_SHARDS": str(shards)}  # fmt: skip
        folder = tmp_path / f"shards-{shards}"
        settings = replace(Settings.from_env(env), lake=folder, retention_readings_days=0.0)
        run_main(build_flow(settings))
        con = lake.connect(folder, read_only=True)
        counts[shards] = con.sql("SELECT count(*) FROM readings").fetchone()[0]
        models = {row[0] for row in con.sql("SELECT DISTINCT model FROM model_metrics").fetchall()}
        assets = con.sql(
            "SELECT DISTINCT asset_id, asset_type FROM maintenance_events WHERE asset_id NOT NULL"
        ).fetchall()
        con.close()
        expected = {f"RemainingLife {fleet_key(kind, asset, shards)}" for asset, kind in assets}
        assert models and models <= expected  # a model per type's shard that saw a label
        if shards > 1:
            assert all("/" in model for model in models)
    assert counts[1] == counts[3] > 0
