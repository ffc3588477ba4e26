"""Change points: the moments a signal's level shifts, found with the Page-Hinkley test."""

from __future__ import annotations


class ChangePoint:
    """Reports the readings at which a stream of numbers changes its level, up or down.

    An outlier detector answers "is this reading unusual?"; a change point answers "did the
    process just change state?": a valve closing, a pump starting to cavitate, and also the
    return to normal. The test is Page-Hinkley (Page 1954; Hinkley 1971) as implemented by
    River's `drift.PageHinkley`: cumulative deviations from the running mean beyond
    `delta`, with a change declared when they exceed `threshold`. After a change the test
    starts afresh on the new level.

    Feed it a statistic in comparable units, such as `DeviceDistance.distance(x)` (the
    distance of a device's reading from normal, relative to the warm-up's largest): its
    defaults were chosen on that statistic over the SKAB changepoint protocol
    (`just evaluate skab`).

    Parameters
    ----------
    min_instances
        Values seen before a change can be declared.
    delta
        Tolerated deviation from the mean.
    threshold
        Cumulative deviation that declares a change.

    Examples
    --------
    >>> detector = ChangePoint()
    >>> levels = [1.0] * 100 + [6.0] * 100
    >>> [i for i, value in enumerate(levels) if detector.update(value)]
    [110]

    """

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0):
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        # here, not at the top: `river.drift` imports SciPy's statistics (about a second),
        # which a flow whose sensors never need a change point should not wait for
        from river import drift

        self._test = drift.PageHinkley(
            min_instances=min_instances, delta=delta, threshold=threshold
        )

    def update(self, value: float) -> bool:
        """Feed one value; True when it marks a change point."""
        self._test.update(value)
        return self._test.drift_detected
