"""City events: when several sensors of one district turn anomalous together, one alert.

The per-sensor step reports each opening and closing of an `anomaly` alert with the sensor's
district (sensor faults never take part: a stuck or silent sensor is its own problem). This
step, keyed by district, opens a `city_event` alert when `min_sensors` different sensors of
one type in the district have anomaly alerts open that all opened within `window_ms`: a road
closure moves many traffic loops at once and a pollution episode many air-quality stations,
while a lone misbehaving sensor does not, nor do a few sensors of unrelated types whose own
anomalies happen to coincide. The alerts of other types open in that window join the event
(the noise that falls with the traffic), as do later anomaly alerts of the district; it
closes when the last of its members closes. Each member is recorded in `alert_groups`, so
that the alert page can show the one event instead of its many sensor alerts.

If handling one alert change raises, it is dead-lettered as `internal_error` and the
district's state starts afresh (written to `model_resets`). A district with no alert change
for `ttl_ms` (on the flow's clock) leaves the state, its open event closed.

A city-event alert names the district in `sensor_id`, `district` as `sensor_type`, the types
of its sensors as `metrics`, `Corroboration` as detector and its members in `detail`; its
peak score is the highest of its members'; its id is `<district>@<opened ms>:city_event`.

>>> logic = DistrictLogic(window_ms=1_800_000, min_sensors=2)
>>> rows, _ = logic.on_batch([
...     ("Centre", "open", "t1@0", "t1", "traffic_loop", 0, 0.9, None),
...     ("Centre", "open", "n1@60000", "n1", "noise", 60_000, 0.97, None),
... ])
>>> rows[0].alerts  # two sensors, but of two types: no event yet
[]
>>> t2 = ("Centre", "open", "t2@120000", "t2", "traffic_loop", 120_000, 0.92, None)
>>> rows, _ = logic.on_batch([t2])
>>> rows[0].alerts[0][:5], [member for _, member in rows[0].alert_groups]
(('Centre@0:city_event', 'Centre', 'district', 'city_event', 'noise,traffic_loop'), \
['t1@0', 'n1@60000', 't2@120000'])
>>> rows, _ = logic.on_batch([
...     ("Centre", "close", "t1@0", "t1", "traffic_loop", 600_000, 0.9, None),
...     ("Centre", "close", "n1@60000", "n1", "noise", 900_000, 0.97, None),
...     ("Centre", "close", "t2@120000", "t2", "traffic_loop", 960_000, 0.92, None),
... ])
>>> rows[0].alert_closures[0][:3]
('Centre@0:city_event', 960000, 0.97)
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bytewax.operators import StatefulBatchLogic

from dataflows.flow.alerting import alert_row, closure_row
from dataflows.flow.isolation import FlowStopped, StepGuard
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AlertGroupRow, ModelResetRow
from dataflows.messages.schema import DeadLetter, duration_text, now_ms, payload_text

DETECTOR = "Corroboration"
STEP = "districts"
DAY_MS = 86_400_000


@dataclass
class CityEvent:
    """The open city event of a district."""

    alert_id: str
    opened_ms: int
    members: set[str] = field(default_factory=set)  # alert ids
    sensors: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    peak: float = 0.0


@dataclass
class DistrictState:
    """The open anomaly alerts of a district's sensors, and its open event."""

    open_alerts: dict[str, tuple[str, str, int, float]] = field(default_factory=dict)
    event: CityEvent | None = None
    latest_ms: int = 0
    district: str | None = None


