"""The lake's read side: queries that more than one reader (the dashboard, evaluations) runs.

A *warning* is a maintenance alert (`alerts.kind = 'maintenance'`); a failure's life starts
at the asset's previous maintenance event (failure, repair, visit). See
`dataflows.evaluation.maintenance_scoring` for what the figures mean.
"""

FAILURES_SQL = """
WITH events AS (
    SELECT asset_id, asset_type, ts, kind FROM maintenance_events WHERE asset_id IS NOT NULL
), failures AS (
    SELECT f.asset_id, f.asset_type, f.ts AS failure_ts,
           coalesce(
               (SELECT max(e.ts) FROM events e WHERE e.asset_id = f.asset_id AND e.ts < f.ts),
               TIMESTAMPTZ '1970-01-01 00:00:00+00'
           ) AS life_start
    FROM events f WHERE f.kind = 'failure'
), warnings AS (
    SELECT sensor_id AS asset_id, opened_at, closed_at FROM alerts WHERE kind = 'maintenance'
)
SELECT f.asset_id, f.asset_type, f.failure_ts,
       EXISTS (
           SELECT 1 FROM maintenance_predictions p
           WHERE p.asset_id = f.asset_id AND p.ts <= f.failure_ts - to_seconds($ahead * 3600)
             AND p.ts > f.life_start
       ) AS scored,
       EXISTS (
           SELECT 1 FROM warnings w
           WHERE w.asset_id = f.asset_id
             AND w.opened_at > f.life_start
             AND w.opened_at <= f.failure_ts - to_seconds($ahead * 3600)
             AND (w.closed_at IS NULL OR w.closed_at >= f.failure_ts - to_seconds($ahead * 3600))
       ) AS warned,
       (SELECT epoch(f.failure_ts - max(w.opened_at)) / 3600 FROM warnings w
        WHERE w.asset_id = f.asset_id AND w.opened_at <= f.failure_ts
          AND w.opened_at > f.life_start
       ) AS lead_h
FROM failures f
ORDER BY f.failure_ts
"""
"""Every failure: asset, type, time, scored, warned ahead, lead time (h); `$ahead` hours."""
