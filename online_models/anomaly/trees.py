"""River's HalfSpaceTrees on engineered features of one signal."""

from __future__ import annotations

from river import base

from online_models.anomaly.seasonal import SeasonalZScore


class FeatureTrees(base.AnomalyDetector):
    """Half-space trees (Tan, Ting & Liu, IJCAI 2011) over features of a seasonal signal.

    Raw values of a city signal are dominated by the time of day, which isolation-style
    trees cannot see, so the trees get features instead, each scaled into [0, 1]: the signed
    residual from a `SeasonalZScore` baseline (clipped at `clip` scales) and the change of
    that residual since the previous reading (the baseline already knows the time of day).
    An anomaly is a reading whose combination of these falls in a sparsely visited part of
    the space; the trees' mass score is in [0, 1], higher for rarer.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> model = FeatureTrees(seed=1)
    >>> t = 1767225600
    >>> for i in range(3000):
    ...     model.learn_one({"value": 50 + rng.gauss(0, 1), "t": t + 60 * i})
    >>> usual = model.score_one({"value": 50.3, "t": t + 60 * 3000})
    >>> spike = model.score_one({"value": 58.0, "t": t + 60 * 3000})
    >>> usual < 0.7 < spike
    True

    """

    def __init__(
        self,
        baseline: SeasonalZScore | None = None,
        n_trees: int = 15,
        height: int = 6,
        window_size: int = 250,
        clip: float = 6.0,
        seed: int = 0,
    ) -> None:
        self.baseline = baseline if baseline is not None else SeasonalZScore()
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.clip = clip
        self.seed = seed
        from river import anomaly  # here: it imports SciPy's statistics (about a second)

        self.trees = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self._previous_z = 0.0

    def _features(self, x: dict) -> dict[str, float] | None:
        z = self.baseline.residual_z(x)
        if z is None:
            return None
        z = max(-self.clip, min(self.clip, z))
        change = max(-self.clip, min(self.clip, z - self._previous_z))
        return {
            "residual": (z + self.clip) / (2 * self.clip),
            "change": (change + self.clip) / (2 * self.clip),
        }

    def score_one(self, x: dict) -> float:
        features = self._features(x)
        return 0.0 if features is None else self.trees.score_one(features)

    def learn_one(self, x: dict) -> None:
        features = self._features(x)
        if features is not None:
            self.trees.learn_one(features)
            self._previous_z = (features["residual"] * 2 - 1) * self.clip
        self.baseline.learn_one(x)
