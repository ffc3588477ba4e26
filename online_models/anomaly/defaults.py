"""The default detector for each kind of signal.

>>> sorted(SIGNALS)
['count', 'rhythmic', 'steady']
>>> type(default_detector("rhythmic")).__name__
'MaxScore'
"""

from __future__ import annotations

from collections.abc import Callable

from river import base

from online_models.anomaly.cusum import ShiftCusum
from online_models.anomaly.ensemble import MaxScore
from online_models.anomaly.flatline import Flatline
from online_models.anomaly.multivariate import DeviceDistance
from online_models.anomaly.seasonal import SeasonalZScore
from online_models.anomaly.threshold import AdaptiveThreshold

RECORDED = "recorded"
"""The sensor type of replayed devices (as in `dataflows.messages.schema`)."""

SIGNALS: dict[str, Callable[[], base.AnomalyDetector]] = {
    # strong daily and weekly rhythm: traffic, noise, building load, water demand, pollution;
    # the CUSUM of the seasonal residuals finds drifts and small shifts no single reading shows
    "rhythmic": lambda: MaxScore([ShiftCusum(allowance=1.5, limit=30.0), Flatline()]),
    # held near a set point (network pressure): a faster fallback level
    "steady": lambda: MaxScore([SeasonalZScore(level_alpha=0.05), Flatline()]),
    # counts that sit at exact zeros at night: a stuck run must be longer to count
    "count": lambda: MaxScore([ShiftCusum(allowance=1.5, limit=30.0), Flatline(min_run=10)]),
}
"""Factories of the default detector per kind of signal."""


def device_detector(sensor_type: str, n_metrics: int) -> base.AnomalyDetector | None:
    """The detector of a device's metrics jointly, or None where it does not help.

    Recorded devices (replays) with several metrics get a `DeviceDistance`; the city's own
    sensor types do not: their metrics follow daily rhythms that a fixed normal state would
    mistake for anomalies, and their per-metric seasonal detectors already cover them.

    >>> type(device_detector("recorded", 8)).__name__
    'DeviceDistance'
    >>> device_detector("recorded", 1) is None, device_detector("water", 2) is None
    (True, True)
    """
    if sensor_type == RECORDED and n_metrics >= 2:
        return DeviceDistance()
    return None


def default_threshold(sensor_type: str) -> AdaptiveThreshold:
    """The threshold that turns a metric's scores into flags.

    The city's own sensor types get a fixed one (scores above 0.7): their detectors are
    calibrated, and a threshold that rose with recent scores would let a slow drift or a
    long level shift raise it out of reach. Recorded devices (replays) get one that also
    follows the metric's recent 99.5 % score quantile, since a detector may fit an unknown
    signal poorly.

    >>> default_threshold("noise").step, default_threshold("recorded").step
    (0.0, 0.01)
    """
    if sensor_type == RECORDED:
        return AdaptiveThreshold()
    return AdaptiveThreshold(step=0.0)


def default_detector(signal: str = "rhythmic") -> base.AnomalyDetector:
    """A fresh default detector for a kind of signal (a key of `SIGNALS`)."""
    try:
        return SIGNALS[signal]()
    except KeyError:
        raise ValueError(f"unknown signal kind {signal!r}; known: {sorted(SIGNALS)}") from None
