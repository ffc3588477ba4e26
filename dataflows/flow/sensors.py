"""The per-sensor stateful step of the flow.

It keeps everything the flow knows of one sensor: registration, its clock, duplicates,
lateness, models, one-minute aggregates and alert episodes.

For each validated `Reading` of a sensor, in arrival order:

1. a reading far ahead of the sensor's own time waits for later readings to confirm it
   (`dataflows.flow.sensor_clock`); one they do not confirm is dead-lettered as a `clock_jump`;
2. a reading for a timestamp the sensor already reported is a duplicate, and one whose
   minute is already final (older than the allowed lateness) is late: both are
   dead-lettered with the reason, nothing else changes;
3. each metric is scored by its detector *before* the detector learns it, and flagged by
   its adaptive threshold;
4. the values go into their one-minute buckets, and the alert episode is updated.

Faults stay with their record: if handling a reading raises, the reading is dead-lettered
as `internal_error`, the sensor's models (or, if the bookkeeping itself failed, its whole
state) start afresh and the reset is written to `model_resets`; the other readings and
sensors go on.

State is bounded: a sensor silent for `ttl_ms` (on the flow's clock, or between two of its
readings) leaves the flow's state, its open alert closed; if it comes back, it starts cold.
A sensor has at most `max_metrics` metrics. The state is snapshotted as pickled bytes, so it
is immutable once taken.
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bytewax.operators import StatefulBatchLogic
from river import base

from dataflows.catalogue.load import default_catalogue
from dataflows.catalogue.types import Catalogue
from dataflows.flow.aggregation import MinuteBuckets
from dataflows.flow.alerting import AlertEpisodes, AlertPolicy, alert_row, closure_row
from dataflows.flow.isolation import FlowStopped, StepGuard
from dataflows.flow.sensor_clock import SensorClock
from dataflows.flow.sensor_readings import SensorReadings
from dataflows.lake.rows import AlertChange, Rows
from dataflows.lake.tables import ChangePointRow, MinuteRow, ModelResetRow, ReadingRow, SensorRow
from dataflows.messages.schema import (
    RECORDED,
    DeadLetter,
    Reading,
    duration_text,
    now_ms,
    payload_text,
)
from online_models.anomaly import (
    DEFAULT_PLAN,
    AdaptiveThreshold,
    ChangePoint,
    DetectorPlan,
    DeviceDistance,
    alert_kind,
    default_threshold,
)
from online_models.anomaly.registry import make

STEP = "sensors"

CHANGE_DETECTOR = "PageHinkley(DeviceDistance)"
"""Name of the change-point detector written with each change point."""

DROPOUT_GAPS = 5
"""A silence of this many usual intervals between two readings is a dropout."""

DROPOUT_MIN_GAPS = 10
"""Gaps a sensor must have shown before its usual interval is trusted."""

DEVICE_THRESHOLD = 0.8
"""Device scores above this flag every metric of the reading (the score is calibrated)."""

DEVICE_ALONE_MS = 10 * 60_000
"""How long a device alarm flags its readings on the joint distance alone. After that it
needs a metric of its own to be unusual (`CORROBORATION`): a device far from its learnt
normal state for long while each of its metrics looks ordinary has most likely moved to a
new normal state (a season, a demand), not failed. Ten minutes, measured against 15 and 30
on GECCO and SKAB (docs/evaluation.md): just longer than SKAB's longest joint anomaly
(586 s), so none of them loses a flag."""

CORROBORATION = 0.5
"""The per-metric score that corroborates a long device alarm (calibrated: p ≤ 10⁻²·⁵)."""

DAY_MS = 86_400_000


@dataclass(frozen=True)
class SensorConfig:
    """How the per-sensor step treats time, alerts and state (from `Settings`)."""

    plan: DetectorPlan = DEFAULT_PLAN
    """Which detector each kind of signal gets (`online_models.anomaly.registry`)."""
    catalogue: Catalogue = field(default_factory=default_catalogue)
    """The sensor types: each metric's kind of signal, or its own detector."""
    lateness_ms: int = 120_000
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    ttl_ms: int = 7 * DAY_MS
    clock_jump_ms: int = 3_600_000
    clock_confirmations: int = 2
    max_metrics: int = 64


