"""Alert episodes of one sensor: one alert per anomalous spell, not one per reading.

An episode opens with the first flagged reading and stays open while flagged readings keep
coming; it closes at the first unflagged reading that comes `recovery_ms` or more after the
last flagged one. A long anomaly is therefore a single alert.

>>> episodes = AlertEpisodes(recovery_ms=120_000)
>>> episodes.observe("s1", 0, flagged={"flow": 0.9})        # opens
('open', 's1@0', 0, 0.9, 'flow')
>>> episodes.observe("s1", 60_000, flagged={"flow": 0.95})  # still the same alert
>>> episodes.observe("s1", 120_000, flagged={})             # too soon to call it over
>>> episodes.observe("s1", 180_000, flagged={})             # recovered
('close', 's1@0', 180000, 0.95, 'flow', 2)
"""

from __future__ import annotations


class AlertEpisodes:
    """The open alert of one sensor, if any."""

    __slots__ = ("recovery_ms", "_id", "_last_flagged_ms", "_peak", "_metrics", "_count")

    def __init__(self, recovery_ms: int) -> None:
        self.recovery_ms = recovery_ms
        self._id: str | None = None
        self._last_flagged_ms = 0
        self._peak = 0.0
        self._metrics: set[str] = set()
        self._count = 0

    @property
    def open_alert(self) -> str | None:
        """Id of the open alert, or None."""
        return self._id

    def observe(self, sensor_id: str, ts_ms: int, flagged: dict[str, float]) -> tuple | None:
        """Feed one reading's flagged metrics (metric -> score); return a change, if any.

        The change is `("open", alert_id, opened_ms, score, metrics)` or
        `("close", alert_id, closed_ms, peak_score, metrics, anomalous_readings)`.
        """
        if flagged:
            peak = max(flagged.values())
            if self._id is None:
                self._id = f"{sensor_id}@{ts_ms}"
                self._last_flagged_ms = ts_ms
                self._peak = peak
                self._metrics = set(flagged)
                self._count = 1
                return ("open", self._id, ts_ms, peak, ",".join(sorted(flagged)))
            self._last_flagged_ms = max(self._last_flagged_ms, ts_ms)
            self._peak = max(self._peak, peak)
            self._metrics.update(flagged)
            self._count += 1
            return None
        if self._id is not None and ts_ms - self._last_flagged_ms >= self.recovery_ms:
            closed = (
                "close",
                self._id,
                ts_ms,
                self._peak,
                ",".join(sorted(self._metrics)),
                self._count,
            )
            self._id = None
            return closed
        return None
