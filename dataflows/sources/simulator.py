"""The city simulator as a partitioned Bytewax source.

Partitions are fixed (`CITY_SIM_PARTITIONS`, independent of the number of workers), so the
stream is the same whatever the scale-out; each partition snapshots its position.

Pacing: with `CITY_SIM_SPEEDUP` 0 everything is produced as fast as the flow takes it; with
k > 0, k simulated seconds per wall-clock second. A backfill (`CITY_SIM_BACKFILL_HOURS`)
starts the simulation that many hours in the past and produces the past at full speed,
then goes on at the paced rate.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from dataflows.messages.schema import SourceRecord, now_ms
from dataflows.settings import Settings
from dataflows.simulator.assets import AssetSimulator, Fleet
from dataflows.simulator.city import DAY_MS, City, PartitionSimulator

_MESSAGES_PER_BATCH = 4_000


class SimulatorSource(FixedPartitionedSource[SourceRecord, tuple]):
    """The city's raw sensor messages and ground-truth labels, as `SourceRecord`s.

    Partitions `sim-<p>` simulate the sensors, `asset-<type>` the assets of one type
    (`CITY_SIM_ASSETS`),
    whose simulation starts `CITY_SIM_ASSET_HISTORY_DAYS` before the sensors' so that the
    maintenance models have seen failures by the time the city goes live.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        hour_ms = 3_600_000
        if settings.sim_start is not None:
            self.start_ms = int(settings.sim_start.timestamp() * 1000)
            self.live_from_ms = self.start_ms
        else:
            now = now_ms()
            backfill = int(settings.sim_backfill_hours * hour_ms)
            self.live_from_ms = now - now % 60_000
            start = now - backfill
            self.start_ms = start - start % (hour_ms if backfill else 60_000)
        self.end_ms = (
            None
            if settings.sim_hours is None
            else self.start_ms + int(settings.sim_hours * hour_ms)
        )

    def list_parts(self) -> list[str]:
        s = self.settings
        sensors = [f"sim-{p}" for p in range(min(s.sim_partitions, s.sim_sensors))]
        return sensors + [f"asset-{t}" for t in Fleet(s.sim_seed, s.sim_assets).types]

    def build_part(
        self, step_id: str, for_part: str, resume_state: tuple | None
    ) -> _SimulatorPartition:
        s = self.settings
        state, offset = resume_state if resume_state is not None else (None, 0)
        simulator: PartitionSimulator | AssetSimulator
        if for_part.startswith("asset-"):
            history_ms = int(s.sim_asset_history_days * DAY_MS)
            simulator = AssetSimulator(
                Fleet(s.sim_seed, s.sim_assets),
                for_part.removeprefix("asset-"),
                self.start_ms - history_ms,
                self.end_ms,
                s.sim_fault_rate,
                state=state,
            )
        else:
            simulator = PartitionSimulator(
                City(s.sim_seed, s.sim_sensors),
                int(for_part.removeprefix("sim-")),
                s.sim_partitions,
                self.start_ms,
                self.end_ms,
                s.sim_fault_rate,
                state=state,
            )
        return _SimulatorPartition(for_part, simulator, offset, s.sim_speedup, self.live_from_ms)


class _SimulatorPartition(StatefulSourcePartition[SourceRecord, tuple]):
    def __init__(
        self,
        name: str,
        simulator: PartitionSimulator | AssetSimulator,
        offset: int,
        speedup: float,
        live_from_ms: int,
    ) -> None:
        self.name = name
        self.offset = offset
        self.simulator = simulator
        self.speedup = speedup
        self.live_from_ms = max(live_from_ms, simulator.now_ms)
        self.wall_anchor = time.time()
        self.span_ms = simulator.span_ms(_MESSAGES_PER_BATCH)

    def _allowed_ms(self) -> float:
        """Simulated time up to which messages may be produced now."""
        if self.speedup == 0:
            return math.inf
        elapsed = time.time() - self.wall_anchor
        return self.live_from_ms + elapsed * 1000 * self.speedup

    def next_batch(self) -> list[SourceRecord]:
        sim = self.simulator
        if sim.finished:
            raise StopIteration
        until = min(self._allowed_ms() + 1, sim.now_ms + self.span_ms)
        if sim.end_ms is not None and until >= sim.end_ms:
            until = sim.end_ms + 1  # also releases the messages still delayed in flight
        items = sim.advance(int(until))
        first = self.offset
        self.offset += len(items)
        name = self.name
        return [SourceRecord(name, first + k, item) for k, item in enumerate(items)]

    def next_awake(self) -> datetime | None:
        sim = self.simulator
        if self.speedup == 0 or sim.now_ms <= self._allowed_ms():
            return None
        wait_s = (sim.now_ms - self.live_from_ms) / 1000 / self.speedup
        return datetime.fromtimestamp(self.wall_anchor, UTC) + timedelta(seconds=wait_s)

    def snapshot(self) -> tuple:
        return (self.simulator.state(), self.offset)
