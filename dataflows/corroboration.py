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

import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field

from bytewax.operators import StatefulBatchLogic

from dataflows.alerting import alert_row, closure_row
from dataflows.rows import Rows

DETECTOR = "Corroboration"


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


class DistrictLogic(StatefulBatchLogic):
    """The per-district step: alert changes in, city-event alerts out (one `Rows`)."""

    def __init__(self, window_ms: int, min_sensors: int, resume: bytes | None = None) -> None:
        self.window_ms = window_ms
        self.min_sensors = min_sensors
        self.state: DistrictState = pickle.loads(resume) if resume is not None else DistrictState()

    def on_batch(self, values: list[tuple]) -> tuple[list[Rows], bool]:
        rows = Rows()
        for district, what, alert_id, sensor_id, sensor_type, ts, peak, origin in values:
            rows.note(origin)
            if what == "open":
                self._opened(district, alert_id, sensor_id, sensor_type, ts, peak, rows)
            else:
                self._closed(alert_id, ts, rows)
        return [rows], False

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
        rows.alert_groups.append((event.alert_id, alert_id))

    def _closed(self, alert_id: str, ts: int, rows: Rows) -> None:
        state = self.state
        state.open_alerts.pop(alert_id, None)
        event = state.event
        if event is None or any(member in state.open_alerts for member in event.members):
            return
        types = ",".join(sorted(event.types))
        rows.alert_closures.append(
            closure_row(event.alert_id, ts, event.peak, types, len(event.members))
        )
        state.event = None

    @staticmethod
    def _detail(event: CityEvent) -> str:
        names = sorted(event.sensors)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        return f"{len(names)} sensors together: {shown}"

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