def sensor_unit(sensor_type: str, catalogue: Catalogue) -> str:
    """Units of a sensor type's metrics, as stored in `sensors.unit`.

    >>> sensor_unit("water", default_catalogue())
    'pressure bar, flow m³/h'
    """
    return ", ".join(f"{m.name} {m.unit}" for m in catalogue.metrics(sensor_type))


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
    kind_of_alert: str = "anomaly"
    """What the detector behind the open or coming alert declares its flags mean."""
    clock: SensorClock = field(default_factory=SensorClock)
    recent_ts: set[int] = field(default_factory=set)
    models: dict[str, MetricModel] = field(default_factory=dict)
    device: DeviceDistance | None = None
    change: ChangePoint | None = None
    district: str | None = None
    device_alarm_since: int | None = None
    """Start of the device's current alarm (scores above `DEVICE_THRESHOLD`), if any."""


def _driver(detector: base.AnomalyDetector, x: dict) -> base.AnomalyDetector:
    """The detector (of an ensemble, the member) that scores `x` highest."""
    driving = getattr(detector, "driving", None)
    return driving(x) if driving is not None else detector


def _position(origin: tuple[str, int] | None) -> str | None:
    return None if origin is None else f"{origin[0]}/{origin[1]}"


class SensorLogic(StatefulBatchLogic):
    """The per-sensor stateful step: given its sensor's `SensorReadings`, one `Rows` a batch."""

    def __init__(
        self,
        config: SensorConfig,
        resume: bytes | None = None,
        guard: StepGuard | None = None,
    ) -> None:
        self.config = config
        self.guard = guard or StepGuard(STEP)
        self.state: SensorState | None = pickle.loads(resume) if resume is not None else None
        self._idle_flush_at: datetime | None = None
        self._expires_at = datetime.now(UTC) + timedelta(milliseconds=config.ttl_ms)

    def _new_state(self, reading: Reading, rows: Rows) -> SensorState:
        rows.sensors.append(
            SensorRow(
                reading.sensor_id,
                reading.type,
                reading.district,
                reading.lat,
                reading.lon,
                sensor_unit(reading.type, self.config.catalogue),
                reading.ts_ms,
            )
        )
        return SensorState(
            reading.sensor_id,
            reading.type,
            MinuteBuckets(),
            AlertEpisodes(self.config.policy),
            district=reading.district,
            **self._fresh_models(reading.type, len(reading.values)),
        )

    def _fresh_models(self, sensor_type: str, n_metrics: int) -> dict:
        device = self.config.plan.device_detector(sensor_type, n_metrics)
        return {
            "models": {},
            "device": device,
            "change": None if device is None else ChangePoint(),
        }

    def on_batch(self, values: list[SensorReadings]) -> tuple[list[Rows], bool]:
        rows = Rows()
        config = self.config
        failures = 0
        readings = [reading for group in values for reading in group.readings]
        for reading in readings:
            ready = [reading]
            # a reading may be held back by the sensor's clock, or release held ones; each
            # is handled on its own, so a fault costs only the reading that raised
            for position, item in enumerate(ready):
                try:
                    if self.state is None:
                        self.state = self._new_state(item, rows)
                    if position == 0:
                        ready += self._admit(item, rows)
                    else:
                        self._process(item, rows)
                except FlowStopped:
                    raise
                except Exception as error:  # the record's fault, not the flow's: `isolation`
                    failures += 1
                    self._failed(item, error, rows, whole_state=True)
        if failures < len(readings):
            self.guard.succeeded()
        state = self.state
        if state is not None and len(state.recent_ts) > 128:
            # timestamps of final minutes are late anyway: no need to remember them
            oldest = state.clock.latest_ms - 2 * config.lateness_ms - 120_000
            state.recent_ts = {ts for ts in state.recent_ts if ts >= oldest}
        now = datetime.now(UTC)
        self._idle_flush_at = now + timedelta(milliseconds=config.lateness_ms + 60_000)
        self._expires_at = now + timedelta(milliseconds=config.ttl_ms)
        return [rows], False

    def _admit(self, reading: Reading, rows: Rows) -> list[Reading]:
        """Pass `reading` through the sensor's clock; the readings to process now."""
        state = self.state
        assert state is not None
        config = self.config
        ready, jumped = state.clock.admit(reading, config.clock_jump_ms, config.clock_confirmations)
        for glitch in jumped:
            self._clock_jump(glitch, rows)
        return ready

    def _clock_jump(self, reading: Reading, rows: Rows) -> None:
        state = self.state
        assert state is not None
        hours = (reading.ts_ms - state.clock.latest_ms) / 3_600_000
        self._reject(
            reading,
            f"clock_jump: {hours:.1f} h ahead of the sensor's latest reading, not confirmed"
            " by the readings after it",
            rows,
        )

    def _reject(self, reading: Reading, reason: str, rows: Rows, source: str = "flow") -> None:
        origin = reading.origin
        rows.note(origin)
        letter = DeadLetter(
            now_ms(),
            source,
            _position(origin),
            reading.sensor_id,
            reason,
            payload_text(reading._asdict()),
        )
        rows.dead_letters.append(letter)

    def _failed(
        self, reading: Reading, error: Exception, rows: Rows, whole_state: bool = False
    ) -> None:
        """Handling `reading` raised: dead-letter it and start its sensor's models afresh."""
        reason = self.guard.failed(error, _position(reading.origin))
        self._reject(reading, reason, rows, source=STEP)
        state = self.state
        if state is None:
            return
        if whole_state:
            what = "state"
            # the open alert would otherwise stay open for good
            with contextlib.suppress(Exception):
                self._close_alert(state, reading.ts_ms, rows)
            self.state = None
        else:
            what = "models"
            fresh = self._fresh_models(state.type, len(reading.values))
            state.models, state.device, state.change = (
                fresh["models"],
                fresh["device"],
                fresh["change"],
            )
        rows.model_resets.append(
            ModelResetRow(
                reading.ts_ms, STEP, reading.sensor_id, what, reason, _position(reading.origin)
            )
        )

    def _process(self, reading: Reading, rows: Rows) -> None:
        state = self.state
        assert state is not None
        ts = reading.ts_ms
        latest = state.clock.latest_ms
        if latest and ts - latest > self.config.ttl_ms:
            # back after a silence longer than the state's lifetime: start cold
            silent = duration_text(ts - latest)
            self._expire(state, ts, rows, f"expired: silent {silent}, starts cold")
            state = self.state = self._new_state(reading, rows)
        problem = None
        if reading.type != state.type:
            problem = f"type_mismatch: sensor is {state.type}, message says {reading.type}"
        elif ts in state.recent_ts:
            problem = "duplicate: the sensor already reported this timestamp"
        elif state.buckets.is_late(ts):
            problem = (
                f"late: its minute closed {self.config.lateness_ms / 1000:.0f} s after the"
                " sensor's later readings"
            )
        else:
            problem = self._limit_metrics(state, reading)
        if problem is not None:
            self._reject(reading, problem, rows)
            return
        try:
            scored, change_point = self._score(state, reading)
        except FlowStopped:
            raise
        except Exception as error:
            self._failed(reading, error, rows)
            return
        self._record(state, reading, scored, change_point, rows)

    def _limit_metrics(self, state: SensorState, reading: Reading) -> str | None:
        """Why a reading would give its sensor more than `max_metrics` metrics, if it would."""
        models = state.models
        limit = self.config.max_metrics
        if len(models) + len(reading.values) <= limit:
            return None
        new = [name for name in reading.values if name not in models]
        if len(models) + len(new) <= limit:
            return None
        return (
            f"too_many_metrics: the sensor has {len(models)} metrics and this reading adds"
            f" {len(new)}, limit {limit} (CITY_MAX_METRICS)"
        )

    def _new_detector(self, sensor_type: str, metric: str) -> base.AnomalyDetector:
        """The detector of a metric: its own in the catalogue, else its signal kind's."""
        known = self.config.catalogue.metric(sensor_type, metric)
        if known is not None and known.detector is not None:
            return make(known.detector)
        return self.config.plan.detector(known.signal if known is not None else RECORDED)

    def _score(
        self, state: SensorState, reading: Reading
    ) -> tuple[list[tuple[str, float, float, bool, bool]], ChangePointRow | None]:
        """Score each metric before learning it; nothing but the models changes.

        Returns (metric, value, score, is_anomaly, counts towards the alert) per metric, and
        the device's change point if any.
        """
        ts = reading.ts_ms
        t = ts / 1000.0
        device = state.device
        device_score = 0.0
        change_point = None
        drivers: tuple | list = ()
        if device is not None:
            joint = {**reading.values, "t": t}
            device_score = device.score_one(joint)
            distance = device.distance(joint)
            assert state.change is not None
            if distance is not None and state.change.update(distance):
                moved = ",".join(device.drivers(joint))
                change_point = ChangePointRow(
                    reading.sensor_id, ts, moved, CHANGE_DETECTOR, distance
                )
            device.learn_one(joint)
            if device_score > DEVICE_THRESHOLD:
                drivers = device.drivers(joint)
        models = state.models
        explain = state.alerts.open_alert is None
        own: list[tuple[str, float, float, bool]] = []  # each metric on its own
        top_own = 0.0
        for metric, value in reading.values.items():
            model = models.get(metric)
            if model is None:
                model = models[metric] = MetricModel(
                    self._new_detector(state.type, metric), default_threshold(state.type)
                )
            x: dict = {"value": value, "t": t}
            detector, threshold = model.detector, model.threshold
            score = detector.score_one(x)
            is_anomaly = threshold.classify(score)
            if is_anomaly and explain and score >= top_own:
                driving = _driver(detector, x)
                state.detector_of_alert = type(driving).__name__
                state.kind_of_alert = alert_kind(driving)
            detector.learn_one(x)
            threshold.learn_one(score)
            own.append((metric, value, score, is_anomaly))
            top_own = max(top_own, score)
        device_flag = self._device_flag(state, ts, device_score, own)
        top_score = 0.0
        scored = []
        for metric, value, score, is_anomaly in own:
            counts = is_anomaly or metric in drivers
            if device_flag:
                is_anomaly = True
            if device_score > score:
                score = device_score
            top_score = max(top_score, score)
            scored.append((metric, value, score, is_anomaly, counts))
        if device is not None and device_flag and explain and device_score >= top_score:
            state.detector_of_alert = type(device).__name__
            state.kind_of_alert = alert_kind(device)
        return scored, change_point

    @staticmethod
    def _device_flag(
        state: SensorState, ts: int, device_score: float, own: list[tuple[str, float, float, bool]]
    ) -> bool:
        """Whether the device's score flags the reading (see `DEVICE_ALONE_MS`)."""
        if device_score <= DEVICE_THRESHOLD:
            state.device_alarm_since = None
            return False
        if state.device_alarm_since is None:
            state.device_alarm_since = ts
        if ts - state.device_alarm_since <= DEVICE_ALONE_MS:
            return True
        return max((score for _, _, score, _ in own), default=0.0) > CORROBORATION

    def _record(
        self,
        state: SensorState,
        reading: Reading,
        scored: list[tuple[str, float, float, bool, bool]],
        change_point: ChangePointRow | None,
        rows: Rows,
    ) -> None:
        """The sensor's bookkeeping for a scored reading, and its rows.

        If it raises, the rows it appended are taken back (the caller throws the state away).
        """
        touched: tuple[
            list, ...
        ] = (  # the lists `_book` appends to: fewer than `Rows.mark`, it runs per reading
            rows.readings,
            rows.readings_1m,
            rows.alerts,
            rows.alert_closures,
            rows.alert_changes,
            rows.change_points,
        )
        lengths = [len(appended) for appended in touched]
        try:
            self._book(state, reading, scored, change_point, rows)
        except Exception:
            for appended, length in zip(touched, lengths, strict=True):
                del appended[length:]
            raise

    def _book(
        self,
        state: SensorState,
        reading: Reading,
        scored: list[tuple[str, float, float, bool, bool]],
        change_point: ChangePointRow | None,
        rows: Rows,
    ) -> None:
        ts = reading.ts_ms
        sensor_id = reading.sensor_id
        origin = reading.origin
        rows.note(origin)
        state.recent_ts.add(ts)
        clock = state.clock
        if ts > clock.latest_ms:
            if clock.latest_ms:
                self._watch_gap(state, reading, ts - clock.latest_ms, rows)
            clock.latest_ms = ts
            closed = state.buckets.close_before(ts - self.config.lateness_ms)
            if closed:
                self._emit_minutes(state, closed, rows)
        if change_point is not None:
            rows.change_points.append(change_point)
        add_to_minute = state.buckets.add
        out = rows.readings
        flagged: dict[str, float] = {}
        top_score = 0.0
        for metric, value, score, is_anomaly, counts in scored:
            if counts:
                flagged[metric] = score
            if score > top_score:
                top_score = score
            out.append(ReadingRow(sensor_id, ts, metric, value, score, is_anomaly))
            add_to_minute(metric, ts, value, score, is_anomaly)
        alerts = state.alerts
        if not flagged and not alerts.busy:
            return
        change = alerts.observe(sensor_id, ts, flagged, top_score)
        if change is not None:
            self._alert_change(state, change, origin, rows)

    def _alert_change(
        self, state: SensorState, change: tuple, origin: tuple[str, int] | None, rows: Rows
    ) -> None:
        what, alert_id, at, peak, metrics, count = change
        sensor_id, district = state.sensor_id, state.district
        if what == "open":
            detector, kind = state.detector_of_alert, state.kind_of_alert
            if kind == "anomaly" and district:
                rows.alert_changes.append(
                    AlertChange(district, "open", alert_id, sensor_id, state.type, at, peak, origin)
                )
            rows.alerts.append(
                alert_row(alert_id, sensor_id, state.type, kind, metrics, at, peak, count, detector)
            )
        else:
            rows.alert_closures.append(closure_row(alert_id, at, peak, metrics, count))
            if district:
                rows.alert_changes.append(
                    AlertChange(
                        district, "close", alert_id, sensor_id, state.type, at, peak, origin
                    )
                )

    def _close_alert(self, state: SensorState, ts_ms: int, rows: Rows) -> None:
        change = state.alerts.close(ts_ms)
        if change is not None:
            self._alert_change(state, change, None, rows)

    def _expire(self, state: SensorState, ts_ms: int, rows: Rows, reason: str) -> None:
        """The sensor leaves the flow's state: final minutes out, alert closed, reset noted."""
        self._emit_minutes(state, state.buckets.close_all(), rows)
        self._close_alert(state, max(ts_ms, state.clock.latest_ms), rows)
        for reading in state.clock.release():
            self._clock_jump(reading, rows)
        rows.model_resets.append(ModelResetRow(ts_ms, STEP, state.sensor_id, "state", reason, None))
        self.state = None

    def _watch_gap(self, state: SensorState, reading: Reading, gap_ms: int, rows: Rows) -> None:
        """A reading after a silence of `DROPOUT_GAPS` usual intervals: a dropout alert.

        The usual interval is a running estimate over gaps that were not silences. The alert
        is written when the sensor is back (a silence is known once it ends; a sensor silent
        right now shows as `silent` on the overview), opened and closed at that reading, so
        its delay is honest; `detail` says when the silence began and how long it lasted.
        """
        clock = state.clock
        typical = clock.typical_gap_ms
        if typical and clock.gaps_seen >= DROPOUT_MIN_GAPS and gap_ms >= DROPOUT_GAPS * typical:
            silent_from = clock.latest_ms
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
        clock.learn_gap(gap_ms)

    def _emit_minutes(self, state: SensorState, minutes: list[tuple], rows: Rows) -> None:
        sensor_id = state.sensor_id
        rows.readings_1m.extend(MinuteRow(sensor_id, *minute) for minute in minutes)

    def on_notify(self) -> tuple[list[Rows], bool]:
        """The sensor has been silent a while (wall clock): its open minutes are final.

        After `ttl_ms` of silence its state goes.
        """
        if self.state is None or datetime.now(UTC) < self._expires_at:
            return self._flush(), False
        rows = Rows()
        ttl = duration_text(self.config.ttl_ms)
        self._expire(self.state, self.state.clock.latest_ms, rows, f"expired: silent for {ttl}")
        return [rows], True

    def on_eof(self) -> tuple[list[Rows], bool]:
        """The input ended: open minutes are final; held readings were never confirmed."""
        out = self._flush()
        state = self.state
        if state is not None and state.clock.held:
            rows = Rows()
            for reading in state.clock.release():
                self._clock_jump(reading, rows)
            out.append(rows)
        return out, False

    def _flush(self) -> list[Rows]:
        self._idle_flush_at = None
        if self.state is None:
            return []
        rows = Rows()
        self._emit_minutes(self.state, self.state.buckets.close_all(), rows)
        return [rows] if rows.readings_1m else []

    def notify_at(self) -> datetime | None:
        if self._idle_flush_at is not None:
            return min(self._idle_flush_at, self._expires_at)
        return self._expires_at if self.state is not None else None

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
