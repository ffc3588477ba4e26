"""Online-learning models for city sensor streams, usable without Bytewax.

- `online_models.anomaly`: per-signal anomaly detectors following River's protocol
  (`score_one` before `learn_one`), an ensemble and an adaptive threshold.

This package depends on River and the standard library only.
"""

__version__ = "0.2.0"
"""Bumped whenever a detector's behaviour changes; alerts record it."""
