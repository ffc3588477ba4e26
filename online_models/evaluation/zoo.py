"""The signal zoo: seeded streams of many shapes, normal and with labelled anomalies.

Detectors tuned on one kind of data saturate on another (a constant stream, a noiseless
sine, a square wave, a counter that is mostly zero). The zoo has one stream of every
`SHAPES` entry without anomalies (its control) and one per anomaly of `ANOMALIES` that makes
sense on that shape, each `DAYS` days at one reading every `STEP_S` seconds (the irregular
shape: at random intervals of that mean). The first `WARMUP_DAYS` are normal; one anomaly
per stream starts later at a seeded time (a contextual one at night), and its readings are
labelled. Every stream is reproducible from `(shape, anomaly, seed)`.

>>> streams = zoo(seed=1)
>>> len({s.shape for s in streams}) == len(SHAPES), all(s.days == DAYS for s in streams)
(True, True)
>>> control = next(s for s in streams if s.shape == "constant" and s.anomaly is None)
>>> set(control.values), any(control.labels)
({20.0}, False)
>>> shift = stream("noisy_daily", "level_shift", seed=1)
>>> sum(shift.labels) == 6 * 3600 // STEP_S, shift.windows()[0][0] >= WARMUP_DAYS * 86400
(True, True)
>>> stream("square_wave", "spike", seed=3).values == stream("square_wave", "spike", 3).values
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

START = 1_767_571_200.0
"""2026-01-05 00:00 UTC, a Monday: every stream starts there."""
DAYS = 14
WARMUP_DAYS = 7
"""Normal days at the start of every stream; anomalies and scoring come after."""
STEP_S = 300
MAX_STEP_S = 6 * 3600
"""The sparsest zoo: four readings a day, so a daily rhythm and every anomaly are read."""
_DAY = 86_400.0


def _daily(t: float) -> float:
    """A smooth daily rhythm in [-1, 1]: low at 03:00, high at 15:00."""
    return -math.cos(2 * math.pi * ((t - START) % _DAY - 3 * 3600) / _DAY)


@dataclass(frozen=True)
class Shape:
    """A kind of normal signal: its value at time `t`, and the size of one anomaly unit."""

    value: Callable[[float, random.Random, list[float]], float]
    unit: float
    rhythmic: bool = False  # has a daily rhythm: period changes and contextual anomalies apply
    zero_is_normal: bool = False  # reads exact zeros when normal: a dropout to 0 is not seen
    irregular: bool = False
    gappy: bool = False


def _discrete(t: float, rng: random.Random, state: list[float]) -> float:
    """A level drawn anew after a random time of 4 h on average, whatever the step.

    `state` is the level and the time of the next draw.
    """
    if not state or t >= state[1]:
        state[:] = [rng.choice((0.0, 10.0, 25.0)), t + rng.expovariate(1 / (4 * 3600))]
    return state[0]


def _walk(t: float, rng: random.Random, state: list[float]) -> float:
    state[:] = [(state[0] if state else 100.0) + rng.gauss(0.0, 0.3)]
    return state[0]


def _weekly(t: float, rng: random.Random, state: list[float]) -> float:
    """A weekday rhythm; weekends lower and flatter (as traffic or an office's load)."""
    if ((t - START) // _DAY) % 7 >= 5:
        return 30 + 5 * _daily(t) + rng.gauss(0, 2)
    return 50 + 20 * _daily(t) + rng.gauss(0, 2)


def _square(t: float) -> float:
    return 30.0 if ((t - START) // 7200) % 2 else 10.0


SHAPES: dict[str, Shape] = {
    "constant": Shape(lambda t, rng, s: 20.0, unit=1.0),
    "noiseless_periodic": Shape(lambda t, rng, s: 50 + 20 * _daily(t), unit=4.0, rhythmic=True),
    "noisy_daily": Shape(
        lambda t, rng, s: 50 + 20 * _daily(t) + rng.gauss(0, 2), unit=2.0, rhythmic=True
    ),
    "weekly": Shape(_weekly, unit=2.0, rhythmic=True),
    "far_from_zero": Shape(
        lambda t, rng, s: 101_325 + 40 * _daily(t) + rng.gauss(0, 4), unit=4.0, rhythmic=True
    ),
    "quantised": Shape(
        lambda t, rng, s: float(round(50 + 20 * _daily(t) + rng.gauss(0, 0.6))),
        unit=2.0,
        rhythmic=True,
    ),
    "discrete_levels": Shape(_discrete, unit=5.0, zero_is_normal=True),
    "square_wave": Shape(lambda t, rng, s: _square(t), unit=5.0),
    "heavy_tails": Shape(
        lambda t, rng, s: 100 + 2 * rng.gauss(0, 1) / math.sqrt(rng.gammavariate(1.0, 1.0)),
        unit=8.0,
    ),
    "zero_inflated_counts": Shape(
        lambda t, rng, s: 0.0 if rng.random() < 0.7 else float(_poisson(rng, 3 + 2.5 * _daily(t))),
        unit=4.0,
        rhythmic=True,
        zero_is_normal=True,
    ),
    "trend": Shape(lambda t, rng, s: 10 + 2 * (t - START) / _DAY + rng.gauss(0, 1), unit=1.5),
    "random_walk": Shape(_walk, unit=3.0),
    "irregular_sampling": Shape(
        lambda t, rng, s: 50 + 20 * _daily(t) + rng.gauss(0, 2),
        unit=2.0,
        rhythmic=True,
        irregular=True,
    ),
    "gaps_and_missing": Shape(
        lambda t, rng, s: 50 + 20 * _daily(t) + rng.gauss(0, 2),
        unit=2.0,
        rhythmic=True,
        gappy=True,
    ),
}
"""Name -> shape. Heavy tails: Student t with 2 degrees of freedom (a normal over the root
of a gamma); counts: zero 70 % of the time, else Poisson with a daily rate; far from zero: a
daily rhythm of 40 on a level of 101,325 (an air pressure in Pa), noise 4."""


def _poisson(rng: random.Random, rate: float) -> int:
    """Knuth's method (rates here are small)."""
    limit, k, p = math.exp(-rate), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


ANOMALIES: dict[str, float] = {
    "spike": 0.0,
    "level_shift": 6.0,
    "variance_change": 6.0,
    "period_change": 12.0,
    "drift": 12.0,
    "stuck": 6.0,
    "dropout": 2.0,
    "contextual": 2.0,
}
"""Anomaly -> its duration in hours (a spike is one reading)."""


def applies(shape: str, anomaly: str) -> bool:
    """Whether `anomaly` is visible on `shape` at all (a constant stream cannot get stuck)."""
    s = SHAPES[shape]
    if anomaly in ("period_change", "contextual"):
        return s.rhythmic or (anomaly == "period_change" and shape == "square_wave")
    if anomaly == "stuck":
        return shape not in ("constant", "discrete_levels", "square_wave")
    if anomaly == "variance_change":
        return shape not in ("discrete_levels",)
    if anomaly == "dropout":
        return not s.zero_is_normal
    return True


@dataclass(frozen=True)
class Stream:
    """One zoo stream: times (epoch seconds), values (None: missing) and labels."""

    shape: str
    anomaly: str | None
    times: list[float]
    values: list[float | None]
    labels: list[bool]
    days: int = DAYS

    @property
    def name(self) -> str:
        return f"{self.shape}-{self.anomaly or 'normal'}"

    def windows(self) -> list[tuple[float, float]]:
        """(first, last) labelled time of each anomaly."""
        out: list[tuple[float, float]] = []
        for i, label in enumerate(self.labels):
            if label and (i == 0 or not self.labels[i - 1]):
                out.append((self.times[i], self.times[i]))
            elif label:
                out[-1] = (out[-1][0], self.times[i])
        return out


def _times(shape: Shape, rng: random.Random, step_s: int, days: int) -> list[float]:
    end = START + days * _DAY
    if shape.irregular:
        times, t = [], START
        while t < end:
            times.append(round(t, 3))
            t += rng.expovariate(1.0 / step_s)
        return times
    times = [START + i * step_s for i in range(int(days * _DAY) // step_s)]
    if shape.gappy:  # three outages of six hours without any reading, one before the scoring
        outages = [START + d * _DAY + 9 * 3600 for d in (3, 8, 12)]
        times = [t for t in times if not any(o <= t < o + 6 * 3600 for o in outages)]
    return times


def check_size(step_s: int, days: int) -> None:
    """Refuse a zoo too sparse to read every anomaly or too short to score after the warm-up.

    >>> check_size(3600, 60)
    >>> check_size(86_400, 60)
    Traceback (most recent call last):
    ...
    ValueError: a step of 1 to 21600 s and 10 days or more, not 86400 s and 60 days
    """
    if not 0 < step_s <= MAX_STEP_S or days < WARMUP_DAYS + 3:
        limits = f"a step of 1 to {MAX_STEP_S} s and {WARMUP_DAYS + 3} days or more"
        raise ValueError(f"{limits}, not {step_s} s and {days} days")


def stream(
    shape_name: str, anomaly: str | None, seed: int = 0, step_s: int = STEP_S, days: int = DAYS
) -> Stream:
    """The stream of `shape_name` with `anomaly` (None: the control), reproducibly.

    `step_s` and `days` make it sparser or longer (a meter read once an hour for two
    months); the anomaly still comes after the warm-up.
    """
    shape = SHAPES[shape_name]
    if anomaly is not None and not applies(shape_name, anomaly):
        raise ValueError(f"{anomaly} does not apply to {shape_name}")
    check_size(step_s, days)
    rng = random.Random(f"{shape_name}/{anomaly}/{seed}")
    times = _times(shape, rng, step_s, days)
    state: list[float] = []
    values: list[float | None] = [shape.value(t, rng, state) for t in times]
    labels = [False] * len(times)
    if anomaly is not None:
        _inject(shape, anomaly, times, values, labels, rng, state, days)
    if shape.gappy:  # and 1 % of the rows have no value
        values = [
            None if rng.random() < 0.01 and not label else v
            for v, label in zip(values, labels, strict=True)
        ]
    return Stream(shape_name, anomaly, times, values, labels, days)


def _inject(
    shape: Shape,
    anomaly: str,
    times: list[float],
    values: list[float | None],
    labels: list[bool],
    rng: random.Random,
    state: list[float],
    days: int,
) -> None:
    hours = ANOMALIES[anomaly]
    day = rng.randrange(WARMUP_DAYS + 1, days - 1)
    hour = rng.uniform(1, 3) if anomaly == "contextual" else rng.uniform(6, 18)
    if shape.gappy:
        hour = rng.uniform(1, 7) if anomaly == "contextual" else rng.uniform(16, 20)
    start = START + day * _DAY + hour * 3600
    end = start + hours * 3600 if hours else math.inf
    inside = [i for i, t in enumerate(times) if start <= t < end]
    if not inside:  # sparse readings: none falls inside, the first after `start` takes it
        inside = [next(i for i, t in enumerate(times) if t >= start)]
    if anomaly == "spike":
        inside = inside[:1]  # the first reading from `start`
    unit = shape.unit
    first = values[inside[0]]
    for n, i in enumerate(inside):
        v = values[i]
        assert v is not None
        share = n / max(len(inside) - 1, 1)
        t = times[i]
        if anomaly == "spike":
            v += 10 * unit
        elif anomaly == "level_shift":
            v += 4 * unit
        elif anomaly == "variance_change":
            v += rng.gauss(0.0, 3 * unit)
        elif anomaly == "period_change":  # the rhythm runs eight times faster
            fast = START + (t - START) * 8
            v = shape.value(fast, rng, state) if shape.rhythmic else _square(fast)
        elif anomaly == "drift":
            v += 6 * unit * share
        elif anomaly == "stuck":
            v = first
        elif anomaly == "dropout":
            v = 0.0
        elif anomaly == "contextual":  # the afternoon's value in the night
            v = shape.value(t + 12 * 3600, rng, state)
        values[i] = v
        labels[i] = True


def zoo(seed: int = 0, step_s: int = STEP_S, days: int = DAYS) -> list[Stream]:
    """Every shape's control and each applicable anomaly on it."""
    return [
        stream(shape, anomaly, seed, step_s, days)
        for shape in SHAPES
        for anomaly in (None, *ANOMALIES)
        if anomaly is None or applies(shape, anomaly)
    ]
