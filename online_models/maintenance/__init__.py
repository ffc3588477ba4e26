"""Predictive maintenance: remaining useful life and failure risk, learnt online.

`RemainingLife` is the whole model for one type of asset: rolling condition features
(`RollingFeatures`), nearest-neighbour RUL regression (`NeighbourRUL`), conformal bands and
failure probabilities (`ConformalBand`), delayed labels, prequential metrics and drift
handling with a challenger.
"""

from online_models.maintenance.conformal import ConformalBand
from online_models.maintenance.features import RollingFeatures
from online_models.maintenance.neighbours import NeighbourRUL
from online_models.maintenance.remaining_life import ModelEvent, Prediction, RemainingLife

__all__ = [
    "ConformalBand",
    "ModelEvent",
    "NeighbourRUL",
    "Prediction",
    "RemainingLife",
    "RollingFeatures",
]
