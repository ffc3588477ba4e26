"""The built-in city simulator: plausible sensor streams with labelled anomalies and faults.

The city ("Riverton", in UTC) has districts, each with sensors of five types whose values
follow daily and weekly rhythms plus noise. On top of that the simulator injects, from the
seed alone:

- anomalies on single sensors: `spike`, `level_shift`, `drift`, `stuck` (flatline) and
  `dropout` (no readings), each written as a ground-truth `Label`;
- city events that move many sensors of a district at once: `road_closure` (traffic slows,
  flow drops, noise falls) and `pollution_episode` (PM2.5 and NO2 rise), one `Label` per
  affected sensor with a shared `event_id`;
- data faults that are not anomalies: missing readings, duplicates, out-of-order arrival
  (most within the allowed lateness, a few beyond it) and corrupt messages.

Sensors are split over a fixed number of partitions; each `PartitionSimulator` is
deterministic given the seed, the sensor count and the partition count, and its whole
position is a small picklable `state()`.

>>> city = City(seed=1, n_sensors=20)
>>> [s.sensor_id for s in city.sensors[:3]]
['traffic-00000', 'air-00001', 'traffic-00002']
>>> sim = PartitionSimulator(city, partition=0, n_partitions=1, start_ms=1767225600000)
>>> out = sim.advance(until_ms=1767225600000 + 3_600_000)  # one simulated hour
>>> readings = [r for r in out if isinstance(r, dict)]
>>> 18 * 60 < len(readings) < 22 * 60
True
>>> again = PartitionSimulator(city, 0, 1, 1767225600000).advance(1767225600000 + 3_600_000)
>>> again == out
True
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataflows.messages.schema import Label

DAY_MS = 86_400_000
INTERVAL_MS = 60_000
"""Every simulated sensor reports once a minute."""
TICK_MS = 10_000
"""Sensors are spread over six phases within the minute."""

DISTRICTS: tuple[tuple[str, float, float], ...] = (
    ("Centre", 52.370, 4.895),
    ("Harbour", 52.385, 4.930),
    ("Old Town", 52.360, 4.870),
    ("University", 52.355, 4.920),
    ("Riverside", 52.390, 4.880),
    ("Industrial Park", 52.400, 4.955),
    ("Garden City", 52.340, 4.860),
    ("Airport Road", 52.330, 4.940),
)

# sensor type per position in a repeating pattern of 20 (35 % traffic, 15 % air, 15 % noise,
# 20 % energy, 15 % water), so a sensor's type does not depend on the sensor count
_TYPE_PATTERN = (
    ("traffic_loop", "air_quality", "traffic_loop", "noise", "energy")
    + ("water", "traffic_loop", "energy", "air_quality", "traffic_loop")
    + ("noise", "water", "energy", "traffic_loop", "air_quality")
    + ("noise", "traffic_loop", "energy", "water", "traffic_loop")
)
_ID_PREFIX = {
    "traffic_loop": "traffic",
    "air_quality": "air",
    "noise": "noise",
    "energy": "energy",
    "water": "water",
}
SIMULATED_METRICS = {
    "traffic_loop": ("flow", "speed", "occupancy"),
    "air_quality": ("pm25", "no2"),
    "noise": ("laeq",),
    "energy": ("power",),
    "water": ("pressure", "flow"),
}
"""The metrics the simulator makes of each of its sensor types (the catalogue must list
them: the default `data/catalogue.toml` does)."""
_METRICS = SIMULATED_METRICS
_DECIMALS = {"flow": 0, "speed": 1, "occupancy": 1, "pm25": 1, "no2": 1, "laeq": 1, "power": 1}

ANOMALY_KINDS = ("spike", "level_shift", "drift", "stuck", "dropout")
_ANOMALY_WEIGHTS = (0.3, 0.2, 0.15, 0.2, 0.15)
_ANOMALY_MINUTES = {  # duration range per kind
    "spike": (1, 3),
    "level_shift": (30, 180),
    "drift": (120, 480),
    "stuck": (20, 120),
    "dropout": (10, 60),
}
EVENT_KINDS = ("road_closure", "pollution_episode")


def _bump(hour: np.ndarray, centre: float | np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def traffic_activity(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Share of a road's capacity in use at local hours (rush hours on weekdays)."""
    weekday = (
        0.08
        + 0.9 * _bump(hour, 8.0, 1.2)
        + 0.8 * _bump(hour, 17.5, 1.5)
        + 0.45 * _bump(hour, 13.0, 3.0)
    )
    return np.where(weekend, 0.08 + 0.55 * _bump(hour, 13.5, 3.5), weekday)


