"""Simulated city assets that wear out, get maintained, fail and are repaired.

Each asset (pump, lift, escalator, fan, streetlight driver) reports its condition signals
once an hour. Within a *life* its wear grows from 0 to 1 as `(age / L) ** p`, with a life
length `L` and a shape `p` drawn anew for each life, and each signal reacts to wear with
its own sensitivity, so trajectories differ from life to life and from asset to asset.
The operating regime (low, normal or high load; day or night for streetlights) changes
every few hours and moves the signals as much as moderate wear does.

Maintenance visits come at irregular intervals, measure the remaining life to within 10 %
(`rul_h` of the visit's message) and take part of the wear away; an asset
whose wear reaches 1 fails, is down for a few hours to a day and a half, and comes back
repaired as new. Every change is a maintenance message (`{"event": "failure" | "repair" |
"maintenance", ...}`, as a city's maintenance system would send it), and every change of
the asset's future is an `AssetTruth`: from then on, the asset would fail at `failure_ms`
if nothing were done, so its true RUL at any moment is known.

Everything follows from the seed and the asset count. Each asset type is simulated on its
own (one source partition per type), so each type's stream has one order whatever the
scale-out, and the maintenance model of a type learns the same way in every run.

>>> fleet = Fleet(seed=1, n_assets=6)
>>> [a.asset_id for a in fleet.assets[:3]]
['pump-0000', 'lift-0001', 'streetlight-0002']
>>> start = 1767225600000
>>> sim = AssetSimulator(fleet, "pump", start, start + 60 * DAY_MS)
>>> out = sim.advance(start + 60 * DAY_MS + 1)
>>> readings = [m for m in out if isinstance(m, dict) and "values" in m]
>>> 2 * 24 * 55 < len(readings) <= 2 * 24 * 60
True
>>> sorted({m["event"] for m in out if isinstance(m, dict) and "event" in m})
['failure', 'maintenance', 'repair']
>>> AssetSimulator(fleet, "pump", start, start + 60 * DAY_MS).advance(start + 61 * DAY_MS) == out
True
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass

import numpy as np

from dataflows.messages.schema import AssetTruth
from dataflows.simulator.city import DAY_MS, place

HOUR_MS = 3_600_000
ASSET_INTERVAL_MS = HOUR_MS
"""Every simulated asset reports its condition once an hour."""


@dataclass(frozen=True)
class Profile:
    """What assets of one type look like when new, and how long they last."""

    baseline: dict[str, float]  # signal -> typical value of a new asset at normal load
    wear_effect: dict[str, float]  # signal -> relative change at full wear (°C for temperature)
    life_days: float  # median life without maintenance
    visit_days: float  # mean interval between maintenance visits
    duty: float  # share of an hour in operation at normal load


PROFILES: dict[str, Profile] = {
    "pump": Profile(
        {"vibration_rms": 2.0, "motor_current": 40.0, "temperature": 45.0, "pressure": 4.0},
        {"vibration_rms": 2.5, "motor_current": 0.25, "temperature": 20.0, "pressure": -0.2},
        life_days=40,
        visit_days=45,
        duty=0.7,
    ),
    "lift": Profile(
        {"vibration_rms": 1.2, "motor_current": 25.0, "temperature": 40.0},
        {"vibration_rms": 2.0, "motor_current": 0.3, "temperature": 15.0},
        life_days=30,
        visit_days=30,
        duty=0.3,
    ),
    "escalator": Profile(
        {"vibration_rms": 1.5, "motor_current": 30.0, "temperature": 42.0},
        {"vibration_rms": 2.0, "motor_current": 0.2, "temperature": 18.0},
        life_days=35,
        visit_days=35,
        duty=0.6,
    ),
    "fan": Profile(
        {"vibration_rms": 2.5, "motor_current": 15.0, "temperature": 38.0},
        {"vibration_rms": 3.0, "motor_current": 0.2, "temperature": 12.0},
        life_days=25,
        visit_days=30,
        duty=0.8,
    ),
    "streetlight": Profile(
        {"driver_current": 0.7, "temperature": 35.0},
        {"driver_current": -0.3, "temperature": 25.0},
        life_days=50,
        visit_days=60,
        duty=0.5,
    ),
}
_TYPE_PATTERN = ("pump", "lift", "streetlight", "escalator", "fan")
_LOADS = (0.7, 1.0, 1.3)
_AMBIENT_C = 15.0
_DECIMALS = {"vibration_rms": 2, "motor_current": 1, "driver_current": 3, "temperature": 1}


@dataclass(frozen=True)
class SimAsset:
    """A simulated asset and its fixed personality."""

    index: int
    asset_id: str
    type: str
    district: str
    lat: float
    lon: float
    phase_ms: int  # when within the hour it reports
    scale: float  # size relative to its type's baseline


class Fleet:
    """The city's assets, derived from the seed and the asset count."""

    def __init__(self, seed: int, n_assets: int) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 3])
        places = place(rng, n_assets)
        phase = rng.integers(0, 60, n_assets) * 60_000
        scale = rng.uniform(0.8, 1.2, n_assets)
        self.assets: list[SimAsset] = []
        for i in range(n_assets):
            asset_type = _TYPE_PATTERN[i % len(_TYPE_PATTERN)]
            name, lat, lon = places[i]
            self.assets.append(
                SimAsset(
                    i,
                    f"{asset_type}-{i:04d}",
                    asset_type,
                    name,
                    lat,
                    lon,
                    int(phase[i]),
                    float(scale[i]),
                )
            )
        self.types = [t for t in _TYPE_PATTERN if any(a.type == t for a in self.assets)]
        """Asset types present, in a fixed order."""


