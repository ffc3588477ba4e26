"""What happened to alerts, read from the lake as events with a stable id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

EVENTS = ("opened", "closed", "acknowledged", "resolved")
"""The kinds of event a channel can ask for."""

_SQL = """
WITH touched AS (
    SELECT alert_id FROM alerts WHERE opened_at > $since OR closed_at > $since
    UNION SELECT alert_id FROM alert_actions WHERE acted_at > $since
)
SELECT a.alert_id, a.sensor_id, a.sensor_type, a.kind, a.severity, a.metrics, a.peak_score,
       a.anomalous_readings, a.detector, a.detail, a.opened_at, a.closed_at,
       CASE WHEN a.kind = 'city_event' THEN a.sensor_id ELSE s.district END AS district
FROM alerts a JOIN touched USING (alert_id) LEFT JOIN sensors s USING (sensor_id)
"""


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def alert_events(con: duckdb.DuckDBPyConnection, since_ms: int) -> list[dict[str, Any]]:
    """Every alert event after `since_ms` (epoch ms), oldest first.

    An event is `{"event_id", "event", "at" (epoch ms), "alert": {...}}`, and acknowledgements
    and resolutions also carry `actor`, `actor_source` and `note`. Ids: `<alert>:opened`,
    `<alert>:closed`, `<alert>:<action>:<ms>`.
    """
    since = datetime.fromtimestamp(since_ms / 1000).astimezone()
    cursor = con.execute(_SQL, {"since": since})
    names = [d[0] for d in cursor.description]
    alerts = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    if not alerts:
        return []
    actions = con.execute(
        "SELECT alert_id, action, actor, acted_at, note, actor_source FROM alert_actions"
        " WHERE acted_at > $since AND list_contains($ids, alert_id)",
        {"since": since, "ids": list(alerts)},
    ).fetchall()
    carried = {alert_id: _alert_json(alert) for alert_id, alert in alerts.items()}
    events = []
    for alert_id, alert in carried.items():
        opened, closed = alert["opened_at"], alert["closed_at"]
        if opened > since_ms:
            events.append(_event(f"{alert_id}:opened", "opened", opened, alert))
        if closed is not None and closed > since_ms:
            events.append(_event(f"{alert_id}:closed", "closed", closed, alert))
    for alert_id, action, actor, acted_at, note, source in actions:
        at = _ms(acted_at)
        event = _event(f"{alert_id}:{action}:{at}", action, at, carried[alert_id])
        event.update(actor=actor, actor_source=source or "typed", note=note)
        events.append(event)
    return sorted(events, key=lambda e: (e["at"], e["event_id"]))


def _alert_json(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert row as the JSON an event carries (times in epoch ms, metrics as a list)."""
    carried = {
        key: (_ms(value) if isinstance(value, datetime) else value) for key, value in alert.items()
    }
    carried["metrics"] = [m for m in (alert["metrics"] or "").split(",") if m]
    return carried


def _event(event_id: str, kind: str, at: int, alert: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "event": kind, "at": at, "alert": alert}
