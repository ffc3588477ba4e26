"""The lake's table contract: each table declared once, as a typed row and its properties.

A table is a `NamedTuple` of its row (column names, in order, with their types) and a
`Table` entry: its natural key, the time column that bounds the exactly-once search, its
retention and what it holds. The DDL, the Arrow types, the writers, the anti-join of
replayed rows, retention and the table list of `docs/lake.md` all come from here.

>>> TABLES["alert_groups"].names
('group_id', 'alert_id')
>>> TABLES["readings"].columns[1]
Column(name='ts', sql='TIMESTAMPTZ', arrow=TimestampType(timestamp[ms, tz=UTC]))
>>> ReadingRow("noise-1", 1767225600000, "laeq", 55.0, 0.1, False).value
55.0
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa

from dataflows.messages.schema import DeadLetter, Int32, Millis

CATALOG = "lake"
"""Name under which the lake is attached; `USE lake` makes its tables the default."""

TS = pa.timestamp("ms", tz="UTC")


_TYPES: dict[object, tuple[str, pa.DataType]] = {
    str: ("VARCHAR", pa.string()),
    float: ("DOUBLE", pa.float64()),
    bool: ("BOOLEAN", pa.bool_()),
    int: ("BIGINT", pa.int64()),
    Int32: ("INTEGER", pa.int32()),
    Millis: ("TIMESTAMPTZ", TS),
}


class SensorRow(NamedTuple):
    sensor_id: str
    type: str
    district: str | None
    lat: float | None
    lon: float | None
    unit: str
    first_seen: Millis


class ReadingRow(NamedTuple):
    sensor_id: str
    ts: Millis
    metric: str
    value: float
    score: float | None
    is_anomaly: bool


class MinuteRow(NamedTuple):
    sensor_id: str
    metric: str
    minute: Millis
    n: Int32
    mean: float
    min: float
    max: float
    anomalies: Int32
    max_score: float


class AlertRow(NamedTuple):
    alert_id: str
    sensor_id: str
    sensor_type: str
    kind: str
    metrics: str
    opened_at: Millis
    closed_at: Millis | None
    peak_score: float
    anomalous_readings: Int32
    detector: str
    severity: str
    model_version: str | None
    detail: str | None


class AlertClosure(NamedTuple):
    """Not a table's row: the closing of an open alert, applied to `alerts` by its id."""

    alert_id: str
    closed_at: Millis
    peak_score: float
    metrics: str
    anomalous_readings: Int32
    severity: str


class AlertActionRow(NamedTuple):
    alert_id: str
    action: str
    actor: str
    acted_at: Millis
    note: str | None
    actor_source: str | None


class EvaluationRow(NamedTuple):
    evaluated_at: Millis
    dataset: str
    scope: str
    figure: str
    value: float


class LabelRow(NamedTuple):
    sensor_id: str
    kind: str
    metric: str | None
    start_ts: Millis
    end_ts: Millis
    event_id: str | None
    district: str | None


class ChangePointRow(NamedTuple):
    sensor_id: str
    ts: Millis
    metrics: str
    detector: str
    statistic: float


class PredictionRow(NamedTuple):
    asset_id: str
    ts: Millis
    rul: float
    rul_low: float
    rul_high: float
    failure_prob: float
    model: str


class MaintenanceEventRow(NamedTuple):
    ts: Millis
    asset_type: str
    asset_id: str | None
    kind: str
    detail: str | None


class ModelMetricRow(NamedTuple):
    model: str
    asset_type: str
    ts: Millis
    labelled: int
    mae: float | None
    rmse: float | None
    coverage: float | None
    brier: float | None
    censored: int


class AssetTruthRow(NamedTuple):
    asset_id: str
    asset_type: str
    from_ts: Millis
    failure_ts: Millis


class AlertGroupRow(NamedTuple):
    group_id: str
    alert_id: str


class ModelResetRow(NamedTuple):
    reset_at: Millis
    step: str
    key: str
    what: str
    reason: str
    position: str | None


class DataGapRow(NamedTuple):
    detected_at: Millis
    source_partition: str
    first_offset: int
    last_offset: int
    missing: int
    reason: str


class AlertDeliveryRow(NamedTuple):
    event_id: str
    alert_id: str | None
    channel: str
    status: str
    attempted_at: Millis
    detail: str | None


class SinkProgressRow(NamedTuple):
    source_partition: str
    max_offset: int
    committed_at: Millis


class FlowMetricRow(NamedTuple):
    ts: Millis
    scope: str
    metric: str
    value: float


