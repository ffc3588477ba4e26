"""The catalogue's records: a metric, a sensor (or asset) type, and the catalogue itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

CONDITION = "condition"
"""The signal kind of an asset's condition signals: they feed the maintenance models."""


class Metric(NamedTuple):
    """One measured quantity of a sensor type, with its unit and physically possible range."""

    name: str
    unit: str
    low: float
    high: float
    description: str
    signal: str = "rhythmic"
    """Kind of signal (`rhythmic`, `steady`, `count`, `recorded`, `condition`): its detector."""
    detector: str | None = None
    """A detector of the registry chosen instead of the signal kind's preset."""


class SensorType(NamedTuple):
    """A sensor type: its metrics, whether it is a maintained asset, how often it reports."""

    name: str
    metrics: tuple[Metric, ...]
    description: str = ""
    asset: bool = False
    interval_s: float | None = None
    """Usual seconds between two readings (the dashboard counts a sensor silent after
    three), or None for the dashboard's default window."""
    horizon_h: float | None = None
    """Assets: the horizon of the failure probability, or None for the setting's."""


class Catalogue:
    """The known sensor types, with an index of their metrics.

    >>> flow = Metric("flow", "veh/h", 0, 10_000, "vehicles per hour", "count")
    >>> catalogue = Catalogue([SensorType("traffic_loop", (flow,))])
    >>> catalogue.metric("traffic_loop", "flow").unit, catalogue.metric("noise", "laeq")
    ('veh/h', None)
    >>> sorted(catalogue.sensor_types), sorted(catalogue.asset_types)
    (['traffic_loop'], [])
    """

    def __init__(self, types: list[SensorType], path: Path | None = None) -> None:
        self.types: Mapping[str, SensorType] = {t.name: t for t in types}
        self.path = path
        self._index = {(t.name, m.name): m for t in types for m in t.metrics}
        self.asset_types = frozenset(t.name for t in types if t.asset)
        self.sensor_types = frozenset(t.name for t in types if not t.asset)

    def metric(self, sensor_type: str, name: str) -> Metric | None:
        """The metric `name` of `sensor_type`, or None if the catalogue has no such metric."""
        return self._index.get((sensor_type, name))

    def metrics(self, sensor_type: str) -> tuple[Metric, ...]:
        """The metrics of a type, in catalogue order (none for an unknown type)."""
        known = self.types.get(sensor_type)
        return () if known is None else known.metrics

    def __contains__(self, sensor_type: object) -> bool:
        return sensor_type in self.types

    def __repr__(self) -> str:
        return f"Catalogue({len(self.types)} types from {self.path})"
