"""Alert episodes of one sensor: one alert per anomalous spell, one people can act on.

The life of an alert, fed one reading at a time (its flagged metrics and its top score):

- **opening**: a flagged reading starts a candidate; it becomes an alert once flagged
  readings have lasted `min_duration_ms` (gaps shorter than `recovery_ms` do not break
  them), or at once if a score reaches `critical_score`. The alert opens at the candidate's
  first reading. A lone blip below critical never alerts;
- **hysteresis**: an open alert stays open while readings score `clear_score` or more,
  flagged or not, and closes at the first reading after `recovery_ms` of scores below it;
- **cooldown**: for `cooldown_ms` after closing, flags do not open a new alert (they stay
  flagged in `readings`), so a flapping sensor does not page anyone twice.

Severity comes from the peak score (`severity`). Alert ids are `sensor@opened_ms`.

>>> policy = AlertPolicy(min_duration_ms=60_000, recovery_ms=120_000, cooldown_ms=600_000)
>>> episodes = AlertEpisodes(policy)
>>> episodes.observe("s1", 0, {"flow": 0.8}, 0.8)            # a candidate
>>> episodes.observe("s1", 60_000, {"flow": 0.95}, 0.95)     # lasted a minute: opens
('open', 's1@0', 0, 0.95, 'flow', 2)
>>> episodes.observe("s1", 120_000, {}, 0.6)                 # not yet clear (hysteresis)
>>> episodes.observe("s1", 180_000, {}, 0.1)
>>> episodes.observe("s1", 300_000, {}, 0.1)                 # 2 minutes clear: closes
('close', 's1@0', 300000, 0.95, 'flow', 2)
>>> episodes.observe("s1", 400_000, {"flow": 0.999}, 0.999)  # cooling down: no new alert
>>> episodes.observe("s1", 960_000, {"flow": 0.999}, 0.999)  # critical: opens at once
('open', 's1@960000', 960000, 0.999, 'flow', 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import online_models
from dataflows.lake.tables import AlertClosure, AlertRow

MODEL_VERSION = f"online_models {online_models.__version__}"
"""Version of the models written with each alert."""


@dataclass(frozen=True)
class AlertPolicy:
    """When alerts open, close and may open again (see the module docstring)."""

    min_duration_ms: int = 60_000
    recovery_ms: int = 300_000
    clear_score: float = 0.5
    cooldown_ms: int = 900_000
    critical_score: float = 0.85


SEVERITIES = ((0.99, "critical"), (0.95, "major"), (0.0, "minor"))
"""Lowest peak score of each severity, highest first."""


def severity(score: float) -> str:
    """The severity of an alert whose peak score is `score`.

    >>> severity(0.85), severity(0.97), severity(0.995)
    ('minor', 'major', 'critical')
    """
    for lowest, name in SEVERITIES:
        if score >= lowest:
            return name
    return SEVERITIES[-1][1]


def alert_row(
    alert_id: str,
    sensor_id: str,
    sensor_type: str,
    kind: str,
    metrics: str,
    opened_ms: int,
    peak: float,
    count: int,
    detector: str,
    *,
    closed_ms: int | None = None,
    level: str | None = None,
    detail: str | None = None,
) -> AlertRow:
    """A row of the lake's `alerts` table.

    The severity is that of the peak score unless `level` is given.

    >>> alert_row("s@0", "s", "noise", "anomaly", "laeq", 0, 0.97, 3, "SeasonalZScore").severity
    'major'
    """
    return AlertRow(
        alert_id,
        sensor_id,
        sensor_type,
        kind,
        metrics,
        opened_ms,
        closed_ms,
        peak,
        count,
        detector,
        level or severity(peak),
        MODEL_VERSION,
        detail,
    )


def closure_row(
    alert_id: str, closed_ms: int, peak: float, metrics: str, count: int
) -> AlertClosure:
    """A closing of an open alert, as the lake sink applies it to `alerts`."""
    return AlertClosure(alert_id, closed_ms, peak, metrics, count, severity(peak))


class AlertEpisodes:
    """The candidate or open alert of one sensor, and its last closing."""

    __slots__ = (
        "policy",
        "_id",
        "_start_ms",
        "_last_flagged_ms",
        "_last_hot_ms",
        "_closed_ms",
        "_peak",
        "_metrics",
        "_count",
    )

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._id: str | None = None
        self._start_ms: int | None = None  # of the candidate or open alert
        self._last_flagged_ms = 0
        self._last_hot_ms = 0
        self._closed_ms: int | None = None
        self._peak = 0.0
        self._metrics: set[str] = set()
        self._count = 0

    @property
    def open_alert(self) -> str | None:
        """Id of the open alert, or None."""
        return self._id

    @property
    def busy(self) -> bool:
        """Whether an alert or a candidate is in progress (unflagged readings matter)."""
        return self._start_ms is not None

    def observe(
        self, sensor_id: str, ts_ms: int, flagged: dict[str, float], top_score: float
    ) -> tuple | None:
        """Feed one reading: its flagged metrics (metric -> score) and its highest score.

        Returns a change, if any: `("open", alert_id, opened_ms, peak, metrics, count)` or
        `("close", alert_id, closed_ms, peak, metrics, count)`, where `count` is the number
        of flagged readings so far.
        """
        policy = self.policy
        if flagged:
            if self._start_ms is None:
                if self._closed_ms is not None and ts_ms - self._closed_ms < policy.cooldown_ms:
                    return None
                self._start_ms = ts_ms
                self._peak = 0.0
                self._metrics = set()
                self._count = 0
            self._last_flagged_ms = self._last_hot_ms = max(self._last_hot_ms, ts_ms)
            self._peak = max(self._peak, *flagged.values())
            self._metrics.update(flagged)
            self._count += 1
            if self._id is None and (
                self._peak >= policy.critical_score
                or ts_ms - self._start_ms >= policy.min_duration_ms
            ):
                self._id = f"{sensor_id}@{self._start_ms}"
                return ("open", self._id, self._start_ms, self._peak, self._joined(), self._count)
            return None
        if self._start_ms is None:
            return None
        if self._id is None:  # a candidate that did not last
            if ts_ms - self._last_flagged_ms >= policy.recovery_ms:
                self._start_ms = None
            return None
        if top_score >= policy.clear_score:
            self._last_hot_ms = max(self._last_hot_ms, ts_ms)
            return None
        if ts_ms - self._last_hot_ms >= policy.recovery_ms:
            closed = ("close", self._id, ts_ms, self._peak, self._joined(), self._count)
            self._id = None
            self._start_ms = None
            self._closed_ms = ts_ms
            return closed
        return None

    def close(self, ts_ms: int) -> tuple | None:
        """Close the open alert at `ts_ms` whatever the scores: its cause went away.

        For example, the asset was repaired. A candidate is dropped. Returns the change, as
        `observe` does.

        >>> episodes = AlertEpisodes(AlertPolicy(min_duration_ms=0))
        >>> episodes.observe("pump-1", 0, {"failure_prob": 0.7}, 0.7)[0]
        'open'
        >>> episodes.close(3_600_000)
        ('close', 'pump-1@0', 3600000, 0.7, 'failure_prob', 1)
        """
        closed = None
        if self._id is not None:
            closed = ("close", self._id, ts_ms, self._peak, self._joined(), self._count)
            self._closed_ms = ts_ms
        self._id = None
        self._start_ms = None
        return closed

    def _joined(self) -> str:
        return ",".join(sorted(self._metrics))
