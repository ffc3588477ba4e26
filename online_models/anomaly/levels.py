"""Values a signal of a few discrete levels has never shown."""

from __future__ import annotations

from river import base


class UnseenLevel(base.AnomalyDetector):
    """Scores a value that a signal of a few discrete levels has never shown.

    A square wave, a pump's on/off state, a valve's few positions: a seasonal baseline's
    scale cannot fall below the gap between the levels (the gap is the only change it ever
    sees), so a spike of two gaps or a shift by one gap reads as ordinary there. This
    detector learns the levels while the signal qualifies: its first `qualify_runs` runs (a
    run is a stretch of readings of one value), and all its runs of the first `qualify_s`
    seconds (a day: a count that is low at night is not mistaken for a few-level signal),
    must show at most `max_levels` distinct values, or it turns itself off for good (a
    continuous or finely quantised signal is the baseline's business). A signal that never
    changes value never qualifies (a constant stream is the baseline's too).

    Once qualified, a value that is not a level scores `1 - (levels + 1) / (runs + 1)`: the
    signal found its levels early and none in the many runs since, so a new one is about
    that rare. A new value becomes a level once it has started `confirm` runs (a lasting new
    state is learnt; a spike, a drift or noise is not); at most `max_candidates` new values
    are remembered, the oldest forgotten first, so memory stays bounded.

    Parameters
    ----------
    max_levels
        Most distinct values a qualifying signal may show.
    qualify_runs
        Runs seen before any score.
    qualify_s
        Seconds (of the readings' `t`) seen before any score.
    confirm
        Runs a new value must start to become a level.
    max_candidates
        New values remembered while they are not yet levels.

    Examples
    --------
    >>> model = UnseenLevel()
    >>> for i in range(2000):  # a square wave: 10 for two hours, 30 for two, at five minutes
    ...     model.learn_one({"value": 30.0 if (i // 24) % 2 else 10.0, "t": 300 * i})
    >>> x = {"value": 30.0, "t": 600_000}
    >>> model.score_one(x), round(model.score_one({**x, "value": 60.0}), 2)
    (0.0, 0.96)
    >>> noisy = UnseenLevel()
    >>> for i in range(2000):  # more distinct values turn it off
    ...     noisy.learn_one({"value": float(i % 7), "t": 300 * i})
    >>> noisy.score_one({**x, "value": 60.0})
    0.0

    """

    def __init__(
        self,
        max_levels: int = 4,
        qualify_runs: int = 30,
        qualify_s: float = 86_400.0,
        confirm: int = 3,
        max_candidates: int = 8,
    ) -> None:
        self.max_levels = max_levels
        self.qualify_runs = qualify_runs
        self.qualify_s = qualify_s
        self.confirm = confirm
        self.max_candidates = max_candidates
        self._levels: set[float] = set()
        self._candidates: dict[float, int] = {}  # new value -> runs it started
        self._runs = 0
        self._previous: float | None = None
        self._first_t: float | None = None
        self._off = False

    def _qualifying(self, t: float) -> bool:
        first = self._first_t
        return self._runs < self.qualify_runs or first is None or t - first < self.qualify_s

    @property
    def gave_up(self) -> bool:
        """Whether the signal showed too many values to be one of a few levels (for good)."""
        return self._off

    def qualified(self, t: float) -> bool:
        """Whether the signal has shown itself, by time `t`, to be one of a few levels."""
        return not self._off and not self._qualifying(t)

    def score_one(self, x: dict) -> float:
        if x["value"] in self._levels or not self.qualified(x["t"]):
            return 0.0
        return 1.0 - (len(self._levels) + 1) / (self._runs + 1)

    def learn_one(self, x: dict) -> None:
        value, t = x["value"], x["t"]
        if self._first_t is None:
            self._first_t = t
        if self._off or value == self._previous:
            return
        qualifying = self._qualifying(t)
        self._previous = value
        self._runs += 1
        if value in self._levels:
            return
        if qualifying:
            self._levels.add(value)
            if len(self._levels) > self.max_levels:
                self._off = True
                self._levels.clear()
            return
        candidates = self._candidates
        candidates[value] = candidates.get(value, 0) + 1
        if candidates[value] >= self.confirm:
            del candidates[value]
            self._levels.add(value)
            if len(self._levels) > 4 * self.max_levels:  # it has become a continuous signal
                self._off = True
                self._levels.clear()
                candidates.clear()
        elif len(candidates) > self.max_candidates:
            del candidates[next(iter(candidates))]
