"""Anomaly detectors for one sensor signal at a time.

Every detector is a River `AnomalyDetector`: `x` is a dict with the reading's `"value"` and
its time `"t"` in epoch seconds; `score_one(x)` returns a score in [0, 1] (higher = more
anomalous) without changing the model, and `learn_one(x)` updates it. Always score a reading
before learning it, so that it cannot hide itself.

`AdaptiveThreshold` turns scores into flags, `MaxScore` combines detectors, and
`default_detector(signal)` and `default_threshold(sensor_type)` give the measured defaults;
`DETECTORS` names every detector and a `DetectorPlan` says which one each signal gets.
"""

from online_models.anomaly.calibration import TailCalibrated
from online_models.anomaly.changepoint import ChangePoint
from online_models.anomaly.cusum import ShiftCusum
from online_models.anomaly.cycling import ShortCycling
from online_models.anomaly.defaults import default_detector, default_threshold, device_detector
from online_models.anomaly.ensemble import MaxScore
from online_models.anomaly.flatline import Flatline
from online_models.anomaly.levels import UnseenLevel
from online_models.anomaly.likelihood import AnomalyLikelihood
from online_models.anomaly.multivariate import DeviceDistance
from online_models.anomaly.registry import (
    DEFAULT_PLAN,
    DETECTORS,
    DetectorPlan,
    alert_kind,
    make,
)
from online_models.anomaly.seasonal import SeasonalZScore
from online_models.anomaly.silent import Silent
from online_models.anomaly.threshold import AdaptiveThreshold
from online_models.anomaly.trees import FeatureTrees

__all__ = [
    "DEFAULT_PLAN",
    "DETECTORS",
    "AdaptiveThreshold",
    "AnomalyLikelihood",
    "ChangePoint",
    "DetectorPlan",
    "DeviceDistance",
    "FeatureTrees",
    "Flatline",
    "MaxScore",
    "SeasonalZScore",
    "ShiftCusum",
    "ShortCycling",
    "Silent",
    "TailCalibrated",
    "UnseenLevel",
    "alert_kind",
    "default_detector",
    "default_threshold",
    "device_detector",
    "make",
]