def office_load(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Share of an office building's peak load."""
    rise = 1 / (1 + np.exp(-(hour - 7.5) * 2))
    fall = 1 / (1 + np.exp((hour - 18.5) * 2))
    return np.where(weekend, 0.35, 0.35 + 0.65 * rise * fall)


def water_demand(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Share of a water main's peak flow (morning and evening peaks)."""
    morning = np.where(weekend, 8.5, 7.0)
    return 0.3 + 0.8 * _bump(hour, morning, 1.3) + 0.6 * _bump(hour, 19.0, 2.0)


@dataclass(frozen=True)
class SimSensor:
    """A simulated sensor and its fixed personality."""

    index: int
    sensor_id: str
    type: str
    district: str
    lat: float
    lon: float
    phase_ms: int
    level: float  # typical size of its main signal (capacity, base concentration, ...)
    second: float  # type-specific second parameter (free speed, NO2 base, pressure, ...)
    noise: float  # relative noise


def place(rng: np.random.Generator, n: int) -> list[tuple[str, float, float]]:
    """(district, lat, lon) of `n` devices: a random district each, jittered around it.

    >>> [district for district, _, _ in place(np.random.default_rng(1), 2)]
    ['University', 'Riverside']
    """
    district = rng.integers(0, len(DISTRICTS), n)
    jitter = rng.normal(0, 0.008, (n, 2))
    out = []
    for i in range(n):
        name, lat, lon = DISTRICTS[district[i]]
        out.append(
            (name, round(lat + float(jitter[i, 0]), 5), round(lon + float(jitter[i, 1]) * 1.6, 5))
        )
    return out


class City:
    """The sensors of a city, derived from the seed and the sensor count."""

    def __init__(self, seed: int, n_sensors: int) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        places = place(rng, n_sensors)
        phase = rng.integers(0, INTERVAL_MS // TICK_MS, n_sensors) * TICK_MS
        level = rng.uniform(0.6, 1.5, n_sensors)
        second = rng.uniform(0.0, 1.0, n_sensors)
        noise = rng.uniform(0.03, 0.08, n_sensors)
        self.sensors: list[SimSensor] = []
        for i in range(n_sensors):
            sensor_type = _TYPE_PATTERN[i % len(_TYPE_PATTERN)]
            name, lat, lon = places[i]
            self.sensors.append(
                SimSensor(
                    index=i,
                    sensor_id=f"{_ID_PREFIX[sensor_type]}-{i:05d}",
                    type=sensor_type,
                    district=name,
                    lat=lat,
                    lon=lon,
                    phase_ms=int(phase[i]),
                    level=float(level[i]),
                    second=float(second[i]),
                    noise=float(noise[i]),
                )
            )

    def episodes_of_day(self, day: int) -> list[Episode]:
        """Every anomaly and city-event episode starting on `day` (days since 1970-01-01)."""
        rng = np.random.default_rng([self.seed, 1, day])
        n = len(self.sensors)
        counts = rng.poisson(0.5, n)
        episodes: list[Episode] = []
        for i in np.repeat(np.arange(n), counts):
            sensor = self.sensors[int(i)]
            kind = ANOMALY_KINDS[rng.choice(len(ANOMALY_KINDS), p=_ANOMALY_WEIGHTS)]
            low, high = _ANOMALY_MINUTES[kind]
            start = day * DAY_MS + int(rng.uniform(0, DAY_MS))
            duration = int(rng.uniform(low, high) * 60_000)
            metrics = _METRICS[sensor.type]
            metric = None if kind in ("stuck", "dropout") else metrics[rng.integers(len(metrics))]
            size = float(rng.uniform(0.5, 1.0) if kind == "spike" else rng.uniform(0.3, 0.6))
            sign = 1.0 if rng.random() < 0.6 else -1.0
            episodes.append(
                Episode(sensor.index, kind, metric, start, start + duration, sign * size)
            )

        for k, kind in enumerate(EVENT_KINDS):
            rate = 1.0 if kind == "road_closure" else 0.5
            for j in range(rng.poisson(rate)):
                district = DISTRICTS[rng.integers(len(DISTRICTS))][0]
                hours = rng.uniform(1, 4) if kind == "road_closure" else rng.uniform(3, 8)
                start = day * DAY_MS + int(rng.uniform(0, DAY_MS))
                end = start + int(hours * 3_600_000)
                event_id = f"{kind}-{day}-{k}{j}"
                affected = ("traffic_loop", "noise") if k == 0 else ("air_quality",)
                for sensor in self.sensors:
                    if sensor.district == district and sensor.type in affected:
                        episodes.append(
                            Episode(sensor.index, kind, None, start, end, 1.0, event_id)
                        )
        episodes.sort(key=lambda e: e.start_ms)
        return episodes


@dataclass
class Episode:
    """One injected anomaly on one sensor, active on [start_ms, end_ms)."""

    sensor: int
    kind: str
    metric: str | None
    start_ms: int
    end_ms: int
    size: float
    event_id: str | None = None
    frozen: dict[str, float] | None = field(default=None, compare=False)


@dataclass
class _State:
    next_tick_ms: int
    day: int
    pending: list[Episode]  # episodes of the current day not yet started
    active: list[Episode]
    delayed: list[tuple[int, int, dict]]  # heap of (emit at, sequence, message)
    sequence: int


class PartitionSimulator:
    """Produces the messages and labels of one partition of the city's sensors, tick by tick.

    `advance(until_ms)` returns everything due up to that simulated time: raw message dicts
    (the shape `dataflows.messages.schema.validate` accepts, sometimes corrupt) and `Label`s.
    """

    def __init__(
        self,
        city: City,
        partition: int,
        n_partitions: int,
        start_ms: int,
        end_ms: int | None = None,
        fault_rate: float = 1.0,
        state: _State | None = None,
    ) -> None:
        self.city = city
        self.partition = partition
        self.end_ms = end_ms
        self.fault_rate = fault_rate
        self.sensors = [s for s in city.sensors if s.index % n_partitions == partition]
        self._mine = {s.index for s in self.sensors}
        # per type, sensors sorted by phase, and where each phase's sensors sit in that order
        self._groups: list[_TypeGroup] = []
        for sensor_type in SIMULATED_METRICS:
            group = sorted(
                (s for s in self.sensors if s.type == sensor_type),
                key=lambda s: (s.phase_ms, s.index),
            )
            if group:
                self._groups.append(_TypeGroup(sensor_type, group))
        self._chunk: _Chunk | None = None
        start_ms = -(-start_ms // TICK_MS) * TICK_MS  # first tick at or after the start
        if state is None:
            day = start_ms // DAY_MS
            pending = [e for e in self._episodes(day) if e.start_ms >= start_ms]
            state = _State(start_ms, day, pending, [], [], 0)
        self._state = state

    @property
    def now_ms(self) -> int:
        """Simulated time of the next tick."""
        return self._state.next_tick_ms

    @property
    def finished(self) -> bool:
        """Whether the simulated span has been fully produced."""
        return self.end_ms is not None and self.now_ms >= self.end_ms and not self._state.delayed

    def span_ms(self, messages: int) -> int:
        """Simulated time (whole ticks) that holds about `messages` messages."""
        per_tick = max(1.0, len(self.sensors) * TICK_MS / INTERVAL_MS)
        return max(1, math.ceil(messages / per_tick)) * TICK_MS

    def state(self) -> _State:
        """A picklable copy of the position, to resume with `PartitionSimulator(state=...)`."""
        st = self._state
        return _State(
            st.next_tick_ms,
            st.day,
            list(st.pending),
            [Episode(**vars(e)) for e in st.active],
            list(st.delayed),
            st.sequence,
        )

    def _episodes(self, day: int) -> list[Episode]:
        return [e for e in self.city.episodes_of_day(day) if e.sensor in self._mine]

    def advance(self, until_ms: int) -> list[dict | Label]:
        """Everything due at ticks before `until_ms` (and before the end, if any)."""
        out: list[dict | Label] = []
        st = self._state
        limit = until_ms if self.end_ms is None else min(until_ms, self.end_ms)
        while st.next_tick_ms < limit:
            self._tick(st.next_tick_ms, out)
            st.next_tick_ms += TICK_MS
        if self.end_ms is not None and st.next_tick_ms >= self.end_ms and until_ms > self.end_ms:
            # the span is over: late messages still in flight arrive now
            out.extend(message for _, _, message in sorted(st.delayed))
            st.delayed.clear()
        return out

    def _tick(self, t: int, out: list[dict | Label]) -> None:
        st = self._state
        if t // DAY_MS != st.day:
            st.day = t // DAY_MS
            st.pending.extend(self._episodes(st.day))
        while st.pending and st.pending[0].start_ms <= t:
            episode = st.pending.pop(0)
            st.active.append(episode)
            sensor = self.city.sensors[episode.sensor]
            out.append(
                Label(
                    sensor.sensor_id,
                    episode.kind,
                    episode.metric,
                    episode.start_ms,
                    episode.end_ms,
                    episode.event_id,
                    sensor.district,
                )
            )
        if st.active:
            st.active = [e for e in st.active if e.end_ms > t]
        active: dict[int, list[Episode]] = {}
        for episode in st.active:
            active.setdefault(episode.sensor, []).append(episode)

        while st.delayed and st.delayed[0][0] <= t:
            out.append(heapq.heappop(st.delayed)[2])

        chunk = self._chunk
        if chunk is None or not chunk.start_ms <= t < chunk.start_ms + CHUNK_MS:
            chunk = self._chunk = _Chunk(self.city.seed, self.partition, t, self._groups)
        row = (t - chunk.start_ms) // INTERVAL_MS
        phase = t % INTERVAL_MS
        for group, data in zip(self._groups, chunk.data, strict=True):
            first, last = group.slices.get(phase, (0, 0))
            if first < last:
                self._emit(t, group.type, group.sensors, first, last, data, row, active, out)

    def _emit(
        self,
        t: int,
        sensor_type: str,
        sensors: list[SimSensor],
        first: int,
        last: int,
        data: _GroupValues,
        row: int,
        active: dict[int, list[Episode]],
        out: list[dict | Label],
    ) -> None:
        st = self._state
        rate = self.fault_rate
        names = data.names
        columns = [column[row] for column in data.values]
        draws = data.draws[row]
        extra = data.extra[row]
        for k in range(first, last):
            sensor = sensors[k]
            row_values = {name: column[k] for name, column in zip(names, columns, strict=True)}
            episodes = active.get(sensor.index)
            if episodes is not None:
                applied = _apply(episodes, row_values, t, sensor_type)
                if applied is None:
                    continue  # dropout
                row_values = applied
            message = {
                "sensor_id": sensor.sensor_id,
                "type": sensor_type,
                "ts": t,
                "values": row_values,
                "district": sensor.district,
                "lat": sensor.lat,
                "lon": sensor.lon,
            }
            u = draws[k]
            if u >= 0.0140 * rate:
                out.append(message)
            elif u < 0.0050 * rate:
                continue  # missing reading
            elif u < 0.0080 * rate:
                out.append(message)
                out.append(dict(message))  # duplicate
            elif u < 0.0135 * rate:
                if u < 0.0130 * rate:  # late, but within the lateness
                    delay = 20_000 + int(extra[k] * 80_000)
                else:  # beyond the lateness
                    delay = 300_000 + int(extra[k] * 600_000)
                st.sequence += 1
                heapq.heappush(st.delayed, (t + delay, st.sequence, message))
            else:
                out.append(_corrupt(message, int(u * 1e6)))


CHUNK_MS = 600_000
"""Values are simulated ten minutes at a time, each chunk from its own random stream."""


class _TypeGroup:
    """The sensors of one type in a partition, sorted by phase, with each phase's slice."""

    def __init__(self, sensor_type: str, sensors: list[SimSensor]) -> None:
        self.type = sensor_type
        self.sensors = sensors
        self.level = np.array([s.level for s in sensors])
        self.second = np.array([s.second for s in sensors])
        self.noise = np.array([s.noise for s in sensors])
        self.phase = np.array([s.phase_ms for s in sensors])
        self.slices: dict[int, tuple[int, int]] = {}
        for k, sensor in enumerate(sensors):
            first, _ = self.slices.get(sensor.phase_ms, (k, k))
            self.slices[sensor.phase_ms] = (first, k + 1)


class _GroupValues:
    """One chunk's values of one type group: per metric a list of rows (one per minute)."""

    def __init__(self, names: list[str], values: list, draws: list, extra: list) -> None:
        self.names = names
        self.values = values
        self.draws = draws
        self.extra = extra


class _Chunk:
    """Normal values, fault draws and delays of a partition's sensors for ten minutes.

    Derived from (seed, partition, chunk index) alone, so it never needs snapshotting.
    """

    def __init__(self, seed: int, partition: int, t: int, groups: list[_TypeGroup]) -> None:
        index = t // CHUNK_MS
        self.start_ms = index * CHUNK_MS
        rng = np.random.default_rng([seed, 2, partition, index])
        minutes = self.start_ms + INTERVAL_MS * np.arange(CHUNK_MS // INTERVAL_MS)[:, None]
        self.data: list[_GroupValues] = []
        for group in groups:
            times = minutes + group.phase[None, :]
            hour = (times % DAY_MS) / 3_600_000
            weekend = (times // DAY_MS + 3) % 7 >= 5
            values = _values(group, hour, weekend, rng)
            shape = times.shape
            self.data.append(
                _GroupValues(
                    list(values),
                    [array.tolist() for array in values.values()],
                    rng.random(shape).tolist(),
                    rng.random(shape).tolist(),
                )
            )


def _values(
    group: _TypeGroup, hour: np.ndarray, weekend: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Normal (anomaly-free) values of a type group at the given local hours, per metric."""
    sensor_type = group.type
    level, second, noise = group.level, group.second, group.noise
    eps = rng.standard_normal((len(_METRICS[sensor_type]), *hour.shape))
    activity = traffic_activity(hour, weekend)
    if sensor_type == "traffic_loop":
        capacity = 1200.0 * level
        flow = capacity * activity * (1 + noise * eps[0])
        free_speed = 40.0 + 50.0 * second
        speed = free_speed * (1 - 0.45 * activity**2) + 3.0 * eps[1]
        occupancy = 35.0 * flow / capacity * (1 + noise * eps[2])
        result = {"flow": flow, "speed": speed, "occupancy": occupancy}
    elif sensor_type == "air_quality":
        pm25 = (6 + 8 * level) * (1 + 0.6 * activity) * (1 + 1.5 * noise * eps[0])
        no2 = (15 + 20 * second) * (1 + 1.2 * activity) * (1 + 1.5 * noise * eps[1])
        result = {"pm25": pm25, "no2": no2}
    elif sensor_type == "noise":
        laeq = 44 + 4 * level + 20 * np.log10(1 + 9 * activity) + 1.5 * eps[0]
        result = {"laeq": laeq}
    elif sensor_type == "energy":
        office = office_load(hour, weekend)
        home = 0.4 + 0.3 * _bump(hour, 7.5, 1.0) + 0.6 * _bump(hour, 19.5, 2.0)
        shape = np.where(second < 0.5, office, home)
        power = 150.0 * level * shape * (1 + noise * eps[0])
        result = {"power": power}
    else:  # water
        demand = water_demand(hour, weekend)
        flow = 250.0 * level * demand * (1 + noise * eps[1])
        pressure = 3.5 + 1.5 * second - 0.6 * (demand - 0.3) + 0.03 * eps[0]
        result = {"pressure": pressure, "flow": flow}
    return {
        name: np.round(np.clip(array, 0.0, None), _DECIMALS.get(name, 2))
        for name, array in result.items()
    }


def _apply(
    episodes: list[Episode], row: dict[str, float], t: int, sensor_type: str
) -> dict[str, float] | None:
    """The row as changed by the sensor's active episodes; None for a dropout."""
    for episode in episodes:
        kind = episode.kind
        if kind == "dropout":
            return None
        if kind == "stuck":
            if episode.frozen is None:
                episode.frozen = dict(row)
            row = dict(episode.frozen)
        elif kind == "road_closure":
            if sensor_type == "traffic_loop":
                row["flow"] = round(row["flow"] * 0.3)
                row["speed"] = round(row["speed"] * 0.5, 1)
                row["occupancy"] = round(min(100.0, row["occupancy"] * 1.6 + 10), 1)
            else:
                row["laeq"] = round(row["laeq"] - 6.0, 1)
        elif kind == "pollution_episode":
            ramp = min(1.0, (t - episode.start_ms) / 1_800_000, (episode.end_ms - t) / 1_800_000)
            row["pm25"] = round(row["pm25"] * (1 + 2.0 * ramp), 1)
            row["no2"] = round(row["no2"] * (1 + 1.2 * ramp), 1)
        else:
            metric = episode.metric
            assert metric is not None  # a one-metric kind always names its metric
            typical = _typical(sensor_type, metric)
            if kind == "drift":
                progress = (t - episode.start_ms) / (episode.end_ms - episode.start_ms)
                delta = episode.size * typical * progress
            else:  # spike, level_shift
                delta = episode.size * typical
            row[metric] = round(max(0.0, row[metric] + delta), _DECIMALS.get(metric, 2))
    return row


def _typical(sensor_type: str, metric: str) -> float:
    """Typical daytime magnitude of a metric, the scale of injected anomalies."""
    return {
        ("traffic_loop", "flow"): 700.0,
        ("traffic_loop", "speed"): 40.0,
        ("traffic_loop", "occupancy"): 20.0,
        ("air_quality", "pm25"): 15.0,
        ("air_quality", "no2"): 40.0,
        ("noise", "laeq"): 25.0,
        ("energy", "power"): 120.0,
        ("water", "pressure"): 1.5,
        ("water", "flow"): 150.0,
    }[(sensor_type, metric)]


def _corrupt(message: dict, variant: int) -> Any:
    """A broken version of a message, as a faulty gateway might send it."""
    broken = dict(message)
    choice = variant % 5
    if choice == 0:
        first = next(iter(message["values"]))
        broken["values"] = {**message["values"], first: "n/a"}
    elif choice == 1:
        first = next(iter(message["values"]))
        broken["values"] = {**message["values"], first: -999.0}
    elif choice == 2:
        del broken["ts"]
    elif choice == 3:
        broken["values"] = {**message["values"], "temperature": 21.5}
    else:
        return "<gateway reboot>"
    return broken


def whole_stream(
    seed: int,
    n_sensors: int,
    n_partitions: int,
    start_ms: int,
    end_ms: int,
    fault_rate: float = 1.0,
) -> list[dict | Label]:
    """Everything the city produces from `start_ms` to `end_ms`, partition after partition.

    >>> stream = whole_stream(1, 10, 2, 1767225600000, 1767225600000 + 600_000)
    >>> sum(isinstance(m, dict) for m in stream) > 80
    True
    """
    city = City(seed, n_sensors)
    out: list[dict | Label] = []
    for p in range(n_partitions):
        sim = PartitionSimulator(city, p, n_partitions, start_ms, end_ms, fault_rate)
        out.extend(sim.advance(end_ms + 1))
    return out
