"""The default detector for each kind of signal, and the default threshold.

>>> sorted(DEFAULT_PLAN.signals)
['count', 'recorded', 'rhythmic', 'steady']
>>> type(default_detector("rhythmic")).__name__
'MaxScore'
"""

from __future__ import annotations

from river import base

from online_models.anomaly.multivariate import DeviceDistance
from online_models.anomaly.registry import DEFAULT_PLAN, RECORDED
from online_models.anomaly.threshold import AdaptiveThreshold


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
    """A fresh default detector for a kind of signal (of `DEFAULT_PLAN`)."""
    return DEFAULT_PLAN.detector(signal)


def device_detector(sensor_type: str, n_metrics: int) -> DeviceDistance | None:
    """The default joint detector of a device's metrics, or None where it does not help.

    >>> type(device_detector("recorded", 8)).__name__
    'DeviceDistance'
    >>> device_detector("recorded", 1) is None, device_detector("water", 2) is None
    (True, True)
    """
    return DEFAULT_PLAN.device_detector(sensor_type, n_metrics)
