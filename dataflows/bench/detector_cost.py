"""What each model of the suite costs per reading, on the same simulated readings.

`just bench` prints this table beside the flow's throughput: the default detector, every
detector of the registry (`online_models.anomaly.DETECTORS`), by its name, and the other
models of the suite. Every detector scores then learns each metric of each reading with a
fresh instance per sensor and metric, as the flow does; `DeviceDistance` takes a sensor's
metrics at once (one device reading, scored, its distance asked, then learnt), `ChangePoint`
is fed one value per reading, and `RemainingLife` observes one asset reading (five signals)
after learning 40 lives, prediction and band included.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from river import base

from online_models.anomaly import (
    DETECTORS,
    AdaptiveThreshold,
    ChangePoint,
    DeviceDistance,
    default_detector,
)
from online_models.maintenance import RemainingLife

Reading = tuple[str, str, int, dict[str, float]]


def _per_metric(readings: Sequence[Reading], make: Callable[[], base.AnomalyDetector]) -> float:
    models: dict[tuple[str, str], base.AnomalyDetector] = {}
    count = 0
    started = time.perf_counter()
    for sensor_id, _, ts_ms, values in readings:
        t = ts_ms / 1000.0
        for metric, value in values.items():
            model = models.get((sensor_id, metric))
            if model is None:
                model = models[(sensor_id, metric)] = make()
            x: dict = {"value": value, "t": t}
            model.score_one(x)
            model.learn_one(x)
            count += 1
    return 1e6 * (time.perf_counter() - started) / max(count, 1)


def _threshold(readings: Sequence[Reading]) -> float:
    thresholds: dict[tuple[str, str], AdaptiveThreshold] = {}
    rng = random.Random(0)
    count = 0
    started = time.perf_counter()
    for sensor_id, _, _, values in readings:
        for metric in values:
            threshold = thresholds.setdefault((sensor_id, metric), AdaptiveThreshold())
            score = rng.random()
            threshold.classify(score)
            threshold.learn_one(score)
            count += 1
    return 1e6 * (time.perf_counter() - started) / max(count, 1)


def _device(readings: Sequence[Reading]) -> float:
    devices: dict[str, DeviceDistance] = {}
    started = time.perf_counter()
    for sensor_id, _, _, values in readings:
        device = devices.setdefault(sensor_id, DeviceDistance())
        device.score_one(values)  # the flow's calls for a device reading
        device.distance(values)
        device.learn_one(values)
    return 1e6 * (time.perf_counter() - started) / max(len(readings), 1)


def _change_point(readings: Sequence[Reading]) -> float:
    detectors: dict[str, ChangePoint] = {}
    started = time.perf_counter()
    for sensor_id, _, _, values in readings:
        detectors.setdefault(sensor_id, ChangePoint()).update(next(iter(values.values())))
    return 1e6 * (time.perf_counter() - started) / max(len(readings), 1)


def _remaining_life(asset_readings: int = 5_000) -> float:
    rng = random.Random(0)
    model = RemainingLife(horizon=168.0)
    names = ["vibration_rms", "motor_current", "temperature", "pressure", "run_hours"]

    def reading(hour: int, life: int) -> dict[str, float]:
        wear = hour / life
        return {n: 1 + wear * (i + 1) + rng.gauss(0, 0.05) for i, n in enumerate(names)}

    for asset in range(40):
        life = rng.randint(150, 300)
        for hour in range(life):
            model.observe(asset, hour, reading(hour, life), age=hour)
        model.failed(asset, life)
    started = time.perf_counter()
    for n in range(asset_readings):
        model.observe(("timed", n % 50), n, reading(n % 200, 250), age=n % 200)
    return 1e6 * (time.perf_counter() - started) / asset_readings


def detector_costs(readings: Sequence[Reading], limit: int = 50_000) -> dict[str, float]:
    """µs per reading for each model of the suite, over the first `limit` readings."""
    sample = list(readings[:limit])
    costs = {
        "default (rhythmic)": _per_metric(sample, lambda: default_detector("rhythmic")),
        "default (recorded)": _per_metric(sample, lambda: default_detector("recorded")),
        **{name: _per_metric(sample, factory) for name, factory in DETECTORS.items()},
        "AdaptiveThreshold": _threshold(sample),
        "DeviceDistance (per device reading)": _device(sample),
        "ChangePoint": _change_point(sample),
        "RemainingLife (per asset reading)": _remaining_life(),
    }
    return {name: round(cost, 2) for name, cost in costs.items()}
