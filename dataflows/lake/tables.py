"""The lake's table contract: every table's columns, with their DuckDB and Arrow types.

>>> [name for name, _, _ in TABLES["alert_groups"]]
['group_id', 'alert_id']
"""

from __future__ import annotations

import pyarrow as pa

CATALOG = "lake"
"""Name under which the lake is attached; `USE lake` makes its tables the default."""


TS = pa.timestamp("ms", tz="UTC")


TABLES: dict[str, list[tuple[str, str, pa.DataType]]] = {
    "sensors": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("type", "VARCHAR", pa.string()),
        ("district", "VARCHAR", pa.string()),
        ("lat", "DOUBLE", pa.float64()),
        ("lon", "DOUBLE", pa.float64()),
        ("unit", "VARCHAR", pa.string()),
        ("first_seen", "TIMESTAMPTZ", TS),
    ],
    "readings": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("metric", "VARCHAR", pa.string()),
        ("value", "DOUBLE", pa.float64()),
        ("score", "DOUBLE", pa.float64()),
        ("is_anomaly", "BOOLEAN", pa.bool_()),
    ],
    "readings_1m": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("minute", "TIMESTAMPTZ", TS),
        ("n", "INTEGER", pa.int32()),
        ("mean", "DOUBLE", pa.float64()),
        ("min", "DOUBLE", pa.float64()),
        ("max", "DOUBLE", pa.float64()),
        ("anomalies", "INTEGER", pa.int32()),
        ("max_score", "DOUBLE", pa.float64()),
    ],
    "alerts": [
        ("alert_id", "VARCHAR", pa.string()),
        ("sensor_id", "VARCHAR", pa.string()),
        ("sensor_type", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("metrics", "VARCHAR", pa.string()),
        ("opened_at", "TIMESTAMPTZ", TS),
        ("closed_at", "TIMESTAMPTZ", TS),
        ("peak_score", "DOUBLE", pa.float64()),
        ("anomalous_readings", "INTEGER", pa.int32()),
        ("detector", "VARCHAR", pa.string()),
        ("severity", "VARCHAR", pa.string()),
        ("model_version", "VARCHAR", pa.string()),
        ("detail", "VARCHAR", pa.string()),
    ],
    "alert_actions": [
        ("alert_id", "VARCHAR", pa.string()),
        ("action", "VARCHAR", pa.string()),
        ("actor", "VARCHAR", pa.string()),
        ("acted_at", "TIMESTAMPTZ", TS),
        ("note", "VARCHAR", pa.string()),
    ],
    "evaluations": [
        ("evaluated_at", "TIMESTAMPTZ", TS),
        ("dataset", "VARCHAR", pa.string()),
        ("scope", "VARCHAR", pa.string()),
        ("figure", "VARCHAR", pa.string()),
        ("value", "DOUBLE", pa.float64()),
    ],
    "labels": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("start_ts", "TIMESTAMPTZ", TS),
        ("end_ts", "TIMESTAMPTZ", TS),
        ("event_id", "VARCHAR", pa.string()),
        ("district", "VARCHAR", pa.string()),
    ],
    "dead_letters": [
        ("received_at", "TIMESTAMPTZ", TS),
        ("source", "VARCHAR", pa.string()),
        ("position", "VARCHAR", pa.string()),
        ("sensor_id", "VARCHAR", pa.string()),
        ("reason", "VARCHAR", pa.string()),
        ("payload", "VARCHAR", pa.string()),
    ],
    "change_points": [
        ("sensor_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("metrics", "VARCHAR", pa.string()),
        ("detector", "VARCHAR", pa.string()),
        ("statistic", "DOUBLE", pa.float64()),
    ],
    "maintenance_predictions": [
        ("asset_id", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("rul", "DOUBLE", pa.float64()),
        ("rul_low", "DOUBLE", pa.float64()),
        ("rul_high", "DOUBLE", pa.float64()),
        ("failure_prob", "DOUBLE", pa.float64()),
        ("model", "VARCHAR", pa.string()),
    ],
    "maintenance_events": [
        ("ts", "TIMESTAMPTZ", TS),
        ("asset_type", "VARCHAR", pa.string()),
        ("asset_id", "VARCHAR", pa.string()),
        ("kind", "VARCHAR", pa.string()),
        ("detail", "VARCHAR", pa.string()),
    ],
    "model_metrics": [
        ("model", "VARCHAR", pa.string()),
        ("asset_type", "VARCHAR", pa.string()),
        ("ts", "TIMESTAMPTZ", TS),
        ("labelled", "BIGINT", pa.int64()),
        ("mae", "DOUBLE", pa.float64()),
        ("rmse", "DOUBLE", pa.float64()),
        ("coverage", "DOUBLE", pa.float64()),
        ("brier", "DOUBLE", pa.float64()),
        ("censored", "BIGINT", pa.int64()),
    ],
    "asset_truth": [
        ("asset_id", "VARCHAR", pa.string()),
        ("asset_type", "VARCHAR", pa.string()),
        ("from_ts", "TIMESTAMPTZ", TS),
        ("failure_ts", "TIMESTAMPTZ", TS),
    ],
    "alert_groups": [
        ("group_id", "VARCHAR", pa.string()),
        ("alert_id", "VARCHAR", pa.string()),
    ],
    "model_resets": [
        ("reset_at", "TIMESTAMPTZ", TS),
        ("step", "VARCHAR", pa.string()),
        ("key", "VARCHAR", pa.string()),
        ("what", "VARCHAR", pa.string()),
        ("reason", "VARCHAR", pa.string()),
        ("position", "VARCHAR", pa.string()),
    ],
    "data_gaps": [
        ("detected_at", "TIMESTAMPTZ", TS),
        ("source_partition", "VARCHAR", pa.string()),
        ("first_offset", "BIGINT", pa.int64()),
        ("last_offset", "BIGINT", pa.int64()),
        ("missing", "BIGINT", pa.int64()),
        ("reason", "VARCHAR", pa.string()),
    ],
    "alert_deliveries": [
        ("event_id", "VARCHAR", pa.string()),
        ("alert_id", "VARCHAR", pa.string()),
        ("channel", "VARCHAR", pa.string()),
        ("status", "VARCHAR", pa.string()),
        ("attempted_at", "TIMESTAMPTZ", TS),
        ("detail", "VARCHAR", pa.string()),
    ],
    "sink_progress": [
        ("source_partition", "VARCHAR", pa.string()),
        ("max_offset", "BIGINT", pa.int64()),
        ("committed_at", "TIMESTAMPTZ", TS),
    ],
    "metrics": [
        ("sensor_type", "VARCHAR", pa.string()),
        ("metric", "VARCHAR", pa.string()),
        ("unit", "VARCHAR", pa.string()),
        ("low", "DOUBLE", pa.float64()),
        ("high", "DOUBLE", pa.float64()),
        ("description", "VARCHAR", pa.string()),
    ],
}
"""Every table: (column, DuckDB type, Arrow type), in the order of the row tuples."""


_CLOSURES = [
    ("alert_id", "VARCHAR", pa.string()),
    ("closed_at", "TIMESTAMPTZ", TS),
    ("peak_score", "DOUBLE", pa.float64()),
    ("metrics", "VARCHAR", pa.string()),
    ("anomalous_readings", "INTEGER", pa.int32()),
    ("severity", "VARCHAR", pa.string()),
]


NATURAL_KEYS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "readings": (("sensor_id", "ts", "metric"), "ts"),
    "readings_1m": (("sensor_id", "metric", "minute"), "minute"),
    "alerts": (("alert_id",), "opened_at"),
    "labels": (("sensor_id", "kind", "start_ts"), "start_ts"),
    "dead_letters": (("source", "position", "reason"), None),
    "change_points": (("sensor_id", "ts", "detector"), "ts"),
    "maintenance_predictions": (("asset_id", "ts", "model"), "ts"),
    "maintenance_events": (("asset_type", "asset_id", "ts", "kind"), "ts"),
    "model_metrics": (("model", "ts"), "ts"),
    "asset_truth": (("asset_id", "from_ts"), "from_ts"),
    "alert_groups": (("group_id", "alert_id"), None),
    "model_resets": (("step", "key", "reset_at", "reason"), "reset_at"),
    "data_gaps": (("source_partition", "first_offset"), None),
    "alert_deliveries": (("event_id", "channel", "status"), None),
}
"""Columns that identify a row of each table, and the time column that bounds the search."""


RETENTION: dict[str, tuple[str, bool]] = {
    "readings": ("ts", True),
    "readings_1m": ("minute", True),
    "dead_letters": ("received_at", False),
}
"""Table -> (time column, whether its age counts from the newest row rather than now)."""


def arrow_table(columns: list[tuple[str, str, pa.DataType]], rows: list[tuple]) -> pa.Table:
    """Row tuples as an Arrow table with the lake's types."""
    data = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pa.table(
        [pa.array(col, type=arrow) for (_, _, arrow), col in zip(columns, data, strict=True)],
        names=[name for name, _, _ in columns],
    )
