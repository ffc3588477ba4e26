"""A signal of a few discrete levels that switches faster than it ever has."""

from __future__ import annotations

import math
from collections import deque

from river import base

from online_models.anomaly.levels import UnseenLevel

PRIOR_SPREAD = math.pi / math.sqrt(6)
"""Spread of log-durations before a level has many runs: that of memoryless (exponential)
dwell times, the most random a switching signal is expected to be."""

MAX_LEVELS_KEPT = 16
"""Levels whose durations are kept (`UnseenLevel` gives up on a signal before it has more)."""


class ShortCycling(base.AnomalyDetector):
    """Scores runs at a level that end far sooner than the level's runs have ended before.

    A pump switching on and off every few minutes instead of every hour, a square wave whose
    period fell: each value is one of the signal's levels (`UnseenLevel` sees nothing) and no
    run lasts long (`Flatline` neither), yet the rhythm has changed. The detector works
    only on signals that qualify as a few levels by `UnseenLevel`'s rule.

    A run's duration is the time from its first reading to the next run's first reading (so
    it does not depend on the sampling interval). Per level, the last `memory` durations are
    kept; a run that ends is judged by its log-duration's robust z-score below their median
    (median absolute deviation × 1.4826, at least `floor`: a perfectly regular signal's runs
    may vary by that much in log units without surprise). A level with few runs is not
    trusted to be regular: its spread is pooled with `PRIOR_SPREAD`, that of memoryless dwell
    times, weighted as `prior_runs` runs (after 200 runs the prior has faded to the floor).
    A run whose readings carry no time forward (a repeated or earlier `t`) is not judged.

    The evidence is a one-sided CUSUM of these z-scores less `allowance`: short runs in a
    row add up (to at most twice `limit`). A run that has lasted too long to be short (its
    z-score at `allowance`) brings the evidence down to half of `limit` at once: the rhythm
    may be back. The score is the evidence over `limit`, capped at 1. A run that added
    evidence is learnt only every `learn_every`-th time, so a faster rhythm that lasts is
    learnt, slowly, and a burst of short runs is not.

    Parameters
    ----------
    memory
        Durations kept per level.
    min_runs
        Durations a level needs before its runs are judged.
    floor
        Least spread of a level's log-durations.
    prior_runs
        Weight, in runs, of the prior spread.
    allowance
        z-score a short run must exceed to add evidence.
    limit
        Evidence that gives the score 1.
    learn_every
        One in this many runs that added evidence is learnt.

    Examples
    --------
    >>> model = ShortCycling()
    >>> for i in range(1200):  # a square wave: 10 for two hours, 30 for two, at five minutes
    ...     model.learn_one({"value": 30.0 if (i // 24) % 2 else 10.0, "t": 300 * i})
    >>> x = {"value": 10.0, "t": 360_000}
    >>> model.score_one(x)
    0.0
    >>> for i in range(1200, 1224):  # now it switches every fifteen minutes
    ...     model.learn_one({"value": 30.0 if (i // 3) % 2 else 10.0, "t": 300 * i})
    >>> model.score_one({"value": 10.0, "t": 300 * 1224}) > 0.9
    True

    """

    def __init__(
        self,
        memory: int = 32,
        min_runs: int = 5,
        floor: float = 0.25,
        prior_runs: int = 8,
        allowance: float = 2.0,
        limit: float = 8.0,
        learn_every: int = 4,
    ) -> None:
        self.memory = memory
        self.min_runs = min_runs
        self.floor = floor
        self.prior_runs = prior_runs
        self.allowance = allowance
        self.limit = limit
        self.learn_every = learn_every
        self._levels = UnseenLevel()
        self._durations: dict[float, deque[float]] = {}  # level -> recent log-durations
        self._judged: dict[float, int] = {}  # level -> runs ended beyond those kept
        self._value: float | None = None
        self._start = 0.0  # `t` of the current run's first reading
        self._evidence = 0.0
        self._suspect_runs = 0
        self._reached = False  # whether the current run has lasted too long to be short

    def score_one(self, x: dict) -> float:
        if not self._levels.qualified(x["t"]):
            return 0.0
        return min(1.0, self._evidence / self.limit)

    def _usual(self, value: float) -> tuple[float, float] | None:
        """Median and spread of the level's log-durations, or None while it has too few."""
        kept = self._durations.get(value)
        if kept is None or len(kept) < self.min_runs:
            return None
        ordered = sorted(kept)
        median = ordered[len(ordered) // 2]
        deviations = sorted(abs(d - median) for d in ordered)
        spread = 1.4826 * deviations[len(deviations) // 2]
        n, n0 = self._judged.get(value, 0) + len(kept), self.prior_runs
        spread = math.sqrt((n * spread**2 + n0 * PRIOR_SPREAD**2) / (n + n0))
        return median, max(spread, self.floor)

    def learn_one(self, x: dict) -> None:
        value, t = x["value"], x["t"]
        self._levels.learn_one(x)
        if self._levels.gave_up:  # not a few levels: nothing to keep
            self._durations.clear()
            self._judged.clear()
            return
        if value == self._value:
            # a run that is no longer short: the rhythm may be back
            usual = None if self._reached or t <= self._start else self._usual(value)
            if usual and math.log(t - self._start) >= usual[0] - self.allowance * usual[1]:
                self._evidence = min(self._evidence, self.limit / 2)
                self._reached = True
            return
        previous, started = self._value, self._start
        self._value, self._start, self._reached = value, t, False
        if previous is None or t <= started:  # no duration to judge
            return
        duration = math.log(t - started)
        usual = self._usual(previous)
        if usual is not None:
            z = (usual[0] - duration) / usual[1]
            self._evidence = min(max(0.0, self._evidence + z - self.allowance), 2 * self.limit)
            if z > self.allowance:
                self._suspect_runs += 1
                if self._suspect_runs % self.learn_every:
                    return
        kept = self._durations.get(previous)
        if kept is None:
            if len(self._durations) >= MAX_LEVELS_KEPT:
                return
            kept = self._durations[previous] = deque(maxlen=self.memory)
        if len(kept) == self.memory:
            self._judged[previous] = self._judged.get(previous, 0) + 1
        kept.append(duration)
