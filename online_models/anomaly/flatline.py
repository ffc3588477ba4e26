"""Stuck sensors: a run of identical values that is improbable for this sensor."""

from __future__ import annotations

import math

from river import base


class Flatline(base.AnomalyDetector):
    """Scores runs of exactly repeated values against the sensor's own repeat rate.

    Its flags mean a faulty sensor, not something happening in the city: it declares
    `alert_kind = "sensor_fault"`.

    The detector learns how often this sensor repeats its previous value (`p`, exponentially
    weighted). A run of `k` repeats then has probability about `p**k` of being natural; the
    score is the number of decades of that improbability divided by `decades_for_one`,
    capped at 1. Runs shorter than `min_run` score 0. Runs of `min_run` or more are not
    learned into `p` (a run is learned when it ends), so a stuck sensor cannot teach the
    model that being stuck is normal.

    Repeats are not independent on every sensor: one that is piecewise constant (a valve, a
    quantised or slow signal) holds a value for long stretches. So the detector also learns
    the longest run the sensor has ended, and a run scores only once it is longer than
    `margin` times that: being stuck is a change to constant behaviour against the sensor's
    own history. A completed run it found suspect can at most double the longest run learnt
    (so one stuck spell does not teach that being stuck is normal, while a sensor whose long
    runs keep coming learns them in a few); one it did not is learnt in full. The longest of
    a few runs says little about how long a natural one can be (of `n` runs of random
    length, the next exceeds twice their longest with odds of about `n**-2`), so until the
    sensor has ended `10**(evidence / margin)` runs the margin is `evidence / log10(n + 1)`
    instead: 10 times after one run, 2.9 after ten, `margin` from 31 on (a run counts when it
    held at least one repeat: values that change at once, as in a drift, say nothing of how
    long the sensor holds one). The longest run is a noisy measure of how long runs can be:
    on a signal of a few levels that each hold for a random (memoryless) time, the longest of
    thirty runs is often half the usual longest, and twice it is soon exceeded. So a run must
    also be longer than `m + (ln(n + 1) + evidence · ln 10) · s`, for `m` the mean length of
    the runs the sensor ended (a value that changed at once: 0) and `s` their spread (mean
    absolute deviation / 0.736, which is the mean for memoryless lengths; at most `m`): a
    memoryless run exceeds it with odds of about `10**-evidence / (n + 1)`. Runs of about one
    length (a square wave's, a noisy sensor's few repeats) have little spread, and this bound
    is below the other. And a sensor that
    has held one value since its first reading is constant, not stuck: it scores 0 until its
    value first changes, and that first run is learnt in full (a sensor constant for a week
    and constant again after a blip is behaving as it always has).

    Parameters
    ----------
    min_run
        Shortest run of repeats that can score above 0.
    decades_for_one
        Decades of improbability (`-log10(p**k)`) that give the score 1.
    alpha
        Weight of a new observation in the repeat rate.
    initial_rate
        Repeat rate assumed before any learning.
    margin
        How many times the longest run the sensor has ended a run must exceed to score.
    evidence
        Decades of odds against a natural run exceeding the margin, wanted while the sensor
        has ended few runs (see above).

    Examples
    --------
    >>> model = Flatline()
    >>> for i in range(200):
    ...     model.learn_one({"value": 20.0 + (i % 7) * 0.3})
    >>> for _ in range(3):
    ...     model.learn_one({"value": 20.3})
    >>> round(model.score_one({"value": 20.3}), 2)  # 4th repeat
    0.0
    >>> for _ in range(6):
    ...     model.learn_one({"value": 20.3})
    >>> round(model.score_one({"value": 20.3}), 2)  # 10th repeat of a never-repeating sensor
    1.0

    """

    alert_kind = "sensor_fault"
    _ended = 10**6
    """Runs ended: a model pickled before it was counted has the margin it had then."""
    _mean_run = 0.0
    """Mean length of the runs ended (0 for a model pickled before it was learnt: no bound)."""
    _spread = 0.0
    _runs = 0

    def __init__(
        self,
        min_run: int = 5,
        decades_for_one: float = 8.0,
        alpha: float = 0.01,
        initial_rate: float = 0.05,
        margin: float = 2.0,
        evidence: float = 3.0,
    ) -> None:
        self.min_run = min_run
        self.decades_for_one = decades_for_one
        self.alpha = alpha
        self.initial_rate = initial_rate
        self.margin = margin
        self.evidence = evidence
        self._last: float | None = None
        self._ended = 0  # runs the sensor has ended since its value first changed
        self._run = 0
        self._rate = initial_rate
        self._longest = 0  # the longest run the sensor has ended
        self._changed = False  # whether its value has ever changed
        self._mean_run = 0.0  # mean length of the runs ended, a value that changed at once 0
        self._spread = 0.0  # their mean absolute deviation from it
        self._runs = 0  # runs ended, for these

    def _run_with(self, value: float) -> int:
        return self._run + 1 if value == self._last else 0

    def _suspect(self, run: int) -> bool:
        """Whether a run of `run` repeats is longer than this sensor's history allows."""
        if run < self.min_run or not self._changed:
            return False
        margin = max(self.margin, self.evidence / math.log10(self._ended + 1))
        if run <= margin * self._longest:
            return False
        odds = math.log(self._ended + 1) + self.evidence * math.log(10)
        mean = self._mean_run
        return run > mean + odds * min(mean, self._spread / 0.7358)

    def _learn_mean(self, run: int) -> None:
        """Learn an ended run's length into the mean and spread (weight `alpha` at least)."""
        self._runs += 1
        if self._runs > 1:  # (the spread of one run is not known: it is not 0, nor the run)
            weight = max(self.alpha, 1.0 / (self._runs - 1))
            self._spread += weight * (abs(run - self._mean_run) - self._spread)
        self._mean_run += max(self.alpha, 1.0 / self._runs) * (run - self._mean_run)

    def score_one(self, x: dict) -> float:
        run = self._run_with(x["value"])
        if not self._suspect(run):
            return 0.0
        rate = min(max(self._rate, 1e-3), 0.95)
        decades = -run * math.log10(rate)
        return min(1.0, decades / self.decades_for_one)

    def learn_one(self, x: dict) -> None:
        value = x["value"]
        run = self._run_with(value)
        if run == 0 and self._last is not None:
            # a run just ended: learn its repeats, unless it was long enough to be suspect
            if self._run < self.min_run:
                for _ in range(self._run):
                    self._rate += self.alpha * (1.0 - self._rate)
            self._rate += self.alpha * (0.0 - self._rate)
            if self._changed:
                ended = self._run
                if self._suspect(ended):  # it scored: learn it only up to twice the longest
                    ended = min(ended, 2 * max(self._longest, 1))
                self._longest = max(self._longest, ended)
                self._learn_mean(ended)
                # a value that changed at once held no repeat: no evidence of how long this
                # sensor holds one (a constant sensor's drift is not a habit of short runs)
                self._ended += ended > 0
            else:  # it held its first value this long: holding a value that long is its habit
                self._longest = self._run
                self._ended = 1
                self._learn_mean(self._run)
            self._changed = True
        self._run = run
        self._last = value
