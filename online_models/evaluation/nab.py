"""The Numenta Anomaly Benchmark (NAB) score, implemented from its published definition.

Lavin, A. and Ahmad, S. (2015). Evaluating Real-time Anomaly Detection Algorithms - the
Numenta Anomaly Benchmark. IEEE ICMLA. https://arxiv.org/abs/1510.03336

Each labelled anomaly has a window [start, end]. Detections are scored with the scaled
sigmoid of their position relative to the end of the last window that began before them:
`σ(y) = 2 / (1 + e^(5y)) - 1`, where y is -1 at a window's start, 0 at its end, and counts
window lengths after it. Within a window only the first detection counts, worth
`A_TP · σ(y)` (early detection earns almost A_TP); a window without detection costs `A_FN`;
every detection outside windows costs `A_FP · σ(y)` when it follows a window (milder just
after it) and `A_FP` when no window came before it. Detections in the probationary period
are ignored. The raw score is normalised so that a perfect detector (every window detected
at its start, nothing else) gets 100 and one that never fires gets 0:
`100 · (S - S_null) / (S_perfect - S_null)`.

>>> windows = [(10, 20)]
>>> round(nab_score([10], windows, length=100), 1)  # detected at the start: perfect
100.0
>>> nab_score([], windows, length=100)  # never fires
0.0
>>> round(nab_score([20], windows, length=100), 1)  # at the end: no reward, but no miss
50.3
>>> round(nab_score([15, 60], windows, length=100), 1)  # in time, and one false alarm
87.5
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import NamedTuple


class Profile(NamedTuple):
    """Weights of true positives, false positives and false negatives."""

    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(1.0, -0.11, -1.0),
    "reward_low_fp": Profile(1.0, -0.22, -1.0),
    "reward_low_fn": Profile(1.0, -0.11, -2.0),
}
"""NAB's three application profiles (Lavin & Ahmad 2015, table 1)."""


def scaled_sigmoid(y: float) -> float:
    """`2 / (1 + e^(5y)) - 1`: about 0.99 at y = -1, 0 at y = 0, towards -1 after.

    >>> round(scaled_sigmoid(-1.0), 3), scaled_sigmoid(0.0), round(scaled_sigmoid(3.0), 3)
    (0.987, 0.0, -1.0)
    """
    if y > 30:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def raw_score(
    detections: Iterable[float],
    windows: Sequence[tuple[float, float]],
    profile: Profile,
    probation_end: float | None = None,
) -> float:
    """The unnormalised NAB score of one series."""
    windows = sorted(windows)
    detected = [False] * len(windows)
    score = 0.0
    for t in sorted(detections):
        if probation_end is not None and t < probation_end:
            continue
        inside = next((i for i, (start, end) in enumerate(windows) if start <= t <= end), None)
        if inside is not None:
            if not detected[inside]:
                start, end = windows[inside]
                width = max(end - start, 1e-12)
                score += profile.a_tp * scaled_sigmoid((t - end) / width)
                detected[inside] = True
            continue
        before = [(start, end) for start, end in windows if end < t]
        if before:
            start, end = before[-1]
            width = max(end - start, 1e-12)
            score += -profile.a_fp * scaled_sigmoid((t - end) / width)
        else:
            score += profile.a_fp
    scored = [w for w in windows if probation_end is None or w[1] >= probation_end]
    missed = sum(1 for i, w in enumerate(windows) if not detected[i] and w in scored)
    return score + profile.a_fn * missed


def nab_score(
    detections: Iterable[float],
    windows: Sequence[tuple[float, float]],
    length: float | None = None,
    profile: str | Profile = "standard",
    probation_end: float | None = None,
) -> float:
    """The normalised NAB score (0 = never fires, 100 = perfect) of one or more series.

    For a corpus, concatenate the series on one time axis (offsetting each) so that the
    normalisation is over the whole corpus, as NAB does. `length` is accepted for
    symmetry with NAB's window sizing and not otherwise used.
    """
    weights = PROFILES[profile] if isinstance(profile, str) else profile
    scored = [w for w in windows if probation_end is None or w[1] >= probation_end]
    raw = raw_score(detections, windows, weights, probation_end)
    return _normalised(raw, len(scored), weights)


def _normalised(raw: float, n_windows: int, weights: Profile) -> float:
    """`raw` on NAB's scale: 0 for the null detector, 100 for the perfect one."""
    null = weights.a_fn * n_windows
    perfect = weights.a_tp * scaled_sigmoid(-1.0) * n_windows
    return 0.0 if perfect == null else 100.0 * (raw - null) / (perfect - null)


def corpus_score(
    corpus: Sequence[tuple[Sequence[float], Sequence[tuple[float, float]]]],
    profile: str | Profile = "standard",
) -> float:
    """The normalised NAB score of a corpus of series, each `(detections, windows)`.

    Raw scores, and the scores of the null and the perfect detectors, are summed over the
    series before normalising, as NAB does.

    >>> corpus = [([15], [(10, 20)]), ([], [(30, 40)])]
    >>> round(corpus_score(corpus), 1)  # one window found half-way through, one missed
    46.5
    """
    weights = PROFILES[profile] if isinstance(profile, str) else profile
    raw = sum(raw_score(detections, windows, weights) for detections, windows in corpus)
    return _normalised(raw, sum(len(windows) for _, windows in corpus), weights)


def best_threshold(
    corpus: Sequence[tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]],
    profile: str | Profile = "standard",
    candidates: int = 64,
) -> tuple[float, float]:
    """NAB's threshold: the detection score above which the corpus scores best.

    Each series is `(scored detections as (time, score), windows)`; a detection counts when
    its score is at least the threshold. Tried: every score if there are few, else
    `candidates` quantiles of the distinct scores and the tail's scores at geometric ranks
    from the top (the 1st, 2nd, 3rd, 4th, 5th, 6th, 8th, ... highest): on a calibrated
    score nearly every reading is low, so even-spaced quantiles leave the few high scores
    (where a good threshold is) untried. Returns `(threshold, corpus score)`.

    >>> corpus = [([(15, 0.9), (60, 0.4)], [(10, 20)])]
    >>> threshold, value = best_threshold(corpus)  # keeps the hit, drops the false alarm
    >>> threshold, round(value, 1)
    (0.9, 93.0)
    """
    scores = sorted({s for detections, _ in corpus for _, s in detections})
    if len(scores) > candidates:
        n = len(scores)
        ranks = {round(i * (n - 1) / (candidates - 1)) for i in range(candidates)}
        from_top = 1.0
        while from_top < n:
            ranks.add(n - round(from_top))
            from_top *= 1.25
        scores = [scores[i] for i in sorted(ranks)]
    best = (math.inf, corpus_score([([], w) for _, w in corpus], profile))
    ordered = [(sorted(d, key=lambda ts: -ts[1]), w) for d, w in corpus]
    for threshold in reversed(scores):  # from the top: the kept detections only grow
        kept = [
            ([t for t, _ in d[: bisect_right(d, -threshold, key=lambda ts: -ts[1])]], w)
            for d, w in ordered
        ]
        value = corpus_score(kept, profile)
        if value > best[1]:
            best = (threshold, value)
    return best
