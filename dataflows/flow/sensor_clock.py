"""A sensor's own clock: its latest time, its usual interval, and readings that jumped ahead.

A gateway with a broken clock may stamp one reading a day ahead. Taken as is, it would move
the sensor's watermark, and every real reading after it would be late. So a reading far
ahead of the sensor's latest time (`jump_ms`, or ten usual intervals if that is longer) is
held back, not processed:

- if the next reading is back on the sensor's own time, the held one was a glitch: it is
  dead-lettered as a `clock_jump` and the watermark never moved;
- if the next readings go on from the held one's time (each after the previous, by less
  than the jump), the sensor's time really moved on (it was silent, or its clock was set):
  after `confirmations` of them the held readings are processed, in order;
- a reading that jumps elsewhere replaces the held ones, which are dead-lettered.

At most `confirmations` readings are ever held. The same rule applies on every source.

>>> from dataflows.messages.schema import Reading
>>> def r(ts): return Reading("s", "noise", ts, {"laeq": 50.0})
>>> clock = SensorClock()
>>> [x.ts_ms for x in clock.admit(r(60_000), 3_600_000, 2)[0]]
[60000]
>>> clock.latest_ms = 60_000
>>> clock.admit(r(82_800_000), 3_600_000, 2)      # 23 h ahead: held
([], [])
>>> ready, jumped = clock.admit(r(120_000), 3_600_000, 2)
>>> [x.ts_ms for x in ready], [x.ts_ms for x in jumped]
([120000], [82800000])
"""

from __future__ import annotations

from dataflows.messages.schema import Reading

JUMP_INTERVALS = 10
"""A reading more than this many usual intervals ahead may be a clock jump."""


class SensorClock:
    """Latest time, usual interval and held readings of one sensor (or asset)."""

    __slots__ = ("latest_ms", "typical_gap_ms", "gaps_seen", "held")

    def __init__(self) -> None:
        self.latest_ms = 0
        self.typical_gap_ms = 0.0  # the sensor's usual time between readings
        self.gaps_seen = 0
        self.held: list[Reading] = []

    def jump_ms(self, clock_jump_ms: float) -> float:
        """How far ahead of the latest time a reading is held as a possible jump."""
        return max(clock_jump_ms, JUMP_INTERVALS * self.typical_gap_ms)

    def admit(
        self, reading: Reading, clock_jump_ms: float, confirmations: int
    ) -> tuple[list[Reading], list[Reading]]:
        """The readings to process now (in order), and the held ones found to be glitches."""
        ts = reading.ts_ms
        held = self.held
        if not self.latest_ms or ts <= self.latest_ms + self.jump_ms(clock_jump_ms):
            if not held:
                return [reading], []
            self.held = []  # back on the sensor's own time: the held readings jumped
            return [reading], held
        if not held:
            self.held = [reading]
            return [], []
        jump = held[0].ts_ms - self.latest_ms
        if held[-1].ts_ms < ts <= held[-1].ts_ms + jump:  # goes on from the new time
            held.append(reading)
            if len(held) > confirmations:
                self.held = []
                return held, []
            return [], []
        self.held = [reading]  # a jump to another time
        return [], held

    def release(self) -> list[Reading]:
        """Give up on the held readings (the stream ended, or the sensor's state expires)."""
        held, self.held = self.held, []
        return held

    def learn_gap(self, gap_ms: int) -> None:
        """Learn the usual interval from one gap between readings (silences excepted)."""
        self.gaps_seen += 1
        typical = self.typical_gap_ms
        if not typical:
            self.typical_gap_ms = float(gap_ms)
        elif gap_ms <= 2 * typical:
            self.typical_gap_ms = 0.9 * typical + 0.1 * gap_ms

    def __getstate__(self) -> tuple:
        return (self.latest_ms, self.typical_gap_ms, self.gaps_seen, self.held)

    def __setstate__(self, state: tuple) -> None:
        self.latest_ms, self.typical_gap_ms, self.gaps_seen, self.held = state
