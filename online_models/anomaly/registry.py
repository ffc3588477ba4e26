"""Named detectors and detector plans: which detector each kind of signal gets.

Every detector the project measures has one name in `DETECTORS`; a name joined with `+`
(`"shift_cusum+flatline"`) is the `MaxScore` of its parts. A `DetectorPlan` says which
detector each kind of signal gets and whether multi-metric recorded devices also get a joint
one; the flow takes a plan as an argument, and the sweep, the evaluations, the tests and
the cost table pass their own. Adding a detector is its module plus one entry here.

A detector declares the kind of alert its flags raise (`alert_kind`, `"anomaly"` unless it
says otherwise: `Flatline` says `"sensor_fault"`, a stuck sensor is not the city).

>>> plan = DEFAULT_PLAN.with_signals(rhythmic="seasonal_zscore+flatline")
>>> [type(d).__name__ for d in plan.detector("rhythmic").detectors]
['SeasonalZScore', 'Flatline']
>>> alert_kind(make("flatline")), alert_kind(make("shift_cusum"))
('sensor_fault', 'anomaly')
>>> DEFAULT_PLAN.device_detector("recorded", 8).__class__.__name__
'DeviceDistance'
>>> DEFAULT_PLAN.without_device().device_detector("recorded", 8) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from river import base

from online_models.anomaly.calibration import TailCalibrated
from online_models.anomaly.cusum import ShiftCusum
from online_models.anomaly.cycling import ShortCycling
from online_models.anomaly.ensemble import MaxScore
from online_models.anomaly.flatline import Flatline
from online_models.anomaly.levels import UnseenLevel
from online_models.anomaly.likelihood import AnomalyLikelihood
from online_models.anomaly.multivariate import DeviceDistance
from online_models.anomaly.seasonal import SeasonalZScore
from online_models.anomaly.silent import Silent
from online_models.anomaly.trees import FeatureTrees

RECORDED = "recorded"
"""The sensor type of replayed devices (as in `dataflows.messages.schema`)."""

DETECTORS: Mapping[str, Callable[[], base.AnomalyDetector]] = MappingProxyType(
    {
        "shift_cusum": lambda: ShiftCusum(allowance=1.5, limit=30.0),
        "shift_cusum_wide": lambda: ShiftCusum(allowance=2.0, limit=40.0),
        "seasonal_zscore": SeasonalZScore,
        "seasonal_zscore_hourly": lambda: SeasonalZScore(slot_minutes=60),
        "seasonal_zscore_fast_level": lambda: SeasonalZScore(level_alpha=0.05),
        "feature_trees": FeatureTrees,
        "likelihood_seasonal_zscore": lambda: AnomalyLikelihood(SeasonalZScore()),
        "calibrated_shift_cusum": lambda: TailCalibrated(ShiftCusum(allowance=1.5, limit=30.0)),
        "calibrated_seasonal_zscore": lambda: TailCalibrated(SeasonalZScore()),
        "calibrated_level_cusum": lambda: TailCalibrated(
            ShiftCusum(SeasonalZScore(level_follow=0.005), allowance=1.5, limit=30.0)
        ),
        "calibrated_level_cusum_hourly": lambda: TailCalibrated(
            ShiftCusum(
                SeasonalZScore(slot_minutes=60, level_follow=0.005), allowance=1.5, limit=30.0
            )
        ),
        "flatline": Flatline,
        "flatline_long": lambda: Flatline(min_run=10),
        "silent": Silent,
        "unseen_level": UnseenLevel,
        "short_cycling": ShortCycling,
    }
)
"""Name -> factory of a fresh detector of one signal."""

DEVICE_DETECTORS: Mapping[str, Callable[[], DeviceDistance]] = MappingProxyType(
    {"device_distance": DeviceDistance}
)
"""Name -> factory of a fresh joint detector of a device's metrics."""


Registry = Mapping[str, Callable[[], base.AnomalyDetector]]


