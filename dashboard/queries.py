"""The dashboard's questions to the lake, as plain functions returning DataFrames.

No Streamlit here, and parameterised SQL only: user input is always a bound `?` parameter,
never pasted into the SQL text. Windows are relative to the newest reading in the lake
(`data_now`), so a replayed or simulated past looks as live as the present.

>>> import tempfile
>>> from dataflows import lake
>>> with tempfile.TemporaryDirectory() as folder:
...     con = lake.connect(folder)
...     overview(con)["sensors_reporting"]
0
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from dataflows.lake.connection import one
from dataflows.lake.reads import FAILURES_SQL

RECENT = timedelta(minutes=5)
"""Window over which sensors count as reporting and readings/s is measured."""

ASSETS = "(SELECT sensor_type FROM sensor_types WHERE asset)"
"""The asset types of the lake's catalogue, as SQL. Assets report hourly and have their own
page: the overview's sensor figures leave them out."""


def data_now(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The lake's present: the time up to which most sensors have reported; None if empty.

    That is the median over the sensors (assets aside) of each one's newest reading within
    the hour before the newest of all. Not the newest reading of all: while a flow catches
    up (the demo's backfill, a restart, a replay), its partitions reach the lake unevenly, and
    measured from the one furthest ahead the others would look silent. An hour bounds the
    rows read on every refresh. A lake whose readings are gone (retention) has its newest
    one-minute aggregate instead.
    """
    return one(
        con.execute(
            f"""
            WITH sensors_only AS (
                SELECT sensor_id, ts FROM readings
                WHERE sensor_id NOT IN (SELECT sensor_id FROM sensors WHERE type IN {ASSETS})
            ), newest AS (
                SELECT max(ts) AS ts FROM sensors_only
            ), latest AS (
                SELECT max(s.ts) AS ts FROM sensors_only s, newest
                WHERE s.ts > newest.ts - INTERVAL 1 HOUR GROUP BY s.sensor_id
            )
            SELECT coalesce(
                (SELECT quantile_disc(ts, 0.5) FROM latest),
                (SELECT max(ts) FROM readings),
                (SELECT max(minute) + INTERVAL 1 MINUTE FROM readings_1m)
            )
            """
        )
    )[0]


def overview(con: duckdb.DuckDBPyConnection) -> dict[str, float | int | datetime | None]:
    """Headline figures: sensors reporting, readings/s, open alerts, dead letters."""
    now = data_now(con)
    if now is None:
        return {
            "now": None,
            "sensors_total": 0,
            "sensors_reporting": 0,
            "readings_per_s": 0.0,
            "open_alerts": 0,
            "dead_letters_1h": 0,
            "readings_total": 0,
        }
    since = now - RECENT
    recent = one(
        con.execute(
            "SELECT count(*) FROM readings WHERE ts > ? AND ts <= ? AND sensor_id "
            f"NOT IN (SELECT sensor_id FROM sensors WHERE type IN {ASSETS})",
            [since, now],
        )
    )[0]
    reporting = int((sensor_status(con)["status"] != "silent").sum())
    sensors_total = one(con.execute(f"SELECT count(*) FROM sensors WHERE type NOT IN {ASSETS}"))[0]
    open_alerts = one(con.execute("SELECT count(*) FROM alerts WHERE closed_at IS NULL"))[0]
    dead = one(
        con.execute("SELECT count(*) FROM dead_letters WHERE received_at > now() - INTERVAL 1 HOUR")
    )[0]
    total = one(con.execute("SELECT count(*) FROM readings"))[0]
    return {
        "now": now,
        "sensors_total": sensors_total,
        "sensors_reporting": reporting,
        "readings_per_s": recent / RECENT.total_seconds(),
        "open_alerts": open_alerts,
        "dead_letters_1h": dead,
        "readings_total": total,
    }


SILENT_INTERVALS = 3
"""A sensor is silent after this many of its type's usual intervals (`interval_s`) without a
reading, and never sooner than `RECENT`."""


def sensor_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every sensor but the assets, with its location and status (alert, anomalous, ...)."""
    now = data_now(con) or datetime.now()
    recent_s = RECENT.total_seconds()
    longest = one(
        con.execute(
            "SELECT greatest(?, ? * max(interval_s)) FROM sensor_types WHERE NOT asset",
            [recent_s, SILENT_INTERVALS],
        )
    )[0]
    return con.execute(
        f"""
        WITH recent AS (
            SELECT sensor_id, max(ts) AS last_ts,
                   coalesce(bool_or(is_anomaly) FILTER (WHERE ts > $recent), false) AS anomalous
            FROM readings WHERE ts > $longest GROUP BY sensor_id
        ), open_alerts AS (
            SELECT DISTINCT sensor_id FROM alerts WHERE closed_at IS NULL
        )
        SELECT s.sensor_id, s.type, s.district, s.lat, s.lon,
               CASE WHEN o.sensor_id IS NOT NULL THEN 'alert'
                    WHEN r.last_ts IS NULL OR r.last_ts <= $now - to_seconds(
                        greatest($recent_s, {SILENT_INTERVALS} * coalesce(t.interval_s, 0))
                    ) THEN 'silent'
                    WHEN r.anomalous THEN 'anomalous'
                    ELSE 'ok' END AS status,
               r.last_ts
        FROM sensors s
        LEFT JOIN sensor_types t ON t.sensor_type = s.type
        LEFT JOIN recent r USING (sensor_id)
        LEFT JOIN open_alerts o USING (sensor_id)
        WHERE s.type NOT IN {ASSETS}
        ORDER BY s.sensor_id
        """,
        {
            "now": now,
            "recent": now - RECENT,
            "recent_s": recent_s,
            "longest": now - timedelta(seconds=float(longest or recent_s)),
        },
    ).df()


def throughput(con: duckdb.DuckDBPyConnection, hours: float = 6.0) -> pd.DataFrame:
    """Readings and anomalies per minute over the last `hours` of data."""
    now = data_now(con)
    if now is None:
        return pd.DataFrame(columns=["minute", "readings", "anomalies"])
    return con.execute(
        "SELECT minute, sum(n)::BIGINT AS readings, sum(anomalies)::BIGINT AS anomalies "
        "FROM readings_1m WHERE minute > ? GROUP BY minute ORDER BY minute",
        [now - timedelta(hours=hours)],
    ).df()


def alerts(
    con: duckdb.DuckDBPyConnection,
    status: str = "all",
    sensor_types: list[str] | None = None,
    districts: list[str] | None = None,
    search: str = "",
    limit: int = 500,
    grouped: bool = True,
) -> pd.DataFrame:
    """Alerts, newest first, filtered by status, type, district and a sensor-id search.

    With `grouped`, sensor alerts that belong to a city event are left out: the event's
    own alert stands for them.
    """
    where = ["1 = 1"]
    if grouped:
        where.append("a.alert_id NOT IN (SELECT alert_id FROM alert_groups)")
    params: list = []
    if status == "open":
        where.append("a.closed_at IS NULL")
    elif status == "closed":
        where.append("a.closed_at IS NOT NULL")
    if sensor_types:
        where.append("list_contains(?, a.sensor_type)")
        params.append(list(sensor_types))
    if districts:
        where.append(
            "list_contains(?, CASE WHEN a.kind = 'city_event' THEN a.sensor_id ELSE s.district END)"
        )
        params.append(list(districts))
    if search:
        where.append("contains(lower(a.sensor_id), lower(?))")
        params.append(search)
    params.append(int(limit))
    return con.execute(
        f"""
        SELECT a.opened_at, a.closed_at,
               CASE WHEN a.closed_at IS NULL THEN 'open' ELSE 'closed' END AS status,
               a.sensor_id,
               CASE WHEN a.kind <> 'city_event'
                    THEN 'sensor?sensor=' || url_encode(a.sensor_id) END AS drill_down,
               a.sensor_type,
               CASE WHEN a.kind = 'city_event' THEN a.sensor_id ELSE s.district END AS district,
               a.metrics, a.peak_score,
               a.anomalous_readings, a.kind, a.severity, a.detector, a.detail, a.model_version,
               coalesce(h.handling, 'new') AS handling, h.handled_by, h.signed_via,
               h.handled_at, h.note,
               a.alert_id
        FROM alerts a LEFT JOIN sensors s USING (sensor_id)
        LEFT JOIN (
            SELECT alert_id, arg_max(action, acted_at) AS handling,
                   arg_max(actor, acted_at) AS handled_by, max(acted_at) AS handled_at,
                   arg_max(note, acted_at) AS note,
                   arg_max(coalesce(actor_source, 'typed'), acted_at) AS signed_via
            FROM alert_actions GROUP BY alert_id
        ) h USING (alert_id)
        WHERE {" AND ".join(where)}
        ORDER BY a.opened_at DESC
        LIMIT ?
        """,
        params,
    ).df()


def sensors(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The sensor registry."""
    return con.execute(
        "SELECT sensor_id, type, district, lat, lon, unit FROM sensors ORDER BY sensor_id"
    ).df()


def sensor_types(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The catalogue's sensor and asset types, as the latest flow started with them."""
    return con.execute("SELECT * FROM sensor_types ORDER BY sensor_type").df()


def sensor_metrics(con: duckdb.DuckDBPyConnection, sensor_type: str) -> list[str]:
    """Metric names of a sensor type in the lake's catalogue, by name."""
    rows = con.execute(
        "SELECT metric FROM metrics WHERE sensor_type = ? ORDER BY metric", [sensor_type]
    ).fetchall()
    return [metric for (metric,) in rows]


def recorded_metrics(con: duckdb.DuckDBPyConnection, sensor_id: str) -> list[str]:
    """Metric names a sensor has reported (for replayed sensors of the open type)."""
    rows = con.execute(
        "SELECT DISTINCT metric FROM readings_1m WHERE sensor_id = ? ORDER BY 1", [sensor_id]
    ).fetchall()
    return [metric for (metric,) in rows]


def sensor_series(
    con: duckdb.DuckDBPyConnection, sensor_id: str, metric: str, hours: float
) -> pd.DataFrame:
    """One metric of one sensor over the last `hours` of its data: value, score, flag."""
    return con.execute(
        """
        SELECT ts, value, score, is_anomaly FROM readings
        WHERE sensor_id = ? AND metric = ?
          AND ts > (SELECT max(ts) FROM readings WHERE sensor_id = ?) - to_seconds(?)
        ORDER BY ts
        """,
        [sensor_id, metric, sensor_id, float(hours) * 3600],
    ).df()


def sensor_labels(con: duckdb.DuckDBPyConnection, sensor_id: str) -> pd.DataFrame:
    """Ground-truth labels of one sensor (simulator or replay), if any."""
    return con.execute(
        "SELECT kind, metric, start_ts, end_ts, event_id FROM labels "
        "WHERE sensor_id = ? ORDER BY start_ts",
        [sensor_id],
    ).df()


def sensor_alerts(con: duckdb.DuckDBPyConnection, sensor_id: str) -> pd.DataFrame:
    """Alerts of one sensor, newest first."""
    return con.execute(
        "SELECT opened_at, closed_at, metrics, peak_score, anomalous_readings FROM alerts "
        "WHERE sensor_id = ? ORDER BY opened_at DESC",
        [sensor_id],
    ).df()


def dead_letters_by_reason(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Dead letters counted by reason category (the text before the first colon) and source."""
    return con.execute(
        "SELECT split_part(reason, ':', 1) AS reason, source, count(*) AS count "
        "FROM dead_letters GROUP BY ALL ORDER BY count DESC"
    ).df()


def dead_letters_over_time(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Dead letters per minute of arrival and reason category, over the last 24 hours."""
    return con.execute(
        "SELECT date_trunc('minute', received_at) AS minute, split_part(reason, ':', 1) AS reason,"
        " count(*) AS count FROM dead_letters"
        " WHERE received_at > now() - INTERVAL 24 HOUR GROUP BY ALL ORDER BY minute"
    ).df()


def recent_dead_letters(
    con: duckdb.DuckDBPyConnection, reason: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """The newest dead letters, optionally of one reason category."""
    return con.execute(
        "SELECT received_at, source, position, sensor_id, reason, payload FROM dead_letters "
        "WHERE ? IS NULL OR split_part(reason, ':', 1) = ? "
        "ORDER BY received_at DESC LIMIT ?",
        [reason, reason, int(limit)],
    ).df()


def asset_risk(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every asset with its latest prediction, highest failure probability first.

    An asset whose latest maintenance event is a failure is `down` (since `down_since`): it
    is out of service, not at risk, and the page lists it apart. The true RUL is shown where
    the lake knows it (the simulator's `asset_truth`).
    """
    return con.execute(
        """
        WITH latest AS (
            SELECT asset_id, max_by(COLUMNS(* EXCLUDE (asset_id)), ts) FROM (
                SELECT asset_id, ts, rul, rul_low, rul_high, failure_prob
                FROM maintenance_predictions
            ) GROUP BY asset_id
        ), truth AS (
            SELECT l.asset_id, epoch(t.failure_ts - l.ts) / 3600 AS true_rul
            FROM latest l ASOF JOIN asset_truth t ON l.asset_id = t.asset_id AND l.ts >= t.from_ts
        ), warnings AS (
            SELECT DISTINCT sensor_id AS asset_id FROM alerts
            WHERE kind = 'maintenance' AND closed_at IS NULL
        ), service AS (
            SELECT asset_id, arg_max(kind, ts) = 'failure' AS down, max(ts) AS since
            FROM maintenance_events
            WHERE asset_id IS NOT NULL AND kind IN ('failure', 'repair', 'maintenance')
            GROUP BY asset_id
        )
        SELECT s.sensor_id AS asset_id, s.type, s.district, l.failure_prob, l.rul, l.rul_low,
               l.rul_high, truth.true_rul, w.asset_id IS NOT NULL AS warning, l.ts AS predicted_at,
               coalesce(v.down, false) AS down, CASE WHEN v.down THEN v.since END AS down_since
        FROM sensors s
        JOIN latest l ON l.asset_id = s.sensor_id
        LEFT JOIN truth USING (asset_id)
        LEFT JOIN warnings w ON w.asset_id = s.sensor_id
        LEFT JOIN service v ON v.asset_id = s.sensor_id
        ORDER BY l.failure_prob DESC, l.rul
        """
    ).df()


def asset_history(con: duckdb.DuckDBPyConnection, asset_id: str, days: float) -> pd.DataFrame:
    """One asset's predictions over its last `days` of data, with the true RUL if known."""
    return con.execute(
        """
        SELECT p.ts, p.rul, p.rul_low, p.rul_high, p.failure_prob,
               epoch(t.failure_ts - p.ts) / 3600 AS true_rul
        FROM maintenance_predictions p
        ASOF LEFT JOIN (SELECT * FROM asset_truth WHERE asset_id = ?) t
          ON p.asset_id = t.asset_id AND p.ts >= t.from_ts
        WHERE p.asset_id = ?
          AND p.ts > (SELECT max(ts) FROM maintenance_predictions WHERE asset_id = ?)
                     - to_seconds(?)
        ORDER BY p.ts
        """,
        [asset_id, asset_id, asset_id, float(days) * 86_400],
    ).df()


def asset_signals(con: duckdb.DuckDBPyConnection, asset_id: str, days: float) -> pd.DataFrame:
    """One asset's condition readings over its last `days` of data (long format)."""
    return con.execute(
        """
        SELECT ts, metric, value FROM readings
        WHERE sensor_id = ? AND metric <> 'run_hours'
          AND ts > (SELECT max(ts) FROM readings WHERE sensor_id = ?) - to_seconds(?)
        ORDER BY ts
        """,
        [asset_id, asset_id, float(days) * 86_400],
    ).df()


def asset_events(con: duckdb.DuckDBPyConnection, asset_id: str) -> pd.DataFrame:
    """Failures, repairs and maintenance visits of one asset."""
    return con.execute(
        "SELECT ts, kind, detail FROM maintenance_events WHERE asset_id = ? ORDER BY ts",
        [asset_id],
    ).df()


def failure_outcomes(con: duckdb.DuckDBPyConnection, ahead_h: float = 24.0) -> pd.DataFrame:
    """Every failure: was it warned at least `ahead_h` hours ahead, and how early."""
    return con.execute(FAILURES_SQL, {"ahead": float(ahead_h)}).df()


def model_health(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Latest prequential figures of each maintenance model, with its drift events."""
    return con.execute(
        """
        SELECT m.model, m.asset_type, m.ts AS updated_at, m.labelled, m.mae, m.rmse,
               m.coverage, m.brier, m.censored,
               (SELECT count(*) FROM maintenance_events e
                WHERE e.asset_id IS NULL AND e.asset_type = m.asset_type
                  AND e.kind = 'drift') AS drift_events
        FROM (SELECT * FROM model_metrics QUALIFY row_number() OVER
              (PARTITION BY model ORDER BY ts DESC, labelled DESC) = 1) m
        ORDER BY m.asset_type
        """
    ).df()


def flow_metrics(con: duckdb.DuckDBPyConnection, hours: float = 24.0) -> pd.DataFrame:
    """The flow's own metrics (`flow_metrics`) of the `hours` before the newest sample."""
    return con.execute(
        "SELECT ts, scope, metric, value FROM flow_metrics "
        "WHERE ts >= (SELECT max(ts) FROM flow_metrics) - to_seconds(?) ORDER BY ts",
        [hours * 3600.0],
    ).df()


def flow_metrics_latest(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each scope's latest value of each metric, with when it was sampled."""
    return con.execute(
        "SELECT scope, metric, arg_max(value, ts) AS value, max(ts) AS sampled_at "
        "FROM flow_metrics GROUP BY ALL ORDER BY scope, metric"
    ).df()
