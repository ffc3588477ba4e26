"""Scoring detections against labelled windows: NAB-style window scores.

Pure Python, independent of Bytewax and of the lake, so that any labelled replay can be
scored with the same code.
"""

from online_models.evaluation.nab import PROFILES, Profile, nab_score, scaled_sigmoid

__all__ = ["PROFILES", "Profile", "nab_score", "scaled_sigmoid"]
