"""Online-learning models for city sensor streams, usable without Bytewax.

- `online_models.anomaly`: per-signal anomaly detectors following River's protocol
  (`score_one` before `learn_one`), an ensemble and an adaptive threshold.
- `online_models.maintenance`: remaining useful life, its interval and the risk of failure
  per asset, learnt from labels that arrive when assets fail or are repaired.

This package depends on River (and NumPy, which River itself requires) only.
"""

__version__ = "0.2.0"
"""Bumped whenever a detector's behaviour changes; alerts record it."""
