"""Typed records of the city pipeline and the validation of raw sensor messages.

A raw message is what a gateway sends (the simulator sends the same shape)::

    {"sensor_id": "traffic-0001", "type": "traffic_loop",
     "ts": 1767225600000 or "2026-01-01T00:00:00Z",
     "values": {"flow": 812.0, "speed": 47.5, "occupancy": 18.2},
     "district": "Centre", "lat": 52.37, "lon": 4.89}   # location is optional

The sensor types, their metrics and ranges come from the catalogue (`dataflows.catalogue`).
`validate` turns it into a `Reading` and at most one `DeadLetter` for what it had to
reject: a bad metric value is rejected on its own and the message's valid metrics are kept;
several bad values make one letter that names them. `MessageLimits` bounds what a message
may cost (metrics, lengths of ids and names; see `dataflows.messages.limits`).

>>> ok, rejected = validate(
...     {"sensor_id": "noise-7", "type": "noise", "ts": "2026-01-01T08:00:00Z",
...      "values": {"laeq": 61.5, "pm25": 3}}, source="example")
>>> ok.sensor_id, ok.ts_ms, ok.values
('noise-7', 1767254400000, {'laeq': 61.5})
>>> [d.reason for d in rejected]
["unknown_metric: 'pm25' is not a metric of noise"]
>>> validate({"sensor_id": "x", "type": "boat"}, source="example")[1][0].reason
"unknown_type: 'boat'"
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple

from dataflows.catalogue.load import default_catalogue
from dataflows.catalogue.types import Catalogue, Metric
from dataflows.messages.limits import MessageLimits

Millis = Annotated[int, "epoch milliseconds"]
"""Epoch milliseconds (stored in the lake as a UTC `TIMESTAMPTZ`); an `int` to Python."""
Int32 = Annotated[int, "32 bits"]
"""A count that fits 32 bits (stored as `INTEGER`; a plain `int` is a `BIGINT`)."""


ASSET_EVENTS = ("failure", "repair", "maintenance")
"""What a maintenance system reports of an asset: it failed, it is back in service after a
failure, or a maintenance visit restored it (optionally with the inspected RUL in hours)."""

RECORDED = "recorded"
"""The open sensor type of replayed recordings: any metric name, any finite value."""

_MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
_MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
_MAX_PAYLOAD_CHARS = 1_000
_MAX_DETAIL_CHARS = 400
"""Longest list of rejected metrics in one dead letter's reason."""
DEFAULT_LIMITS = MessageLimits()


class Reading(NamedTuple):
    """A validated message: one sensor, one timestamp, one or more metric values."""

    sensor_id: str
    type: str
    ts_ms: int
    values: dict[str, float]
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    origin: tuple[str, int] | None = None  # (source partition, offset): the record's id


class SourceRecord(NamedTuple):
    """One item of a source: a raw message (maybe broken) or a ground-truth `Label`.

    (`source_partition`, `offset`) identifies it for good, e.g. the n-th item of a
    simulator partition or of a replay.
    """

    source_partition: str
    offset: int
    payload: Any


class DeadLetter(NamedTuple):
    """A rejected record or part of one, with the reason and where it came from.

    It is also the row of the lake's `dead_letters` table.
    """

    received_at: Millis
    source: str
    position: str | None
    sensor_id: str | None
    reason: str
    payload: str


class Label(NamedTuple):
    """Ground truth: an injected anomaly on one sensor (or all its metrics if `metric` is None)."""

    sensor_id: str
    kind: str
    metric: str | None
    start_ms: int
    end_ms: int
    event_id: str | None
    district: str


class AssetEvent(NamedTuple):
    """A validated maintenance message: `kind` (one of `ASSET_EVENTS`) of one asset."""

    asset_id: str
    type: str
    ts_ms: int
    kind: str
    rul_h: float | None = None  # RUL inspected at a maintenance visit, if measured
    origin: tuple[str, int] | None = None

    @property
    def sensor_id(self) -> str:
        """The asset's id, which is its `sensor_id` in the lake."""
        return self.asset_id


class AssetTruth(NamedTuple):
    """Ground truth of the simulator: when the asset will fail if nothing is done.

    From `from_ms` on (until its next truth) the asset fails at `failure_ms` unless
    maintained: its true RUL at t is `failure_ms - t`.
    """

    asset_id: str
    type: str
    from_ms: int
    failure_ms: int


class DataGap(NamedTuple):
    """Records a source can no longer deliver: Kafka deleted them (retention) unread."""

    source_partition: str
    first_offset: int
    last_offset: int
    detected_ms: int
    reason: str


