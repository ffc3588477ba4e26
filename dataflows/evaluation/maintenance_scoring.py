"""Scoring maintenance warnings and RUL predictions against the simulator's ground truth.

Everything is read from a lake the flow wrote, in SQL, so the same figures can be computed
ad hoc. A *warning* is a maintenance alert (`alerts.kind = 'maintenance'`). Per failure:

- its life starts at the asset's previous maintenance event (failure, repair, visit);
- it counts as *scored* when the model made a prediction for the asset in that life at
  least `ahead_h` hours before the failure (before that, it could not have warned);
- it was *warned ahead* when a warning opened in that life at least `ahead_h` hours before
  the failure was still open `ahead_h` hours before it; its *lead time* is the time from
  the opening of the life's last warning to the failure.

A warning is *false* when the asset's true RUL when it opened was longer than the horizon
(it would not have failed within the horizon even if nothing had been done); the share of
warnings beyond twice the horizon tells early warnings from baseless ones.

RUL predictions are compared with the true RUL (capped like the model's targets): mean
absolute error, interval coverage and the Brier score of the failure probability.
"""

from __future__ import annotations

import duckdb

from dataflows.lake.reads import FAILURES_SQL

_WARNINGS = """
SELECT a.sensor_type AS asset_type, a.opened_at,
       epoch(t.failure_ts - a.opened_at) / 3600 AS true_rul_h
FROM alerts a ASOF JOIN asset_truth t
  ON a.sensor_id = t.asset_id AND a.opened_at >= t.from_ts
WHERE a.kind = 'maintenance'
"""

_PREDICTIONS = """
SELECT t.asset_type,
       count(*) AS n,
       avg(abs(p.rul - least(epoch(t.failure_ts - p.ts) / 3600, $cap))) AS mae,
       avg(CASE WHEN least(epoch(t.failure_ts - p.ts) / 3600, $cap)
                     BETWEEN p.rul_low AND p.rul_high THEN 1.0 ELSE 0.0 END) AS coverage,
       avg(power(p.failure_prob - CASE WHEN epoch(t.failure_ts - p.ts) / 3600 <= $horizon
                                       THEN 1.0 ELSE 0.0 END, 2)) AS brier,
       avg(abs(p.rul - epoch(t.failure_ts - p.ts) / 3600))
           FILTER (WHERE epoch(t.failure_ts - p.ts) / 3600 <= $horizon) AS mae_within_horizon
FROM maintenance_predictions p ASOF JOIN asset_truth t
  ON p.asset_id = t.asset_id AND p.ts >= t.from_ts
GROUP BY ALL
"""


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def score(
    con: duckdb.DuckDBPyConnection,
    horizon_h: float = 168.0,
    ahead_h: float = 24.0,
    cap_h: float = 720.0,
) -> dict[str, object]:
    """Warning and RUL figures of the lake behind `con`, overall and per asset type."""
    failures = con.execute(FAILURES_SQL, {"ahead": ahead_h}).fetchall()
    warnings = con.execute(_WARNINGS).fetchall()
    predictions = con.execute(_PREDICTIONS, {"cap": cap_h, "horizon": horizon_h}).fetchall()
    types = sorted({row[1] for row in failures} | {row[0] for row in warnings})
    per_type = {
        asset_type: _warning_figures(
            [f for f in failures if f[1] == asset_type],
            [w for w in warnings if w[0] == asset_type],
            horizon_h,
        )
        for asset_type in types
    }
    for asset_type, n, mae, coverage, brier, mae_near in predictions:
        per_type.setdefault(asset_type, {}).update(
            {
                "predictions": n,
                "rul_mae_h": _rounded(mae, 1),
                "rul_mae_within_horizon_h": _rounded(mae_near, 1),
                "interval_coverage": _rounded(coverage),
                "brier": _rounded(brier),
            }
        )
    overall = _warning_figures(failures, warnings, horizon_h)
    n_predictions = sum(row[1] for row in predictions)
    if n_predictions:
        overall["predictions"] = n_predictions
        for name, column in (("rul_mae_h", 2), ("interval_coverage", 3), ("brier", 4)):
            weighted = sum(row[column] * row[1] for row in predictions) / n_predictions
            overall[name] = _rounded(weighted, 3 if name != "rul_mae_h" else 1)
    return {
        **overall,
        "horizon_h": horizon_h,
        "ahead_h": ahead_h,
        "types": per_type,
    }


def _warning_figures(failures: list[tuple], warnings: list[tuple], horizon_h: float) -> dict:
    scored = [f for f in failures if f[3]]
    warned = [f for f in scored if f[4]]
    leads = sorted(f[5] for f in scored if f[5] is not None)
    false = [w for w in warnings if w[2] is None or w[2] > horizon_h]
    far = [w for w in warnings if w[2] is None or w[2] > 2 * horizon_h]
    true_ruls = sorted(w[2] for w in warnings if w[2] is not None)
    return {
        "failures": len(failures),
        "failures_scored": len(scored),
        "warned_ahead_share": _rounded(len(warned) / len(scored)) if scored else None,
        "median_lead_h": _rounded(leads[len(leads) // 2], 1) if leads else None,
        "warnings": len(warnings),
        "false_warning_share": _rounded(len(false) / len(warnings)) if warnings else None,
        "beyond_twice_horizon_share": _rounded(len(far) / len(warnings)) if warnings else None,
        "median_true_rul_at_warning_h": (
            _rounded(true_ruls[len(true_ruls) // 2], 1) if true_ruls else None
        ),
    }
