"""How well the flow's alerts find the simulator's labelled anomalies, per kind.

The city simulator knows every anomaly it injects (`labels`: spikes, level shifts, drifts,
stuck sensors, dropouts, and the city events road closure and pollution episode, one label
per affected sensor). After a simulated run, alerts are matched to labels in SQL:

- a label is *detected* when an alert of its sensor is open at some moment between the
  label's start and `grace_s` seconds after its end; its *delay* is the time from the
  label's start to the first such alert's opening (0 if one was already open);
- an alert is *true* when it overlaps (with the same grace) a label of its sensor;
- per kind: recall (detected / labels), precision (true alerts matched to that kind /
  (those + false alerts spread over the kinds in proportion to their labels)), F1, median
  and 90th-percentile delay;
- overall: precision, alerts and false alerts per sensor per day, and precision at a fixed
  budget of the highest-scoring alerts (`budget_per_sensor_day`);
- city events (`dataflows.flow.districts`): an event (one `event_id`) is detected when a
  `city_event` alert of its district overlaps it (with the grace); a `city_event` alert is
  true when it overlaps an event of its district; recall, precision, median delay;
- told apart: of the detected city-event labels, the share whose sensor alert was grouped
  into a city event; of the detected sensor faults (`stuck`, `dropout`), the share found
  by a `sensor_fault` alert and never grouped into a city event.

The first `probation_hours` are not scored: detectors learn the city's rhythms there.
"""

from __future__ import annotations

import duckdb

from dataflows.lake.connection import one

PROBATION_HOURS = 48.0
GRACE_S = 600.0
BUDGET_PER_SENSOR_DAY = 0.1


def score(
    con: duckdb.DuckDBPyConnection,
    probation_hours: float = PROBATION_HOURS,
    grace_s: float = GRACE_S,
    budget_per_sensor_day: float = BUDGET_PER_SENSOR_DAY,
    until_hours: float | None = None,
) -> dict[str, object]:
    """Per-kind and overall figures of the alerts in the lake of `con` (see module doc).

    Labels and alerts that start between `probation_hours` and `until_hours` (the end of
    the run by default) after the first reading are scored.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _span AS
        SELECT min(ts) + to_seconds(CAST(? AS DOUBLE) * 3600) AS scored_from,
               least(max(ts), coalesce(min(ts) + to_seconds(CAST(? AS DOUBLE) * 3600), max(ts)))
                 AS until,
               count(DISTINCT sensor_id) AS sensors
        FROM readings
        """,
        [probation_hours, until_hours],
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _labels AS
        SELECT row_number() OVER () AS label_id, l.*
        FROM labels l, _span s WHERE l.start_ts >= s.scored_from AND l.start_ts <= s.until
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _alerts AS
        SELECT a.alert_id, a.sensor_id, a.opened_at, a.peak_score,
               coalesce(a.closed_at, s.until) AS closed_at
        FROM alerts a, _span s
        WHERE a.opened_at BETWEEN s.scored_from AND s.until
          AND a.kind IN ('anomaly', 'sensor_fault')
        """
    )
    grace = f"to_seconds(CAST({float(grace_s)} AS DOUBLE))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _matches AS
        SELECT l.label_id, l.kind, a.alert_id, a.opened_at, l.start_ts
        FROM _labels l JOIN _alerts a ON a.sensor_id = l.sensor_id
         AND a.opened_at <= l.end_ts + {grace} AND a.closed_at >= l.start_ts
        """
    )
    sensors, days = one(
        con.execute("SELECT sensors, greatest(epoch(until - scored_from), 0) / 86400 FROM _span")
    )
    n_alerts = one(con.execute("SELECT count(*) FROM _alerts"))[0]
    true_alerts = one(con.execute("SELECT count(DISTINCT alert_id) FROM _matches"))[0]
    false_alerts = n_alerts - true_alerts
    n_labels = one(con.execute("SELECT count(*) FROM _labels"))[0]
    per_kind = {}
    for kind, labels, detected, median, p90, kind_alerts in con.execute(
        """
        WITH first AS (
            SELECT label_id, kind, greatest(epoch(min(opened_at) - min(start_ts)), 0) AS delay
            FROM _matches GROUP BY label_id, kind
        ), kinds AS (
            SELECT l.kind, count(*) AS labels, count(f.label_id) AS detected,
                   median(f.delay) AS median_delay, quantile_cont(f.delay, 0.9) AS p90_delay
            FROM _labels l LEFT JOIN first f USING (label_id) GROUP BY l.kind
        )
        SELECT k.*, (SELECT count(DISTINCT alert_id) FROM _matches m WHERE m.kind = k.kind)
        FROM kinds k ORDER BY k.kind
        """
    ).fetchall():
        recall = detected / labels
        blamed = false_alerts * labels / n_labels if n_labels else 0.0
        precision = kind_alerts / (kind_alerts + blamed) if kind_alerts + blamed else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_kind[kind] = {
            "labels": labels,
            "detected": detected,
            "recall": round(recall, 4),
            "precision": round(precision, 4),
            "f1": round(f1, 4),
            "median_delay_s": None if median is None else round(median, 1),
            "p90_delay_s": None if p90 is None else round(p90, 1),
        }
    budget = max(1, round(budget_per_sensor_day * sensors * days)) if sensors and days else 0
    top_true = one(
        con.execute(
            """
        SELECT count(*) FILTER (WHERE alert_id IN (SELECT alert_id FROM _matches))
        FROM (SELECT alert_id FROM _alerts ORDER BY peak_score DESC, alert_id LIMIT ?)
        """,
            [budget],
        )
    )[0]
    sensor_days = sensors * days if sensors and days else 1.0
    return {
        "city_events": _city_events(con, grace),
        "told_apart": _told_apart(con),
        "sensors": sensors,
        "scored_days": round(days, 2),
        "labels": n_labels,
        "alerts": n_alerts,
        "precision": round(true_alerts / n_alerts, 4) if n_alerts else 0.0,
        "alerts_per_sensor_day": round(n_alerts / sensor_days, 4),
        "false_alerts_per_sensor_day": round(false_alerts / sensor_days, 4),
        "budget": budget,
        "precision_at_budget": round(top_true / budget, 4) if budget else 0.0,
        "kinds": per_kind,
    }