def make(name: str, detectors: Registry = DETECTORS) -> base.AnomalyDetector:
    """A fresh detector by name; `a+b` is the `MaxScore` of `a` and `b`.

    >>> type(make("shift_cusum")).__name__, type(make("shift_cusum+flatline")).__name__
    ('ShiftCusum', 'MaxScore')
    """
    parts = _parts(name, detectors)
    if len(parts) == 1:
        return detectors[name]()
    return MaxScore([detectors[part]() for part in parts])


def _parts(name: str, detectors: Registry) -> list[str]:
    parts = name.split("+")
    unknown = [part for part in parts if part not in detectors]
    if unknown:
        raise ValueError(f"unknown detector {unknown[0]!r}; known: {sorted(detectors)}")
    return parts


def alert_kind(detector: base.AnomalyDetector) -> str:
    """The kind of alert `detector`'s flags raise: what it declares, else `anomaly`."""
    return getattr(detector, "alert_kind", "anomaly")


@dataclass(frozen=True)
class DetectorPlan:
    """Which detector each kind of signal gets, and which devices get a joint detector.

    Parameters
    ----------
    signals
        Kind of signal (`rhythmic`, `steady`, `count`; `recorded` for the metrics of replayed
        devices and any metric of unknown kind) -> detector name (see `make`).
    device
        Name in `DEVICE_DETECTORS` of the joint detector of recorded devices with several
        metrics, or None for none.
    detectors
        The names the plan may use: `DETECTORS`, or a test's own beside them.
    """

    signals: Mapping[str, str] = field(default_factory=dict)
    device: str | None = "device_distance"
    detectors: Registry = field(default_factory=lambda: DETECTORS, compare=False)

    def __post_init__(self) -> None:
        for name in self.signals.values():
            _parts(name, self.detectors)  # an unknown name is refused now, not at a reading
        if self.device is not None and self.device not in DEVICE_DETECTORS:
            raise ValueError(
                f"unknown device detector {self.device!r}; known: {sorted(DEVICE_DETECTORS)}"
            )

    def detector(self, signal: str) -> base.AnomalyDetector:
        """A fresh detector for a kind of signal."""
        try:
            name = self.signals[signal]
        except KeyError:
            raise ValueError(
                f"unknown signal kind {signal!r}; known: {sorted(self.signals)}"
            ) from None
        return make(name, self.detectors)

    def device_detector(self, sensor_type: str, n_metrics: int) -> DeviceDistance | None:
        """The joint detector of a device's metrics, or None where it does not help.

        Recorded devices (replays) with several metrics get one; the city's own sensor types
        do not: their metrics follow daily rhythms that a fixed normal state would mistake
        for anomalies, and their per-metric seasonal detectors already cover them.
        """
        if self.device is None or sensor_type != RECORDED or n_metrics < 2:
            return None
        return DEVICE_DETECTORS[self.device]()

    def with_signals(self, **signals: str) -> DetectorPlan:
        """The plan with other detectors for some kinds of signal."""
        return replace(self, signals={**self.signals, **signals})

    def without_device(self) -> DetectorPlan:
        """The plan without joint device detectors (each metric on its own)."""
        return replace(self, device=None)


DEFAULT_PLAN = DetectorPlan(
    signals={
        # strong daily and weekly rhythm: traffic, noise, building load, water demand,
        # pollution; the CUSUM of the seasonal residuals finds drifts and small shifts no
        # single reading shows
        "rhythmic": "shift_cusum+flatline",
        # held near a set point (network pressure): a faster fallback level
        "steady": "seasonal_zscore_fast_level+flatline",
        # counts that sit at exact zeros at night: a stuck run must be longer to count
        "count": "shift_cusum+flatline_long",
        # any metric of a replayed device, whatever its shape: the seasonal CUSUM on a
        # baseline that follows the local level, its score calibrated on the stream, and, on
        # a signal of a few levels (a square wave, a state), the values it never showed and
        # runs far shorter than its own
        RECORDED: "calibrated_level_cusum+flatline+unseen_level+short_cycling",
    }
)
"""The measured defaults (see docs/evaluation.md)."""
