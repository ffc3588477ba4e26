"""Scores of detections and predictions against labels: NAB windows, points, RUL.

Pure Python, independent of Bytewax and of the lake, so that any labelled replay can be
scored with the same code.
"""

from online_models.evaluation.nab import PROFILES, Profile, nab_score, scaled_sigmoid
from online_models.evaluation.points import PointCounts
from online_models.evaluation.rul import rmse_and_score

__all__ = ["PROFILES", "PointCounts", "Profile", "nab_score", "rmse_and_score", "scaled_sigmoid"]