class MetricRow(NamedTuple):
    sensor_type: str
    metric: str
    unit: str
    low: float
    high: float
    description: str
    signal: str | None
    detector: str | None


class SensorTypeRow(NamedTuple):
    sensor_type: str
    description: str
    asset: bool
    interval_s: float | None
    horizon_h: float | None


class Column(NamedTuple):
    """One column: its name, DuckDB type and Arrow type."""

    name: str
    sql: str
    arrow: pa.DataType


def columns_of(row: type[tuple]) -> tuple[Column, ...]:
    """The columns of a row type, from its annotations (`X | None` is a nullable `X`)."""
    hints = typing.get_type_hints(row, include_extras=True)
    out = []
    for name in row._fields:  # type: ignore[attr-defined]
        hint = hints[name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        sql, arrow = _TYPES[hint]
        out.append(Column(name, sql, arrow))
    return tuple(out)


@dataclass(frozen=True)
class Retention:
    """Rows older than the setting's number of days are deleted by `just compact`."""

    column: str
    setting: str
    """The `Settings` field with the days to keep (0 keeps for ever)."""
    from_newest: bool
    """Age counts from the newest row (so a replay of last year is kept), else from now."""


@dataclass(frozen=True)
class Table:
    """One table of the lake: its row type and how it is written and kept."""

    name: str
    row: type[tuple]
    doc: str
    key: tuple[str, ...] = ()
    """The natural key: a replayed row with the key of a stored one is not written again."""
    bound: str | None = None
    """The time column that bounds the search for stored keys (None: the whole table)."""
    retention: Retention | None = None
    from_flow: bool = True
    """Whether the flow writes it (its rows travel in `Rows`)."""
    first_wins: bool = False
    """A row whose key is stored already is never written, replayed or not."""
    notes: dict[str, str] = field(default_factory=dict)
    """What a column holds, where its name does not say it all (for the docs)."""
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", columns_of(self.row))
        named = {*self.key, *self.notes, *([self.bound] if self.bound else [])}
        unknown = named - set(self.names)
        if unknown:
            raise ValueError(f"table {self.name} names columns it lacks: {sorted(unknown)}")

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(self.row._fields)  # type: ignore[attr-defined]


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "sensors",
            SensorRow,
            "every sensor and asset seen, with where it is",
            key=("sensor_id",),
            first_wins=True,
            notes={"unit": "units of its metrics"},
        ),
        Table(
            "readings",
            ReadingRow,
            "one row per validated reading and metric",
            key=("sensor_id", "ts", "metric"),
            bound="ts",
            retention=Retention("ts", "retention_readings_days", from_newest=True),
            notes={"score": "0–1"},
        ),
        Table(
            "readings_1m",
            MinuteRow,
            "final event-time minutes",
            key=("sensor_id", "metric", "minute"),
            bound="minute",
            retention=Retention("minute", "retention_aggregates_days", from_newest=True),
        ),
        Table(
            "alerts",
            AlertRow,
            "one row per alert; closings update it",
            key=("alert_id",),
            bound="opened_at",
            notes={
                "kind": "`anomaly`, `sensor_fault`, `city_event` (its `sensor_id` is the"
                " district) or `maintenance`",
                "closed_at": "NULL while open",
                "detail": "e.g. a dropout's silence",
            },
        ),
        Table(
            "labels",
            LabelRow,
            "ground truth",
            key=("sensor_id", "kind", "start_ts"),
            bound="start_ts",
            notes={"metric": "NULL = all", "event_id": "city events"},
        ),
        Table(
            "dead_letters",
            DeadLetter,
            "what the flow refused, and why",
            key=("source", "position", "reason"),
            retention=Retention("received_at", "retention_dead_letters_days", from_newest=False),
            notes={"reason": "`category: detail`"},
        ),
        Table(
            "change_points",
            ChangePointRow,
            "moments a device changed state",
            key=("sensor_id", "ts", "detector"),
            bound="ts",
            notes={"metrics": "those that moved most"},
        ),
        Table(
            "maintenance_predictions",
            PredictionRow,
            "remaining useful life of each asset, as predicted",
            key=("asset_id", "ts", "model"),
            bound="ts",
            notes={
                "rul_high": "hours",
                "failure_prob": "within the horizon",
            },
        ),
        Table(
            "maintenance_events",
            MaintenanceEventRow,
            "what happened to assets and to their models",
            key=("asset_type", "asset_id", "ts", "kind"),
            bound="ts",
            notes={
                "asset_id": "NULL for the model's own events",
                "kind": "`failure`, `repair`, `maintenance`, `drift`, `challenger_promoted`,"
                " `challenger_dismissed`",
            },
        ),
        Table(
            "model_metrics",
            ModelMetricRow,
            "prequential, after each label",
            key=("model", "ts"),
            bound="ts",
        ),
        Table(
            "asset_truth",
            AssetTruthRow,
            "the simulator's truth: from `from_ts` on, the asset fails at `failure_ts` unless"
            " maintained",
            key=("asset_id", "from_ts"),
            bound="from_ts",
        ),
        Table(
            "alert_groups",
            AlertGroupRow,
            "sensor alerts grouped into a city event",
            key=("group_id", "alert_id"),
            notes={"group_id": "a `city_event` alert"},
        ),
        Table(
            "model_resets",
            ModelResetRow,
            "when the flow threw a model's state away",
            key=("step", "key", "reset_at", "reason"),
            bound="reset_at",
            notes={
                "key": "sensor, asset, asset type or district",
                "what": "`models`, `model`, `state`",
                "reason": "`internal_error: …` or `expired: …`",
            },
        ),
        Table(
            "data_gaps",
            DataGapRow,
            "records deleted by Kafka's retention before the flow read them",
            key=("source_partition", "first_offset"),
        ),
        Table(
            "alert_deliveries",
            AlertDeliveryRow,
            "what became of each alert event sent to Kafka, a webhook or e-mail",
            key=("event_id", "channel", "status"),
            notes={
                "channel": "`kafka`, `webhook:<name>`, `email:<name>`",
                "status": "`sent`, `failed` (one row per attempt), `gave_up`",
            },
        ),
        Table(
            "alert_actions",
            AlertActionRow,
            "appended by the dashboard; an alert's handling is its latest action",
            from_flow=False,
            notes={"action": "`acknowledged`, `resolved`"},
        ),
        Table(
            "evaluations",
            EvaluationRow,
            "from `just evaluate`",
            from_flow=False,
            notes={"scope": "`overall` or a kind"},
        ),
        Table(
            "sink_progress",
            SinkProgressRow,
            "per source partition, the highest offset whose results are stored (for recovery)",
            from_flow=False,
        ),
        Table(
            "flow_metrics",
            FlowMetricRow,
            "what the flow tells about itself, sampled every `CITY_METRICS_EVERY_S` seconds"
            " (docs/scaling.md)",
            retention=Retention("ts", "retention_flow_metrics_days", from_newest=False),
            from_flow=False,
            notes={
                "scope": "a sink partition (`lake-0`), `lake`, `kafka:<topic>/<partition>`,"
                " `source:<partition>`, or `step:<step>@p<process>`",
                "metric": "`readings` (in the window), `readings_per_s`, `rows_per_s`,"
                " `dead_letters_per_min`, `commit_s`, `event_lag_s`, `last_commit_age_s`,"
                " `lake_bytes`, `consumer_lag`, `produce_to_lake_s`, `items`, `items_per_s`,"
                " `busy_cores`",
            },
        ),
        Table(
            "metrics",
            MetricRow,
            "the catalogue's metrics, as the latest flow started with them",
            from_flow=False,
            notes={"signal": "its kind, which picks the detector", "detector": "its own, if any"},
        ),
        Table(
            "sensor_types",
            SensorTypeRow,
            "the catalogue's sensor and asset types, as the latest flow started with them",
            from_flow=False,
            notes={"interval_s": "usual seconds between readings"},
        ),
    )
}
"""Every table of the lake, in the order the flow writes them."""

CLOSURES = columns_of(AlertClosure)
"""The columns of an alert closing (not a table)."""

FLOW_TABLES = tuple(name for name, table in TABLES.items() if table.from_flow)
"""The tables the flow writes, in order."""


def arrow_table(columns: tuple[Column, ...], rows: Sequence[tuple]) -> pa.Table:
    """Row tuples as an Arrow table with the lake's types."""
    data: list[Sequence] = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pa.table(
        [pa.array(col, type=c.arrow) for c, col in zip(columns, data, strict=True)],
        names=[c.name for c in columns],
    )


def markdown() -> str:
    """The table list of `docs/lake.md`: each table, its columns and what it holds."""
    lines = ["| table | columns |", "|---|---|"]
    for table in TABLES.values():
        cells = [
            f"`{name}` ({table.notes[name]})" if name in table.notes else f"`{name}`"
            for name in table.names
        ]
        lines.append(f"| `{table.name}` | {', '.join(cells)} – {table.doc} |")
    return "\n".join(lines)
