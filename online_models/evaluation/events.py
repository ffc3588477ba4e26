"""Event-wise scores of flags against labelled events: found, how fast, and false alarms.

An *event* is a run of consecutive labelled rows. It is *detected* when a row is flagged
from its start until `grace_s` after its end; its *delay* is from its start to that first
flag. A *false alarm* is a run of consecutive flagged rows that touches no event (nor its
grace period).

>>> t = [0, 60, 120, 180, 240, 300, 360, 420]
>>> labels = [False, True, True, False, False, False, False, False]
>>> flags = [False, False, True, False, False, True, True, False]
>>> scores = event_scores(t, labels, flags)
>>> scores["events"], scores["detected"], scores["median_delay_s"], scores["false_alarms"]
(1, 1, 60.0, 1)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def _runs(marks: Sequence[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    runs, start = [], None
    for i, mark in enumerate(marks):
        if mark and start is None:
            start = i
        elif not mark and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(marks) - 1))
    return runs


def event_scores(
    times_s: Sequence[float],
    labels: Sequence[bool],
    flags: Sequence[bool],
    grace_s: float = 0.0,
) -> dict[str, float | int | None]:
    """Events, events detected, median delay (s), false alarms and false alarms per day."""
    events = [(times_s[a], times_s[b] + grace_s) for a, b in _runs(labels)]
    flagged = [times_s[i] for i, flag in enumerate(flags) if flag]
    delays = []
    for start, end in events:
        first = next((t for t in flagged if start <= t <= end), None)
        if first is not None:
            delays.append(first - start)
    false_alarms = sum(
        1
        for a, b in _runs(flags)
        if not any(start <= times_s[b] and times_s[a] <= end for start, end in events)
    )
    days = (times_s[-1] - times_s[0]) / 86_400 if len(times_s) > 1 else 0.0
    return {
        "events": len(events),
        "detected": len(delays),
        "median_delay_s": float(statistics.median(delays)) if delays else None,
        "false_alarms": false_alarms,
        "false_alarms_per_day": false_alarms / days if days else None,
    }
