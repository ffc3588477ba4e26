"""Publishes alert events (opened, closed) as JSON to a Kafka topic, keyed by sensor id."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from dataflows.kafka_io import client_config, describe, ensure_topic
from dataflows.rows import Rows
from dataflows.settings import Settings

log = logging.getLogger(__name__)

_CLOSE_PATIENCE_S = 600.0
"""How long a stopping flow waits for an unavailable broker to take its last alerts."""


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _closed(
    alert_id: str, sensor_id: str, closed: int, peak: float, metrics: str, n: int, level: str
) -> dict:
    return {
        "event": "closed",
        "alert_id": alert_id,
        "sensor_id": sensor_id,
        "closed_at": _iso(closed),
        "peak_score": peak,
        "metrics": metrics.split(","),
        "anomalous_readings": n,
        "severity": level,
    }


def alert_events(rows: Rows) -> list[dict]:
    """The alert changes in `rows` as JSON-ready events.

    >>> opened = ("s@0", "s", "noise", "anomaly", "laeq", 0, None, 0.9, 1, "d", "minor", "v", None)
    >>> rows = Rows(alerts=[opened], alert_closures=[("s@0", 60000, 0.95, "laeq", 2, "major")])
    >>> [e["event"] for e in alert_events(rows)]
    ['opened', 'closed']
    """
    events = []
    for (
        alert_id,
        sensor_id,
        sensor_type,
        kind,
        metrics,
        opened,
        closed,
        peak,
        count,
        detector,
        level,
        version,
        detail,
    ) in rows.alerts:
        events.append(
            {
                "event": "opened",
                "alert_id": alert_id,
                "sensor_id": sensor_id,
                "sensor_type": sensor_type,
                "kind": kind,
                "metrics": metrics.split(","),
                "opened_at": _iso(opened),
                "score": peak,
                "detector": detector,
                "severity": level,
                "model_version": version,
                "detail": detail,
            }
        )
        if closed is not None:  # e.g. a dropout, known once the sensor is back
            events.append(_closed(alert_id, sensor_id, closed, peak, metrics, count, level))
    for alert_id, closed, peak, metrics, n, level in rows.alert_closures:
        sensor_id = alert_id.rsplit("@", 1)[0]
        events.append(_closed(alert_id, sensor_id, closed, peak, metrics, n, level))
    return events


class KafkaAlertSink(DynamicSink[dict]):
    """Sends each alert event to `CITY_KAFKA_ALERTS_TOPIC`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        return _AlertPartition(self.settings)


class _AlertPartition(StatelessSinkPartition[dict]):
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka_alerts_topic
        self.where = describe(settings)
        ensure_topic(settings, self.topic, settings.kafka_partitions)
        self.producer = KafkaProducer(
            **client_config(settings), linger_ms=20, retries=10, acks="all"
        )

    def _failed(self, error: BaseException) -> None:
        log.error("could not publish an alert to %s at %s: %s", self.topic, self.where, error)

    def write_batch(self, items: list[dict]) -> None:
        for event in items:
            key, value = event["sensor_id"].encode(), json.dumps(event).encode()
            for attempt in range(1, 1_000_000):
                try:
                    self.producer.send(self.topic, key=key, value=value).add_errback(self._failed)
                    break
                except KafkaTimeoutError as error:  # no broker to take it: wait, do not drop
                    wait = min(10.0, 0.5 * 2 ** min(attempt - 1, 5))
                    log.warning(
                        "alerts topic %s at %s unavailable (%s); retrying in %.1f s",
                        self.topic,
                        self.where,
                        error,
                        wait,
                    )
                    time.sleep(wait)

    def close(self) -> None:
        deadline = time.monotonic() + _CLOSE_PATIENCE_S
        while True:
            try:
                self.producer.flush(timeout=10)
                break
            except KafkaTimeoutError:
                if time.monotonic() > deadline:
                    raise
                log.warning("waiting for %s to take the last alert events", self.where)
        self.producer.close(timeout=30)
