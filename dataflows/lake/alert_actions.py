"""What operators do with alerts: acknowledge them, resolve them; kept in the lake for all.

Actions are appended to `alert_actions` (alert id, action, who, when, note, and how the
dashboard knew who: `header:<name>` behind single sign-on, `typed` otherwise), never updated,
so the flow, which writes `alerts`, and any number of dashboards never conflict; an alert's
handling is its latest action (`handling` in `dashboard.queries.alerts`):

    SELECT alert_id, arg_max(action, acted_at) AS handling FROM alert_actions GROUP BY alert_id
"""

from __future__ import annotations

from dataflows import lake
from dataflows.lake.address import Lake
from dataflows.messages.schema import now_ms, text_problem

ACTIONS = {"acknowledged": "Acknowledge", "resolved": "Resolve"}
"""The actions an operator can take (stored name -> what the button says), in usual order."""


def record(
    lake_path: Lake,
    alert_ids: list[str],
    action: str,
    actor: str,
    note: str = "",
    actor_source: str = "typed",
) -> int:
    """Append `action` by `actor` on each of `alert_ids`; return how many were recorded.

    `actor_source` says how the actor is known (`typed`, or `header:X-Forwarded-User` when a
    proxy's single sign-on named them). Raises ValueError for an unknown action, a missing
    or unprintable name, or an alert id that the lake does not know (nothing is written then).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    actor = actor.strip()
    if not actor:
        raise ValueError("say who you are: actions are signed")
    problem = text_problem(actor, 128)
    if problem is not None:
        raise ValueError(f"the name {problem}")
    if not alert_ids:
        return 0
    con = lake.connect(lake_path)
    try:
        known = {
            row[0]
            for row in con.execute(
                "SELECT alert_id FROM alerts WHERE list_contains(?, alert_id)", [alert_ids]
            ).fetchall()
        }
        unknown = sorted(set(alert_ids) - known)
        if unknown:
            raise ValueError(f"no such alert: {', '.join(unknown)}")
        at = now_ms()
        rows = [
            (alert_id, action, actor, at, note.strip() or None, actor_source)
            for alert_id in alert_ids
        ]
        with lake.writer_lock(lake_path), lake.transaction(con):
            lake.insert(con, "alert_actions", rows)
        return len(rows)
    finally:
        con.close()
