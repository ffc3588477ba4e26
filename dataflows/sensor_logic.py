"""The per-sensor stateful step of the flow.

It keeps everything the flow knows of one sensor: registration, duplicates, lateness,
models, one-minute aggregates and alert episodes.

For each validated `Reading` of a sensor, in arrival order:

1. a reading for a timestamp the sensor already reported is a duplicate, and one whose
   minute is already final (older than the allowed lateness) is late: both are
   dead-lettered with the reason, nothing else changes;
2. each metric is scored by its detector *before* the detector learns it, and flagged by
   its adaptive threshold;
3. the values go into their one-minute buckets, and the alert episode is updated.

The state is snapshotted as pickled bytes, so it is immutable once taken.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bytewax.operators import StatefulBatchLogic
from river import base

from dataflows.aggregation import MinuteBuckets
from dataflows.alerting import AlertEpisodes, AlertPolicy, alert_row, closure_row
from dataflows.rows import Rows
from dataflows.schema import (
    METRIC_INDEX,
    SENSOR_TYPES,
    DeadLetter,
    Reading,
    now_ms,
    payload_text,
)
from online_models.anomaly import (
    AdaptiveThreshold,
    ChangePoint,
    DeviceDistance,
    default_detector,
    default_threshold,
    device_detector,
)

FAULT_DETECTORS = frozenset({"Flatline", "Dropout"})
"""Detectors whose alerts mean a faulty sensor rather than something happening in the city."""

CHANGE_DETECTOR = "PageHinkley(DeviceDistance)"
"""Name of the change-point detector written with each change point."""

DROPOUT_GAPS = 5
"""A silence of this many usual intervals between two readings is a dropout."""

DROPOUT_MIN_GAPS = 10
"""Gaps a sensor must have shown before its usual interval is trusted."""

DEVICE_THRESHOLD = 0.8
"""Device scores above this flag every metric of the reading (the score is calibrated)."""


def sensor_unit(sensor_type: str) -> str:
    """Units of a sensor type's metrics, as stored in `sensors.unit`.

    >>> sensor_unit("water")
    'pressure bar, flow m³/h'
    """
    return ", ".join(f"{m.name} {m.unit}" for m in SENSOR_TYPES.get(sensor_type, ()))


@dataclass
class MetricModel:
    """The detector and threshold of one metric of one sensor."""

    detector: base.AnomalyDetector
    threshold: AdaptiveThreshold


@dataclass
class SensorState:
    """What the flow remembers about one sensor."""

    sensor_id: str
    type: str
    buckets: MinuteBuckets
    alerts: AlertEpisodes
    detector_of_alert: str = ""
    max_ts_ms: int = 0
    recent_ts: set[int] = field(default_factory=set)
    models: dict[str, MetricModel] = field(default_factory=dict)
    device: DeviceDistance | None = None
    change: ChangePoint | None = None
    district: str | None = None
    typical_gap_ms: float = 0.0  # the sensor's usual time between readings
    gaps_seen: int = 0


def _driver(detector: base.AnomalyDetector, x: dict) -> str:
    """Name of the detector (of an ensemble, the member) that scores `x` highest."""
    explain = getattr(detector, "driver", None)
    return explain(x) if explain is not None else type(detector).__name__


class SensorLogic(StatefulBatchLogic):
    """The per-sensor stateful step; emits one `Rows` per batch of readings."""

    def __init__(self, lateness_ms: int, policy: AlertPolicy, resume: bytes | None = None) -> None:
        self.lateness_ms = lateness_ms
        self.policy = policy
        self.state: SensorState | None = pickle.loads(resume) if resume is not None else None
        self._idle_flush_at: datetime | None = None

    def _new_state(self, reading: Reading, rows: Rows) -> SensorState:
        rows.sensors.append(
            (
                reading.sensor_id,
                reading.type,
                reading.district,
                reading.lat,
                reading.lon,
                sensor_unit(reading.type),
                reading.ts_ms,
            )
        )
        device = device_detector(reading.type, len(reading.values))
        return SensorState(
            reading.sensor_id,
            reading.type,
            MinuteBuckets(),
            AlertEpisodes(self.policy),
            device=device,
            change=None if device is None else ChangePoint(),
            district=reading.district,
        )

    def on_batch(self, values: list[Reading]) -> tuple[list[Rows], bool]:
        rows = Rows()
        for reading in values:
            if self.state is None:
                self.state = self._new_state(reading, rows)
            self._process(self.state, reading, rows)
        state = self.state
        if state is not None and len(state.recent_ts) > 128:
            # timestamps of final minutes are late anyway: no need to remember them
            oldest = state.max_ts_ms - 2 * self.lateness_ms - 120_000
            state.recent_ts = {ts for ts in state.recent_ts if ts >= oldest}
        self._idle_flush_at = datetime.now(UTC) + timedelta(milliseconds=self.lateness_ms + 60_000)
        return [rows], False

    def _process(self, state: SensorState, reading: Reading, rows: Rows) -> None:
        ts = reading.ts_ms
        problem = None
        if reading.type != state.type:
            problem = f"type_mismatch: sensor is {state.type}, message says {reading.type}"
        elif ts in state.recent_ts:
            problem = "duplicate: the sensor already reported this timestamp"
        elif state.buckets.is_late(ts):
            problem = (
                f"late: its minute closed {self.lateness_ms / 1000:.0f} s after the sensor's"
                " later readings"
            )
        origin = reading.origin
        rows.note(origin)
        if problem is not None:
            payload = payload_text(reading._asdict())
            position = None if origin is None else f"{origin[0]}/{origin[1]}"
            rows.dead_letters.append(
                DeadLetter(now_ms(), "flow", position, reading.sensor_id, problem, payload)
            )
            return
        state.recent_ts.add(ts)
        if ts > state.max_ts_ms:
            if state.max_ts_ms:
                self._watch_gap(state, reading, ts - state.max_ts_ms, rows)
            state.max_ts_ms = ts
            closed = state.buckets.close_before(ts - self.lateness_ms)
            if closed:
                self._emit_minutes(state, closed, rows)

        t = ts / 1000.0
        sensor_id = reading.sensor_id
        flagged: dict[str, float] = {}
        device = state.device
        device_score = 0.0
        if device is not None:
            joint = {**reading.values, "t": t}
            device_score = device.score_one(joint)
            distance = device.distance(joint)
            if distance is not None and state.change.update(distance):
                moved = ",".join(device.drivers(joint))
                rows.change_points.append((sensor_id, ts, moved, CHANGE_DETECTOR, distance))
            device.learn_one(joint)
        device_flag = device_score > DEVICE_THRESHOLD
        drivers = device.drivers(joint) if device_flag else ()
        models = state.models
        add_to_minute = state.buckets.add
        out = rows.readings
        alerts = state.alerts
        explain = alerts.open_alert is None
        top_score = 0.0
        for metric, value in reading.values.items():
            model = models.get(metric)
            if model is None:
                known = METRIC_INDEX.get((state.type, metric))
                signal = known.signal if known is not None else "rhythmic"
                model = models[metric] = MetricModel(
                    default_detector(signal), default_threshold(state.type)
                )
            x = {"value": value, "t": t}
            detector, threshold = model.detector, model.threshold
            score = detector.score_one(x)
            is_anomaly = threshold.classify(score)
            if is_anomaly and explain and score >= top_score:
                state.detector_of_alert = _driver(detector, x)
            detector.learn_one(x)
            threshold.learn_one(score)
            if is_anomaly or metric in drivers:
                flagged[metric] = score
            if device_flag:
                is_anomaly = True
            if device_score > score:
                score = device_score
            if score > top_score:
                top_score = score
            out.append((sensor_id, ts, metric, value, score, is_anomaly))
            add_to_minute(metric, ts, value, score, is_anomaly)
        if device_flag and explain and device_score >= top_score:
            state.detector_of_alert = "DeviceDistance"

        if not flagged and not alerts.busy:
            return
        change = alerts.observe(sensor_id, ts, flagged, top_score)
        if change is None:
            return
        _, alert_id, at, peak, metrics, count = change
        district = state.district
        if change[0] == "open":
            detector = state.detector_of_alert
            kind = "sensor_fault" if detector in FAULT_DETECTORS else "anomaly"
            if kind == "anomaly" and district:
                rows.alert_changes.append(
                    (district, "open", alert_id, sensor_id, state.type, at, peak, origin)
                )
            rows.alerts.append(
                alert_row(alert_id, sensor_id, state.type, kind, metrics, at, peak, count, detector)
            )
        else:
            rows.alert_closures.append(closure_row(alert_id, at, peak, metrics, count))
            if district:
                rows.alert_changes.append(
                    (district, "close", alert_id, sensor_id, state.type, at, peak, origin)
                )

    def _watch_gap(self, state: SensorState, reading: Reading, gap_ms: int, rows: Rows) -> None:
        """A reading after a silence of `DROPOUT_GAPS` usual intervals: a dropout alert.

        The usual interval is a running estimate over gaps that were not silences. The alert
        is written when the sensor is back (a silence is known once it ends; a sensor silent
        right now shows as `silent` on the overview), opened and closed at that reading, so
        its delay is honest; `detail` says when the silence began and how long it lasted.
        """
        typical = state.typical_gap_ms
        if typical and state.gaps_seen >= DROPOUT_MIN_GAPS and gap_ms >= DROPOUT_GAPS * typical:
            silent_from = state.max_ts_ms
            minutes = gap_ms / 60_000
            since = datetime.fromtimestamp(silent_from / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            rows.alerts.append(
                alert_row(
                    f"{reading.sensor_id}@{reading.ts_ms}:dropout",
                    reading.sensor_id,
                    state.type,
                    "sensor_fault",
                    ",".join(reading.values),
                    reading.ts_ms,
                    1.0,
                    0,
                    "Dropout",
                    closed_ms=reading.ts_ms,
                    level="major" if minutes >= 60 else "minor",
                    detail=f"silent {minutes:.0f} min after its reading at {since} UTC",
                )
            )
            return
        state.gaps_seen += 1
        if not typical:
            state.typical_gap_ms = float(gap_ms)
        elif gap_ms <= 2 * typical:
            state.typical_gap_ms = 0.9 * typical + 0.1 * gap_ms

    def _emit_minutes(self, state: SensorState, minutes: list[tuple], rows: Rows) -> None:
        sensor_id = state.sensor_id
        rows.readings_1m.extend((sensor_id, *minute) for minute in minutes)

    def on_notify(self) -> tuple[list[Rows], bool]:
        """The sensor has been silent for a while (wall clock): its open minutes are final."""
        return self.on_eof()

    def on_eof(self) -> tuple[list[Rows], bool]:
        if self.state is None:
            return [], False
        rows = Rows()
        self._emit_minutes(self.state, self.state.buckets.close_all(), rows)
        self._idle_flush_at = None
        return ([rows] if rows.readings_1m else []), False

    def notify_at(self) -> datetime | None:
        return self._idle_flush_at

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
