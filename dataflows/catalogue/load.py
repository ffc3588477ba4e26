"""Read and check a catalogue file; every problem names the file, its line and the field.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "city.toml").write_text('''
... [types.parking]
... interval_s = 300
... [types.parking.metrics.occupied]
... unit = "bays"
... low = 0
... high = -1
... ''') and None
>>> load_catalogue(folder / "city.toml")
Traceback (most recent call last):
...
dataflows.catalogue.load.CatalogueError: ...city.toml:7: ...occupied.high: must be at least low (0)
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from dataflows.catalogue.types import CONDITION, Catalogue, Metric, SensorType
from online_models.anomaly.registry import DEFAULT_PLAN, DETECTORS, make

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[2] / "data" / "catalogue.toml"
"""The commented default: today's sensor and asset types."""

SIGNALS = (*DEFAULT_PLAN.signals, CONDITION)
"""The kinds of signal a metric may declare."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TYPE_FIELDS = {"description", "interval_s", "asset", "horizon_h", "metrics"}
_METRIC_FIELDS = {"unit", "low", "high", "signal", "detector", "description"}


class CatalogueError(ValueError):
    """A catalogue that cannot be used: `file:line: field: problem`."""


def load_catalogue(path: str | Path = DEFAULT_CATALOGUE) -> Catalogue:
    """The catalogue in `path`, checked; raises `CatalogueError` naming what is wrong.

    A file read before is not read again unless it changed.
    """
    path = Path(path).expanduser()
    try:
        stat = path.stat()
    except OSError as error:
        raise CatalogueError(f"{path}: cannot read the catalogue: {error.strerror}") from None
    return _load(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def default_catalogue() -> Catalogue:
    """The default catalogue (`data/catalogue.toml`), read once per process."""
    return load_catalogue(DEFAULT_CATALOGUE)


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> Catalogue:
    text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise CatalogueError(f"{where}: not valid TOML: {error}") from None
    return _Checker(path, text).catalogue(document)


class _Checker:
    """Turns a parsed document into a `Catalogue`, or the first problem with its line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, keys: tuple[str, ...], problem: str) -> CatalogueError:
        return CatalogueError(f"{self.path}:{self.line(keys)}: {'.'.join(keys)}: {problem}")

    def line(self, keys: tuple[str, ...]) -> int:
        """The line of the deepest table header or key of `keys` found in the file (1-based)."""
        best, start = 1, 0
        for depth in range(1, len(keys) + 1):
            header = re.compile(
                r"\s*\[+\s*" + r"\s*\.\s*".join(map(re.escape, keys[:depth])) + r"\s*\]"
            )
            for number in range(start, len(self.lines)):
                if header.match(self.lines[number]):
                    best, start = number + 1, number + 1
                    break
        # then the key itself inside that table
        if keys:
            key = re.compile(r"\s*" + re.escape(keys[-1]) + r"\s*=")
            for number in range(start, len(self.lines)):
                text = self.lines[number]
                if text.lstrip().startswith("["):
                    break
                if key.match(text):
                    return number + 1
        return best

    def catalogue(self, document: dict[str, Any]) -> Catalogue:
        unknown = sorted(set(document) - {"types"})
        if unknown:
            raise self.fail((unknown[0],), "unknown section; the catalogue has only [types.*]")
        types = document.get("types")
        if not isinstance(types, dict) or not types:
            raise self.fail(("types",), "no sensor types: add a [types.NAME] table")
        return Catalogue([self.sensor_type(name, spec) for name, spec in types.items()], self.path)

    def sensor_type(self, name: str, spec: Any) -> SensorType:
        keys = ("types", name)
        if not _NAME.fullmatch(name):
            raise self.fail(keys, "a type name is lower-case letters, digits and _ (≤ 64)")
        if not isinstance(spec, dict):
            raise self.fail(keys, "must be a table")
        self.known_fields(keys, spec, _TYPE_FIELDS)
        asset = spec.get("asset", False)
        if not isinstance(asset, bool):
            raise self.fail((*keys, "asset"), "must be true or false")
        interval = self.positive(keys, spec, "interval_s")
        horizon = self.positive(keys, spec, "horizon_h")
        if horizon is not None and not asset:
            raise self.fail((*keys, "horizon_h"), "only an asset (asset = true) has a horizon")
        metrics = spec.get("metrics")
        if not isinstance(metrics, dict) or not metrics:
            raise self.fail(keys, f"no metrics: add a [types.{name}.metrics.NAME] table")
        return SensorType(
            name,
            tuple(self.metric((*keys, "metrics", m), s, asset) for m, s in metrics.items()),
            self.text(keys, spec, "description"),
            asset,
            interval,
            horizon,
        )

    def metric(self, keys: tuple[str, ...], spec: Any, asset: bool) -> Metric:
        if not _NAME.fullmatch(keys[-1]):
            raise self.fail(keys, "a metric name is lower-case letters, digits and _ (≤ 64)")
        if not isinstance(spec, dict):
            raise self.fail(keys, "must be a table")
        self.known_fields(keys, spec, _METRIC_FIELDS)
        for required in ("unit", "low", "high"):
            if required not in spec:
                raise self.fail((*keys, required), "missing")
        low, high = self.number(keys, spec, "low"), self.number(keys, spec, "high")
        if high < low:
            raise self.fail((*keys, "high"), f"must be at least low ({low:g})")
        signal = spec.get("signal", CONDITION if asset else "rhythmic")
        if signal not in SIGNALS:
            raise self.fail(
                (*keys, "signal"), f"unknown signal {signal!r}; known: {', '.join(SIGNALS)}"
            )
        if (signal == CONDITION) != asset:
            problem = "an asset's metrics are" if asset else "only an asset's metrics are"
            raise self.fail((*keys, "signal"), f'{problem} signal = "condition"')
        detector = spec.get("detector")
        if detector is not None:
            if asset:
                raise self.fail(
                    (*keys, "detector"),
                    "an asset's metrics feed the maintenance models, not a detector",
                )
            if not isinstance(detector, str):
                raise self.fail((*keys, "detector"), "must be a detector name")
            try:
                make(detector, DETECTORS)
            except ValueError as error:
                raise self.fail((*keys, "detector"), str(error)) from None
        return Metric(
            keys[-1],
            self.text(keys, spec, "unit"),
            low,
            high,
            self.text(keys, spec, "description"),
            signal,
            detector,
        )

    def known_fields(self, keys: tuple[str, ...], spec: dict, known: set[str]) -> None:
        unknown = sorted(set(spec) - known)
        if unknown:
            raise self.fail(
                (*keys, unknown[0]), f"unknown field; known: {', '.join(sorted(known))}"
            )

    def text(self, keys: tuple[str, ...], spec: dict, field: str) -> str:
        value = spec.get(field, "")
        if not isinstance(value, str) or not value.isprintable() or len(value) > 200:
            raise self.fail((*keys, field), "must be printable text of at most 200 characters")
        return value

    def number(self, keys: tuple[str, ...], spec: dict, field: str) -> float:
        value = spec[field]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail((*keys, field), f"must be a finite number, got {value!r}")
        return float(value)

    def positive(self, keys: tuple[str, ...], spec: dict, field: str) -> float | None:
        if field not in spec:
            return None
        value = self.number(keys, spec, field)
        if value <= 0:
            raise self.fail((*keys, field), "must be positive")
        return value
