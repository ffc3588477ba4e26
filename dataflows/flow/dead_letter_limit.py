"""Rate limits on dead letters, so that a broken gateway cannot fill the disk.

Within one minute (of the letters' `received_at`), at most `per_key` letters of one sensor
with one kind of reason (the part before the first colon) are written as they are, and at
most `per_minute` letters in all; each letter beyond that is only counted. When the minute
is over, one summary row per (sensor, kind) says how many were left out, their first and
last positions and the last one's payload. Beyond `per_minute` distinct sensors in a
minute, the rest are counted together per kind, so the summaries are bounded too.

>>> from dataflows.messages.schema import DeadLetter
>>> limiter = DeadLetterLimiter(per_key=2, per_minute=100)
>>> letters = [DeadLetter(60_000 + i, "kafka", f"t/0/{i}", "gw-1", "bad_json: x", "{")
...            for i in range(5)]
>>> [letter.position for letter in limiter.admit(letters)]
['t/0/0', 't/0/1']
>>> (summary,) = limiter.flush()
>>> summary.position, summary.reason
('t/0/2..t/0/4', 'rate_limited: 3 more bad_json dead letters of this sensor in the minute \
from 00:01 UTC (limit 2 a minute per sensor and reason, 100 in all)')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dataflows.messages.schema import DeadLetter

MINUTE_MS = 60_000


@dataclass
class _Left:
    """Letters of one (sensor, kind) left out of a minute."""

    count: int
    first: str | None
    last: str | None
    payload: str


@dataclass
class _Window:
    minute: int = -1
    written: dict[tuple[str | None, str], int] = field(default_factory=dict)
    total: int = 0
    left: dict[tuple[str | None, str], _Left] = field(default_factory=dict)


class DeadLetterLimiter:
    """Admits dead letters up to the limits and counts the rest (see the module docstring)."""

    def __init__(self, per_key: int, per_minute: int, state: _Window | None = None) -> None:
        self.per_key = per_key
        self.per_minute = per_minute
        self._window = state if state is not None else _Window()

    def admit(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        """The letters to write now: those within the limits, and summaries of past minutes."""
        out: list[DeadLetter] = []
        for letter in letters:
            minute = letter.received_at // MINUTE_MS
            window = self._window
            if minute > window.minute:
                out.extend(self._summaries())
                window = self._window = _Window(minute)
            key = (letter.sensor_id, letter.reason.split(":", 1)[0])
            written = window.written.get(key, 0)
            if written < self.per_key and window.total < self.per_minute:
                window.written[key] = written + 1
                window.total += 1
                out.append(letter)
                continue
            if key not in window.left and len(window.left) >= self.per_minute:
                key = (None, key[1])  # too many sensors this minute: count them together
            left = window.left.get(key)
            if left is None:
                window.left[key] = _Left(1, letter.position, letter.position, letter.payload)
            else:
                left.count += 1
                left.last = letter.position
                left.payload = letter.payload
        return out

    def flush(self, now_ms: int | None = None) -> list[DeadLetter]:
        """Summaries of the current minute if it is over at `now_ms` (always, if None)."""
        if now_ms is not None and now_ms // MINUTE_MS <= self._window.minute:
            return []
        out = self._summaries()
        self._window = _Window(self._window.minute)
        return out

    def state(self) -> _Window:
        """A picklable copy of what the limiter counted in the current minute."""
        window = self._window
        return _Window(
            window.minute,
            dict(window.written),
            window.total,
            {key: _Left(**vars(left)) for key, left in window.left.items()},
        )

    def _summaries(self) -> list[DeadLetter]:
        window = self._window
        if not window.left:
            return []
        start = window.minute * MINUTE_MS
        at = datetime.fromtimestamp(start / 1000, UTC).strftime("%H:%M")
        out = []
        for (sensor_id, kind), left in window.left.items():
            whose = "of this sensor" if sensor_id is not None else "of other sensors"
            reason = (
                f"rate_limited: {left.count} more {kind} dead letters {whose} in the minute"
                f" from {at} UTC (limit {self.per_key} a minute per sensor and reason,"
                f" {self.per_minute} in all)"
            )
            position = f"{left.first}..{left.last}"
            out.append(
                DeadLetter(start + MINUTE_MS - 1, "flow", position, sensor_id, reason, left.payload)
            )
        return out