_MAX_ERROR_CHARS = 300


def internal_error(error: BaseException) -> str:
    """The dead-letter reason for an exception raised while handling one record."""
    message = " ".join(str(error).split())
    if len(message) > _MAX_ERROR_CHARS:
        message = message[:_MAX_ERROR_CHARS] + "…"
    return f"internal_error: {type(error).__name__}: {message}"


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (UTC)."""
    return int(datetime.now(UTC).timestamp() * 1000)


def payload_text(raw: Any) -> str:
    r"""The raw record as text for the dead-letter table: valid UTF-8, at most ~1,000 chars.

    Whatever `raw` is: bytes that are not UTF-8, strings with lone surrogates, objects nested
    too deeply to serialise.

    >>> payload_text(b"\xff{"), payload_text("\ud800")
    ('\\xff{', '\\ud800')
    """
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw[: 4 * _MAX_PAYLOAD_CHARS]).decode("utf-8", errors="backslashreplace")
    elif isinstance(raw, str):
        text = raw[: 4 * _MAX_PAYLOAD_CHARS]
    else:
        try:
            text = json.dumps(raw, default=repr, allow_nan=True, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = f"<unprintable {type(raw).__name__}>"
    if len(text) > _MAX_PAYLOAD_CHARS:
        text = text[:_MAX_PAYLOAD_CHARS] + "…"
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def shown(value: Any, limit: int = 64) -> str:
    """A short, safe rendering of a field's value for a dead-letter reason.

    >>> shown("boat"), shown({"deep": [1]}), shown("x" * 100, 5)
    ("'boat'", 'a dict', "'xxxxx…'")
    """
    if isinstance(value, str):
        text = repr(value[:limit] + ("…" if len(value) > limit else ""))
    elif value is None or isinstance(value, bool | int | float):
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else "a huge int"
    else:
        return f"a {type(value).__name__}"
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def text_problem(value: Any, limit: int, required: bool = True) -> str | None:
    r"""Why `value` is no good as an id or a name, or None if it is.

    It must be a string of at most `limit` printable characters (no control characters,
    no lone surrogates: they would break the lake and the dashboard).

    >>> text_problem("pump-7", 128), text_problem("a\nb", 128), text_problem("", 8)
    (None, 'has unprintable characters', 'is empty')
    """
    if type(value) is not str:
        return "must be a string"
    if not value or value.isspace():
        return "is empty" if required else None
    if len(value) > limit:
        return f"longer than {limit} characters"
    if not value.isprintable():
        return "has unprintable characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    return None


def duration_text(ms: float) -> str:
    """A duration for people: seconds, minutes, hours or days.

    >>> duration_text(4_000), duration_text(5_400_000), duration_text(7 * 86_400_000)
    ('4 s', '1.5 h', '7 days')
    """
    for unit, size in (("days", 86_400_000), ("h", 3_600_000), ("min", 60_000)):
        if ms >= size:
            return f"{ms / size:.3g} {unit}"
    return f"{ms / 1000:.3g} s"


def parse_ts_ms(value: Any) -> int:
    """Epoch milliseconds from epoch ms (int/float) or an ISO 8601 string with a UTC offset.

    >>> parse_ts_ms("2026-01-01T00:00:01.5+00:00"), parse_ts_ms(1767225601500)
    (1767225601500, 1767225601500)
    >>> parse_ts_ms("2026-01-01 00:00:00")
    Traceback (most recent call last):
    ...
    ValueError: timestamp without a time zone: '2026-01-01 00:00:00'
    """
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be epoch ms or ISO 8601, got {value!r}")
    if isinstance(value, int):
        ts = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"timestamp is not finite: {value!r}")
        ts = int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"unparseable timestamp: {value[:64]!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp without a time zone: {value[:64]!r}")
        ts = round(parsed.timestamp() * 1000)
    else:
        raise ValueError(f"timestamp must be epoch ms or ISO 8601, got {type(value).__name__}")
    if not _MIN_TS_MS <= ts < _MAX_TS_MS:
        raise ValueError(f"timestamp outside 2000-2100: {value!r}")
    return ts


def validate(
    raw: Any,
    source: str,
    origin: tuple[str, int] | None = None,
    limits: MessageLimits = DEFAULT_LIMITS,
    catalogue: Catalogue | None = None,
) -> tuple[Reading | AssetEvent | None, list[DeadLetter]]:
    """Check a raw message against `catalogue` and `limits`; see the module docstring.

    `catalogue` is the flow's (`CITY_CATALOGUE`), by default `data/catalogue.toml`.

    A message with an `event` field is a maintenance message (`validate_event`). The answer
    is a reading (or event) with at most one dead letter, or no reading and one dead letter:
    several bad values of one message make one letter that names them.

    `origin` identifies the record in its source (partition, offset); dead letters show it
    as their `position`, and the reading carries it for exactly-once writes.
    """
    position = None if origin is None else f"{origin[0]}/{origin[1]}"
    if catalogue is None:
        catalogue = default_catalogue()
    if type(raw) is dict and "event" in raw:
        return validate_event(raw, source, origin, limits, catalogue)
    try:
        return _validate(raw, source, position, origin, limits, catalogue)
    except _Rejected as rejected:
        sensor_id = raw.get("sensor_id") if isinstance(raw, dict) else None
        if text_problem(sensor_id, limits.max_id_chars) is not None:
            sensor_id = None
        letter = DeadLetter(
            now_ms(), source, position, sensor_id, rejected.reason, payload_text(raw)
        )
        return None, [letter]


def validate_event(
    raw: dict,
    source: str,
    origin: tuple[str, int] | None = None,
    limits: MessageLimits = DEFAULT_LIMITS,
    catalogue: Catalogue | None = None,
) -> tuple[AssetEvent | None, list[DeadLetter]]:
    """Check a maintenance message; it names its asset, type, time and `event`.

    For example::

        {"asset_id": "pump-0003", "type": "pump", "ts": 1767225600000, "event": "failure"}
        {"asset_id": "lift-0001", "type": "lift", "ts": "2026-01-02T08:00:00Z",
         "event": "maintenance", "rul_h": 400}        # rul_h: the RUL inspected, optional

    >>> validate_event({"asset_id": "fan-1", "type": "fan", "ts": 1767225600000,
    ...                 "event": "failure"}, "example")[0].kind
    'failure'
    >>> validate_event({"asset_id": "fan-1", "type": "noise", "ts": 1767225600000,
    ...                 "event": "failure"}, "example")[1][0].reason
    "unknown_type: 'noise' is not an asset type"
    """
    position = None if origin is None else f"{origin[0]}/{origin[1]}"
    asset_id, asset_type, kind = raw.get("asset_id"), raw.get("type"), raw.get("event")
    id_problem = text_problem(asset_id, limits.max_id_chars)

    def reject(reason: str) -> tuple[None, list[DeadLetter]]:
        known = asset_id if id_problem is None else None
        return None, [DeadLetter(now_ms(), source, position, known, reason, payload_text(raw))]

    if id_problem is not None:
        return reject(f"missing_field: asset_id {id_problem}")
    if catalogue is None:
        catalogue = default_catalogue()
    if asset_type not in catalogue.asset_types:
        return reject(f"unknown_type: {shown(asset_type)} is not an asset type")
    if kind not in ASSET_EVENTS:
        return reject(f"unknown_event: {shown(kind)} (expected one of {ASSET_EVENTS})")
    if raw.get("ts") is None:
        return reject("missing_field: ts")
    try:
        ts_ms = parse_ts_ms(raw["ts"])
    except ValueError as error:
        return reject(f"bad_timestamp: {error}")
    rul = raw.get("rul_h")
    if rul is not None and (
        isinstance(rul, bool)
        or not isinstance(rul, int | float)
        or not 0 <= rul < 1e9  # hours; also keeps a huge integer from overflowing a float
    ):
        return reject("bad_value: rul_h must be a non-negative number of hours")
    rul_h = None if rul is None else float(rul)
    return AssetEvent(str(asset_id), asset_type, ts_ms, kind, rul_h, origin), []


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _validate(
    raw: Any,
    source: str,
    position: str | None,
    origin: tuple[str, int] | None,
    limits: MessageLimits,
    catalogue: Catalogue,
) -> tuple[Reading | None, list[DeadLetter]]:
    if type(raw) is not dict:
        raise _Rejected(f"not_an_object: got {type(raw).__name__}")
    sensor_id = raw.get("sensor_id")
    if type(sensor_id) is not str or not sensor_id or sensor_id.isspace():
        raise _Rejected("missing_field: sensor_id must be a non-empty string")
    problem = text_problem(sensor_id, limits.max_id_chars)
    if problem is not None:
        raise _Rejected(f"bad_field: sensor_id {problem}")
    sensor_type = raw.get("type")
    if type(sensor_type) is not str or (sensor_type not in catalogue and sensor_type != RECORDED):
        raise _Rejected(f"unknown_type: {shown(sensor_type)}")
    if sensor_type == RECORDED and not limits.allow_recorded:
        raise _Rejected(
            "refused_type: 'recorded' is the replay type, not accepted from this source"
            " (CITY_KAFKA_ALLOW_RECORDED)"
        )
    ts = raw.get("ts")
    if type(ts) is int and _MIN_TS_MS <= ts < _MAX_TS_MS:
        ts_ms = ts  # the common case, epoch ms
    elif ts is None:
        raise _Rejected("missing_field: ts")
    else:
        try:
            ts_ms = parse_ts_ms(ts)
        except ValueError as error:
            raise _Rejected(f"bad_timestamp: {error}") from None
    values = raw.get("values")
    if type(values) is not dict or not values:
        raise _Rejected("missing_field: values must be a non-empty object")
    if len(values) > limits.max_metrics:
        raise _Rejected(
            f"too_many_metrics: {len(values)} metrics, limit {limits.max_metrics}"
            " (CITY_MAX_METRICS)"
        )
    district, lat, lon = _location(raw, limits)

    good: dict[str, float] = {}
    problems: list[str] = []
    for name, value in values.items():
        metric = catalogue.metric(sensor_type, name)
        # a float in range is finite too: NaN and infinities fail the comparison
        if metric is not None and type(value) is float and metric.low <= value <= metric.high:
            good[name] = value
            continue
        reason = _value_problem(sensor_type, name, metric, value, limits)
        if reason is None:
            good[name] = float(value)
        else:
            problems.append(reason)
    rejected = []
    if problems:
        reason = _one_reason(problems, len(values))
        letter = DeadLetter(now_ms(), source, position, sensor_id, reason, payload_text(raw))
        rejected.append(letter)
    if not good:
        return None, rejected
    return Reading(sensor_id, sensor_type, ts_ms, good, district, lat, lon, origin), rejected


def _one_reason(problems: list[str], n_metrics: int) -> str:
    """One dead-letter reason for all the rejected values of a message.

    >>> _one_reason(["bad_value: a is NaN"], 3)
    'bad_value: a is NaN'
    >>> _one_reason(["bad_value: a is NaN", "out_of_range: b outside [0, 1]"], 3)
    'bad_values: 2 of 3 metrics rejected: bad_value: a is NaN; out_of_range: b outside [0, 1]'
    """
    if len(problems) == 1:
        return problems[0]
    kinds = {problem.split(":", 1)[0] for problem in problems}
    kind = kinds.pop() if len(kinds) == 1 else "bad_values"
    listed = "; ".join(problems)
    if len(listed) > _MAX_DETAIL_CHARS:
        listed = listed[:_MAX_DETAIL_CHARS] + "…"
    return f"{kind}: {len(problems)} of {n_metrics} metrics rejected: {listed}"


def _value_problem(
    sensor_type: str, name: Any, metric: Metric | None, value: Any, limits: MessageLimits
) -> str | None:
    if metric is None and not (
        sensor_type == RECORDED and text_problem(name, limits.max_name_chars) is None
    ):
        return f"unknown_metric: {shown(name)} is not a metric of {sensor_type}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"bad_value: {name} must be a number, got {type(value).__name__}"
    if isinstance(value, int) and not -(10**300) < value < 10**300:
        return f"bad_value: {name} is too large"
    if not math.isfinite(value):
        return f"bad_value: {name} is not finite ({value})"
    if metric is not None and not metric.low <= value <= metric.high:
        return f"out_of_range: {name} outside [{metric.low:g}, {metric.high:g}] {metric.unit}"
    return None


def _location(raw: dict, limits: MessageLimits) -> tuple[str | None, float | None, float | None]:
    district = raw.get("district")
    if district is not None:
        problem = text_problem(district, limits.max_name_chars, required=False)
        if problem is not None:
            raise _Rejected(f"bad_field: district {problem}")
        district = district or None
    lat, lon = raw.get("lat"), raw.get("lon")
    if (
        type(lat) is float
        and type(lon) is float
        and -90.0 <= lat <= 90.0
        and -180.0 <= lon <= 180.0
    ):
        return district, lat, lon  # the common case
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Rejected(f"bad_field: {name} must be a number")
        if not -limit <= value <= limit:
            raise _Rejected(f"bad_field: {name}={shown(value)} outside [-{limit}, {limit}]")
    return (
        district,
        None if lat is None else float(lat),
        None if lon is None else float(lon),
    )