class DistrictLogic(StatefulBatchLogic):
    """The per-district step: alert changes in, city-event alerts out (one `Rows`)."""

    def __init__(
        self,
        window_ms: int,
        min_sensors: int,
        resume: bytes | None = None,
        ttl_ms: int = 7 * DAY_MS,
        guard: StepGuard | None = None,
    ) -> None:
        self.window_ms = window_ms
        self.min_sensors = min_sensors
        self.ttl_ms = ttl_ms
        self.guard = guard or StepGuard(STEP)
        self.state: DistrictState = pickle.loads(resume) if resume is not None else DistrictState()
        self._expires_at = datetime.now(UTC) + timedelta(milliseconds=ttl_ms)

    def on_batch(self, values: list[tuple]) -> tuple[list[Rows], bool]:
        rows = Rows()
        failures = 0
        for change in values:
            mark = rows.mark()
            try:
                self._change(change, rows)
            except FlowStopped:
                raise
            except Exception as error:  # the record's fault, not the flow's: see `isolation`
                failures += 1
                rows.rollback(mark)
                self._failed(change, error, rows)
        if failures < len(values):
            self.guard.succeeded()
        self._expires_at = datetime.now(UTC) + timedelta(milliseconds=self.ttl_ms)
        return [rows], False

    def _change(self, change: tuple, rows: Rows) -> None:
        district, what, alert_id, sensor_id, sensor_type, ts, peak, origin = change
        rows.note(origin)
        state = self.state
        if ts - state.latest_ms > self.ttl_ms:  # alerts of sensors long gone: forget them
            oldest = ts - self.ttl_ms
            state.open_alerts = {k: v for k, v in state.open_alerts.items() if v[2] >= oldest}
        state.latest_ms = max(state.latest_ms, ts)
        state.district = district
        if what == "open":
            self._opened(district, alert_id, sensor_id, sensor_type, ts, peak, rows)
        else:
            self._closed(alert_id, ts, rows)

    def _failed(self, change: tuple, error: Exception, rows: Rows) -> None:
        origin = change[-1] if change and isinstance(change[-1], tuple) else None
        position = None if origin is None else f"{origin[0]}/{origin[1]}"
        reason = self.guard.failed(error, position)
        district = change[0] if change and isinstance(change[0], str) else None
        rows.dead_letters.append(
            DeadLetter(now_ms(), STEP, position, None, reason, payload_text(list(change)))
        )
        ts = change[5] if len(change) > 5 and isinstance(change[5], int) else self.state.latest_ms
        with contextlib.suppress(Exception):  # the state is thrown away anyway
            self._close_event(ts, rows)
        self.state = DistrictState(latest_ms=self.state.latest_ms, district=district)
        rows.model_resets.append(
            ModelResetRow(ts, STEP, district or "?", "state", reason, position)
        )

    def on_notify(self) -> tuple[list[Rows], bool]:
        """No alert change for `ttl_ms`: the district leaves the state."""
        rows = Rows()
        self._close_event(self.state.latest_ms, rows)
        if self.state.latest_ms:
            rows.model_resets.append(
                ModelResetRow(
                    self.state.latest_ms,
                    STEP,
                    self.state.district or "?",
                    "state",
                    f"expired: silent for {duration_text(self.ttl_ms)}",
                    None,
                )
            )
        return [rows], True

    def notify_at(self) -> datetime | None:
        return self._expires_at

    def _opened(
        self,
        district: str,
        alert_id: str,
        sensor_id: str,
        sensor_type: str,
        ts: int,
        peak: float,
        rows: Rows,
    ) -> None:
        state = self.state
        state.open_alerts[alert_id] = (sensor_id, sensor_type, ts, peak)
        if state.event is not None:
            self._join(state.event, alert_id, rows)
            return
        recent = {
            key: value
            for key, value in state.open_alerts.items()
            if value[2] >= ts - self.window_ms
        }
        if not self._enough_of_one_type(recent.values()):
            return
        opened = min(value[2] for value in recent.values())
        event = state.event = CityEvent(f"{district}@{opened}:city_event", opened)
        for key in sorted(recent, key=lambda k: recent[k][2]):
            self._join(event, key, rows)
        rows.alerts.append(
            alert_row(
                event.alert_id,
                district,
                "district",
                "city_event",
                ",".join(sorted(event.types)),
                opened,
                event.peak,
                len(event.members),
                DETECTOR,
                detail=self._detail(event),
            )
        )

    def _enough_of_one_type(self, alerts: Iterable[tuple[str, str, int, float]]) -> bool:
        sensors_by_type: dict[str, set[str]] = {}
        for sensor_id, sensor_type, *_ in alerts:
            sensors_by_type.setdefault(sensor_type, set()).add(sensor_id)
        return any(len(sensors) >= self.min_sensors for sensors in sensors_by_type.values())

    def _join(self, event: CityEvent, alert_id: str, rows: Rows) -> None:
        sensor_id, sensor_type, _, peak = self.state.open_alerts[alert_id]
        event.members.add(alert_id)
        event.sensors.add(sensor_id)
        event.types.add(sensor_type)
        event.peak = max(event.peak, peak)
        rows.alert_groups.append(AlertGroupRow(event.alert_id, alert_id))

    def _closed(self, alert_id: str, ts: int, rows: Rows) -> None:
        state = self.state
        state.open_alerts.pop(alert_id, None)
        event = state.event
        if event is None or any(member in state.open_alerts for member in event.members):
            return
        self._close_event(ts, rows)

    def _close_event(self, ts: int, rows: Rows) -> None:
        event = self.state.event
        if event is None:
            return
        types = ",".join(sorted(event.types))
        rows.alert_closures.append(
            closure_row(event.alert_id, ts, event.peak, types, len(event.members))
        )
        self.state.event = None

    @staticmethod
    def _detail(event: CityEvent) -> str:
        names = sorted(event.sensors)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        return f"{len(names)} sensors together: {shown}"

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