def _city_events(con: duckdb.DuckDBPyConnection, grace: str) -> dict[str, float | int | None]:
    """City-event alerts against the labelled city events (see the module docstring)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _events AS
        SELECT event_id, any_value(district) AS district, min(start_ts) AS start_ts,
               max(end_ts) AS end_ts
        FROM _labels WHERE event_id IS NOT NULL GROUP BY event_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _city AS
        SELECT a.alert_id, a.sensor_id AS district, a.opened_at,
               coalesce(a.closed_at, s.until) AS closed_at
        FROM alerts a, _span s
        WHERE a.kind = 'city_event' AND a.opened_at BETWEEN s.scored_from AND s.until
        """
    )
    matches = f"""
        SELECT e.event_id, c.alert_id, greatest(epoch(c.opened_at - e.start_ts), 0) AS delay
        FROM _events e JOIN _city c ON c.district = e.district
         AND c.opened_at <= e.end_ts + {grace} AND c.closed_at >= e.start_ts
    """
    events, detected, alerts, true_alerts, median = one(
        con.execute(
            f"""
        WITH m AS ({matches}), first AS (
            SELECT event_id, min(delay) AS delay FROM m GROUP BY event_id
        )
        SELECT (SELECT count(*) FROM _events), (SELECT count(*) FROM first),
               (SELECT count(*) FROM _city), (SELECT count(DISTINCT alert_id) FROM m),
               (SELECT median(delay) FROM first)
        """
        )
    )
    return {
        "events": events,
        "detected": detected,
        "recall": round(detected / events, 4) if events else None,
        "alerts": alerts,
        "precision": round(true_alerts / alerts, 4) if alerts else None,
        "median_delay_s": None if median is None else round(median, 1),
    }


def _told_apart(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """How often city events and sensor faults were classed as such (module docstring)."""
    grouped_events, events, faults_ok, faults = one(
        con.execute(
            """
        WITH m AS (
            SELECT m.label_id, l.event_id, l.kind, a.kind AS alert_kind,
                   g.group_id IS NOT NULL AS grouped
            FROM _matches m JOIN _labels l USING (label_id)
            JOIN alerts a USING (alert_id)
            LEFT JOIN alert_groups g USING (alert_id)
        ), per_label AS (
            SELECT label_id, any_value(event_id) AS event_id, any_value(kind) AS kind,
                   bool_or(grouped) AS grouped,
                   bool_or(alert_kind = 'sensor_fault') AS as_fault
            FROM m GROUP BY label_id
        )
        SELECT count(*) FILTER (WHERE event_id IS NOT NULL AND grouped),
               count(*) FILTER (WHERE event_id IS NOT NULL),
               count(*) FILTER (WHERE kind IN ('stuck', 'dropout') AND as_fault AND NOT grouped),
               count(*) FILTER (WHERE kind IN ('stuck', 'dropout'))
        FROM per_label
        """
        )
    )
    return {
        "city_event_labels_grouped": round(grouped_events / events, 4) if events else None,
        "faults_classed_as_faults": round(faults_ok / faults, 4) if faults else None,
    }
