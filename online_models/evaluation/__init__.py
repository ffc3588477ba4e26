"""Scores of detections and predictions against labels: NAB windows, points, events, RUL.

Pure Python, independent of Bytewax and of the lake, so that any labelled replay can be
scored with the same code.
"""

from online_models.evaluation.events import event_scores
from online_models.evaluation.nab import PROFILES, Profile, nab_score, scaled_sigmoid
from online_models.evaluation.points import PointCounts, best_threshold_f1
from online_models.evaluation.rul import rmse_and_score

__all__ = [
    "PROFILES",
    "PointCounts",
    "Profile",
    "best_threshold_f1",
    "event_scores",
    "nab_score",
    "rmse_and_score",
    "scaled_sigmoid",
]
