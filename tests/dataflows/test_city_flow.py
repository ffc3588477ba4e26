"""The real flow, run as users run it, checked with SQL on the lake it wrote."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from dataflows import lake
from dataflows.messages.schema import Label, validate
from dataflows.settings import Settings
from dataflows.simulator.city import ANOMALY_KINDS, whole_stream
from tests.conftest import ROOT, FlowRun, city_env, run_flow


def _simulated(settings: Settings) -> tuple[list, list]:
    """Messages and labels the simulator produces for these settings."""
    start = int(settings.sim_start.timestamp() * 1000)
    end = start + int(settings.sim_hours * 3_600_000)
    stream = whole_stream(
        settings.sim_seed, settings.sim_sensors, settings.sim_partitions, start, end
    )
    labels = [item for item in stream if isinstance(item, Label)]
    return [item for item in stream if not isinstance(item, Label)], labels


@pytest.fixture(scope="module")
def con(city_lake: FlowRun):
    connection = lake.connect(city_lake.lake, read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def expected(city_lake: FlowRun):
    return _simulated(Settings.from_env(city_lake.env))


def test_every_sensor_is_registered_with_metadata(con, city_lake):
    rows = con.sql("SELECT count(*), count(lat), count(district), count(unit) FROM sensors")
    assert rows.fetchone() == (60, 60, 60, 60)


def test_readings_are_validated_messages_minus_duplicates_and_late(con, expected):
    messages, _ = expected
    valid_values = 0
    for message in messages:
        reading, _ = validate(message, "test")
        if reading is not None:
            valid_values += len(reading.values)
    stored = con.sql("SELECT count(*) FROM readings").fetchone()[0]
    dropped = con.sql(
        "SELECT count(*) FROM dead_letters WHERE reason LIKE 'duplicate%' OR reason LIKE 'late%'"
    ).fetchone()[0]
    assert dropped > 0
    # every valid value is either stored or belongs to a dead-lettered duplicate/late message
    assert valid_values > stored >= valid_values - 3 * dropped
    duplicates = con.sql(
        "SELECT count(*) FROM (SELECT sensor_id, ts, metric FROM readings GROUP BY ALL "
        "HAVING count(*) > 1)"
    ).fetchone()[0]
    assert duplicates == 0


def test_readings_span_the_simulated_window_in_utc(con):
    first, last, kind = con.sql("SELECT min(ts), max(ts), typeof(min(ts)) FROM readings").fetchone()
    assert kind == "TIMESTAMP WITH TIME ZONE"
    assert first == datetime(2026, 1, 5, 6, tzinfo=UTC)
    assert datetime(2026, 1, 5, 17, 59, tzinfo=UTC) <= last < datetime(2026, 1, 5, 18, tzinfo=UTC)


def test_scores_are_in_unit_interval_and_some_readings_are_flagged(con):
    low, high, flagged = con.sql(
        "SELECT min(score), max(score), count(*) FILTER (WHERE is_anomaly) FROM readings"
    ).fetchone()
    assert low >= 0.0 and high <= 1.0
    assert flagged > 0


def test_minute_aggregates_match_a_recomputation_from_readings(con):
    mismatches = con.sql(
        """
        WITH recomputed AS (
            SELECT sensor_id, metric, time_bucket(INTERVAL 1 MINUTE, ts) AS minute,
                   count(*) AS n, avg(value) AS mean, min(value) AS min, max(value) AS max,
                   count(*) FILTER (WHERE is_anomaly) AS anomalies
            FROM readings GROUP BY ALL
        )
        SELECT count(*) FROM recomputed r FULL JOIN readings_1m a USING (sensor_id, metric, minute)
        WHERE a.n IS DISTINCT FROM r.n OR abs(a.mean - r.mean) > 1e-9
           OR a.min IS DISTINCT FROM r.min OR a.max IS DISTINCT FROM r.max
           OR a.anomalies IS DISTINCT FROM r.anomalies
        """
    ).fetchone()[0]
    assert mismatches == 0


def test_labels_are_the_simulators_ground_truth(con, expected):
    _, labels = expected
    stored = con.sql(
        "SELECT sensor_id, kind, metric, epoch_ms(start_ts), epoch_ms(end_ts), event_id "
        "FROM labels ORDER BY ALL"
    ).fetchall()
    assert stored == sorted((lb[0], lb[1], lb[2], lb[3], lb[4], lb[5]) for lb in labels)
    assert len(stored) > 0


def test_dead_letters_carry_payload_and_reason_for_each_fault(con, expected):
    messages, _ = expected
    rejected = sum(len(validate(m, "test")[1]) for m in messages)
    invalid = con.sql("SELECT count(*) FROM dead_letters WHERE source = 'simulator'").fetchone()[0]
    assert invalid == rejected > 0
    reasons = {
        r
        for (r,) in con.sql(
            "SELECT DISTINCT split_part(reason, ':', 1) FROM dead_letters"
        ).fetchall()
    }
    assert {"duplicate", "late"} <= reasons
    assert reasons & {
        "bad_value",
        "out_of_range",
        "missing_field",
        "unknown_metric",
        "not_an_object",
    }
    empty = con.sql("SELECT count(*) FROM dead_letters WHERE payload = '' OR reason = ''")
    assert empty.fetchone()[0] == 0


def test_alerts_are_episodes_not_storms(con):
    total, closed, bad_order, readings = con.sql(
        "SELECT count(*), count(closed_at), count(*) FILTER (WHERE closed_at < opened_at), "
        "sum(anomalous_readings) FROM alerts"
    ).fetchone()
    flagged = con.sql("SELECT count(DISTINCT (sensor_id, ts)) FROM readings WHERE is_anomaly")
    assert total > 0 and closed > 0 and bad_order == 0
    # one alert covers many anomalous readings: far fewer alerts than flagged readings
    assert total < flagged.fetchone()[0]
    assert readings >= total
    overlapping = con.sql(
        "SELECT count(*) FROM alerts a JOIN alerts b ON a.sensor_id = b.sensor_id "
        "AND a.alert_id < b.alert_id AND b.opened_at < coalesce(a.closed_at, 'infinity') "
        "AND a.opened_at < coalesce(b.closed_at, 'infinity')"
    ).fetchone()[0]
    assert overlapping == 0


def test_stuck_sensors_are_flagged(con):
    hits = con.sql(
        """
        SELECT count(DISTINCT l.sensor_id) FILTER (WHERE r.is_anomaly), count(DISTINCT l.sensor_id)
        FROM labels l JOIN readings r ON r.sensor_id = l.sensor_id
         AND r.ts BETWEEN l.start_ts AND l.end_ts
        WHERE l.kind = 'stuck' AND l.end_ts - l.start_ts > INTERVAL 15 MINUTE
        """
    ).fetchone()
    assert hits[1] == 0 or hits[0] >= 1


def test_two_workers_store_the_same_readings_as_one(city_lake, tmp_path):
    env = city_env(tmp_path / "lake", CITY_SIM_HOURS="3")
    run_flow(env, "-w", "2")
    two = lake.connect(tmp_path / "lake", read_only=True)
    one_env = city_env(tmp_path / "lake1", CITY_SIM_HOURS="3")
    run_flow(one_env)
    one = lake.connect(tmp_path / "lake1", read_only=True)
    query = "SELECT sensor_id, epoch_ms(ts), metric, value FROM readings ORDER BY ALL"
    assert two.sql(query).fetchall() == one.sql(query).fetchall()
    assert two.sql("SELECT count(*) FROM readings").fetchone()[0] > 0


def test_two_processes_store_the_same_readings_as_one(tmp_path):
    from tests.dashboard.test_browser import free_port

    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    env = city_env(tmp_path / "lake", CITY_SIM_HOURS="3")
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bytewax.run",
            "dataflows.flow.city:build_flow()",
            "-i",
            "0",
            "-a",
            addresses,
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_flow(env, "-i", "1", "-a", addresses)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-3000:]
    run_flow(city_env(tmp_path / "one", CITY_SIM_HOURS="3"))
    query = "SELECT sensor_id, epoch_ms(ts), metric, value FROM readings ORDER BY ALL"
    two = lake.connect(tmp_path / "lake", read_only=True).sql(query).fetchall()
    assert two == lake.connect(tmp_path / "one", read_only=True).sql(query).fetchall()


def test_anomaly_kinds_are_all_known():
    assert set(ANOMALY_KINDS) == {"spike", "level_shift", "drift", "stuck", "dropout"}