@dataclass
class _Life:
    """The hidden condition of one asset: its current life and what comes next."""

    length_h: float  # L: age at which wear reaches 1
    shape: float  # p
    sensitivity: dict[str, float]
    age_origin_ms: int  # when the age of this life was 0 (earlier after a partial repair)
    failure_ms: int
    next_visit_ms: int
    down: bool
    run_hours: float
    load: int  # index into _LOADS

    def wear(self, t: int) -> float:
        return min(1.0, max(0.0, (t - self.age_origin_ms) / HOUR_MS / self.length_h) ** self.shape)


@dataclass
class _AssetSimState:
    now_ms: int
    queue: list[tuple[int, int, int, str]]  # heap of (time, sequence, asset index, what)
    lives: dict[int, _Life]
    rng: np.random.Generator
    sequence: int
    outbox: list[dict | AssetTruth]  # produced, not yet handed out


class AssetSimulator:
    """Produces the messages of the fleet's assets of one type, in time order.

    `advance(until_ms)` returns everything before that simulated time: reading dicts,
    maintenance message dicts and `AssetTruth`s. Its interface matches
    `dataflows.simulator.city.PartitionSimulator`, so the same source partition drives both.
    """

    def __init__(
        self,
        fleet: Fleet,
        asset_type: str,
        start_ms: int,
        end_ms: int | None = None,
        fault_rate: float = 1.0,
        state: _AssetSimState | None = None,
    ) -> None:
        self.fleet = fleet
        self.end_ms = end_ms
        self.fault_rate = fault_rate
        self.sensors = [a for a in fleet.assets if a.type == asset_type]
        if state is not None:
            self._state = state
            return
        rng = np.random.default_rng([fleet.seed, 4, _TYPE_PATTERN.index(asset_type)])
        self._state = _AssetSimState(start_ms, [], {}, rng, 0, [])
        for asset in self.sensors:
            self._begin(asset, start_ms, first=True)
            first_reading = start_ms - start_ms % HOUR_MS + asset.phase_ms
            if first_reading < start_ms:
                first_reading += HOUR_MS
            self._push(first_reading, asset.index, "reading")

    @property
    def now_ms(self) -> int:
        return self._state.now_ms

    @property
    def finished(self) -> bool:
        return self.end_ms is not None and self.now_ms >= self.end_ms

    def span_ms(self, messages: int) -> int:
        """Simulated time that holds about `messages` messages."""
        per_hour = max(1, len(self.sensors))
        return max(HOUR_MS, messages * HOUR_MS // per_hour)

    def state(self) -> _AssetSimState:
        """A picklable copy of the position, to resume with `AssetSimulator(state=...)`."""
        return copy.deepcopy(self._state)

    def advance(self, until_ms: int) -> list[dict | AssetTruth]:
        """Everything due before `until_ms` rounded up to a whole minute (and before the end)."""
        st = self._state
        # whole minutes, so that a paced source wakes up once a minute rather than every ms
        limit = -(-until_ms // 60_000) * 60_000
        if self.end_ms is not None:
            limit = min(limit, self.end_ms)
        while st.queue and st.queue[0][0] < limit:
            t, _, index, what = heapq.heappop(st.queue)
            self._handle(self.fleet.assets[index], t, what)
        st.now_ms = max(st.now_ms, limit)
        out, st.outbox = st.outbox, []
        return out

    def _push(self, t: int, index: int, what: str) -> None:
        st = self._state
        st.sequence += 1
        heapq.heappush(st.queue, (t, st.sequence, index, what))

    def _begin(self, asset: SimAsset, t: int, first: bool = False) -> None:
        """A new life (new or repaired as new); at the start, somewhere within one."""
        rng = self._state.rng
        profile = PROFILES[asset.type]
        length_h = profile.life_days * 24 * float(rng.lognormal(0.0, 0.3))
        age_h = length_h * float(rng.uniform(0.0, 0.8)) if first else 0.0
        life = _Life(
            length_h=length_h,
            shape=float(rng.uniform(1.5, 3.0)),
            sensitivity={name: float(rng.uniform(0.75, 1.25)) for name in profile.baseline},
            age_origin_ms=t - int(age_h * HOUR_MS),
            failure_ms=0,
            next_visit_ms=t + int(profile.visit_days * DAY_MS * float(rng.uniform(0.3, 1.7))),
            down=False,
            run_hours=float(rng.uniform(500, 20_000)) if first else 0.0,
            load=1,
        )
        if not first:
            old = self._state.lives[asset.index]
            life.run_hours = old.run_hours
        self._state.lives[asset.index] = life
        self._schedule_failure(asset, life, t)
        self._push(life.next_visit_ms, asset.index, "visit")

    def _schedule_failure(self, asset: SimAsset, life: _Life, t: int) -> None:
        life.failure_ms = life.age_origin_ms + int(life.length_h * HOUR_MS)
        self._push(life.failure_ms, asset.index, "failure")
        self._state.outbox.append(AssetTruth(asset.asset_id, asset.type, t, life.failure_ms))

    def _event(self, asset: SimAsset, t: int, kind: str, rul_h: float | None = None) -> None:
        message = {"asset_id": asset.asset_id, "type": asset.type, "ts": t, "event": kind}
        if rul_h is not None:
            message["rul_h"] = rul_h
        self._state.outbox.append(message)

    def _handle(self, asset: SimAsset, t: int, what: str) -> None:
        st = self._state
        life = st.lives[asset.index]
        if what == "reading":
            self._push(t + ASSET_INTERVAL_MS, asset.index, "reading")
            if not life.down and st.rng.random() >= 0.005 * self.fault_rate:
                self._state.outbox.append(self._reading(asset, life, t))
        elif what == "failure":
            if life.down or t != life.failure_ms:
                return  # superseded by a maintenance visit
            life.down = True
            self._event(asset, t, "failure")
            downtime_h = float(st.rng.uniform(4, 36))
            self._push(t + int(downtime_h * HOUR_MS), asset.index, "repair")
        elif what == "repair":
            self._event(asset, t, "repair")
            self._begin(asset, t)
        elif what == "visit":
            if life.down or t != life.next_visit_ms:
                return
            # the technician measures the wear before restoring, to within 10 %
            true_rul_h = (life.failure_ms - t) / HOUR_MS
            inspected = round(true_rul_h * float(st.rng.uniform(0.9, 1.1)), 1)
            self._event(asset, t, "maintenance", inspected)
            restored = life.wear(t) * float(st.rng.uniform(0.1, 0.4))
            age_h = life.length_h * restored ** (1 / life.shape)
            life.age_origin_ms = t - int(age_h * HOUR_MS)
            profile = PROFILES[asset.type]
            life.next_visit_ms = t + int(
                profile.visit_days * DAY_MS * float(st.rng.uniform(0.3, 1.7))
            )
            self._schedule_failure(asset, life, t)
            self._push(life.next_visit_ms, asset.index, "visit")

    def _reading(self, asset: SimAsset, life: _Life, t: int) -> dict:
        rng = self._state.rng
        profile = PROFILES[asset.type]
        if asset.type == "streetlight":
            hour = (t % DAY_MS) / HOUR_MS
            on = hour >= 18 or hour < 6
            load = 1.0 if on else 0.05
            life.run_hours += 1.0 if on else 0.0
        else:
            if rng.random() < 0.15:
                life.load = int(rng.integers(len(_LOADS)))
            load = _LOADS[life.load]
            life.run_hours += min(1.0, profile.duty * load)
        wear = life.wear(t)
        values: dict[str, float] = {}
        for name, base in profile.baseline.items():
            effect = profile.wear_effect[name] * life.sensitivity[name] * wear
            noise = float(rng.standard_normal())
            if name == "temperature":
                heat = (base - _AMBIENT_C) * asset.scale * (0.4 + 0.6 * load)
                value = _AMBIENT_C + heat + effect * min(1.0, load * 2) + 1.0 * noise
            elif name == "vibration_rms":
                value = base * asset.scale * (0.8 + 0.2 * load) * (1 + effect) * (1 + 0.06 * noise)
            elif name == "pressure":
                value = base * asset.scale * (0.9 + 0.1 * load) * (1 + effect) + 0.05 * noise
            else:  # currents
                value = base * asset.scale * load * (1 + effect) * (1 + 0.03 * noise)
            values[name] = round(max(0.0, value), _DECIMALS.get(name, 2))
        values["run_hours"] = round(life.run_hours, 1)
        return {
            "sensor_id": asset.asset_id,
            "type": asset.type,
            "ts": t,
            "values": values,
            "district": asset.district,
            "lat": asset.lat,
            "lon": asset.lon,
        }


def whole_fleet(
    seed: int, n_assets: int, start_ms: int, end_ms: int, fault_rate: float = 1.0
) -> list[dict | AssetTruth]:
    """Everything the fleet produces from `start_ms` to `end_ms`, type after type.

    >>> out = whole_fleet(1, 4, 1767225600000, 1767225600000 + 2 * DAY_MS)
    >>> sum(isinstance(m, AssetTruth) for m in out) >= 4
    True
    """
    fleet = Fleet(seed, n_assets)
    out: list[dict | AssetTruth] = []
    for asset_type in fleet.types:
        sim = AssetSimulator(fleet, asset_type, start_ms, end_ms, fault_rate)
        out.extend(sim.advance(end_ms + 1))
    return out
