"""Publishes alert events (opened, closed) as JSON to a Kafka topic, keyed by sensor id.

Delivery is at least once and never blocks the flow for long:

- every event carries an `event_id` (`<alert id>:<opened|closed>`), so a consumer can drop
  the copies a restarted flow sends again;
- the producer is idempotent with `acks=all`; events wait in a bounded queue (the sink's
  recovery state, so a crash does not lose them) until the broker acknowledges them;
- while the alerts broker (`CITY_KAFKA_ALERTS_BOOTSTRAP_SERVERS`, by default the readings'
  one) is unreachable, the sink tries again with back-off, blocking the flow at most
  `_MAX_BLOCK_MS` per try, and the lake sink goes on;
- an event that still fails after `_MAX_ATTEMPTS` tries, or is pushed out of a full queue,
  is logged and recorded in the lake's `alert_deliveries` as `failed`; a delivered one as
  `sent`. These rows are written by a thread of their own, a batch at most every
  `_RECORD_EVERY_S`, so that the flow never waits for the lake on their account.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from kafka import KafkaProducer
from kafka.errors import KafkaError

from dataflows import lake
from dataflows.kafka.client import client_config, describe, ensure_topic
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AlertDeliveryRow, AlertRow
from dataflows.messages.schema import internal_error, now_ms
from dataflows.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "kafka"
_MAX_PENDING = 10_000
"""Events waiting for the broker at most; beyond, the oldest is recorded as failed."""
_MAX_ATTEMPTS = 5
"""Sends of one event (each retried by the producer for `_DELIVERY_TIMEOUT_MS`)."""
_DELIVERY_TIMEOUT_MS = 60_000
_MAX_BLOCK_MS = 500
_CONNECT_TIMEOUT_MS = 2_000
"""How long one try to reach the alerts broker may hold the flow up."""
_MAX_BACKOFF_S = 30.0
_RECORD_EVERY_S = 2.0
_CLOSE_PATIENCE_S = 30.0
"""How long a stopping flow waits for the broker to take its last alert events."""


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _closed(
    alert_id: str, sensor_id: str, closed: int, peak: float, metrics: str, n: int, level: str
) -> dict:
    return {
        "event_id": f"{alert_id}:closed",
        "event": "closed",
        "alert_id": alert_id,
        "sensor_id": sensor_id,
        "closed_at": _iso(closed),
        "peak_score": peak,
        "metrics": metrics.split(","),
        "anomalous_readings": n,
        "severity": level,
    }


def _opened(row: AlertRow) -> dict:
    return {
        "event_id": f"{row.alert_id}:opened",
        "event": "opened",
        "alert_id": row.alert_id,
        "sensor_id": row.sensor_id,
        "sensor_type": row.sensor_type,
        "kind": row.kind,
        "metrics": row.metrics.split(","),
        "opened_at": _iso(row.opened_at),
        "score": row.peak_score,
        "detector": row.detector,
        "severity": row.severity,
        "model_version": row.model_version,
        "detail": row.detail,
    }


def alert_events(rows: Rows) -> list[dict]:
    """The alert changes in `rows` as JSON-ready events, each with its `event_id`.

    A row that cannot be turned into an event gives a `failed` one, recorded as such.

    >>> from dataflows.lake.tables import AlertClosure, AlertRow
    >>> opened = AlertRow("s@0", "s", "noise", "anomaly", "laeq", 0, None, 0.9, 1, "d", "minor",
    ...                   "v", None)
    >>> rows = Rows(alerts=[opened], alert_closures=[AlertClosure("s@0", 60000, 0.95, "laeq", 2,
    ...                                                           "major")])
    >>> [e["event_id"] for e in alert_events(rows)]
    ['s@0:opened', 's@0:closed']
    """
    events = []
    for row in rows.alerts:
        try:
            events.append(_opened(row))
            if row.closed_at is not None:  # e.g. a dropout, known once the sensor is back
                events.append(
                    _closed(
                        row.alert_id,
                        row.sensor_id,
                        row.closed_at,
                        row.peak_score,
                        row.metrics,
                        row.anomalous_readings,
                        row.severity,
                    )
                )
        except Exception as error:  # the row's fault: recorded as a failed delivery
            events.append(_unbuildable(row, error))
    for closure in rows.alert_closures:
        try:
            sensor_id = closure.alert_id.rsplit("@", 1)[0]
            events.append(
                _closed(
                    closure.alert_id,
                    sensor_id,
                    closure.closed_at,
                    closure.peak_score,
                    closure.metrics,
                    closure.anomalous_readings,
                    closure.severity,
                )
            )
        except Exception as error:
            events.append(_unbuildable(closure, error))
    return events


def _unbuildable(row: tuple, error: Exception) -> dict:
    alert_id = str(row[0]) if row else "?"
    return {
        "event_id": f"{alert_id}:unbuildable",
        "alert_id": alert_id,
        "failed": internal_error(error),
    }


def keyed_events(key_rows: tuple[str, Rows]) -> list[tuple[str, dict]]:
    """`alert_events` of a step's keyed rows, keyed for the sink."""
    return [(key_rows[0], event) for event in alert_events(key_rows[1])]


class KafkaAlertSink(FixedPartitionedSink[dict, list]):
    """Sends each alert event to `CITY_KAFKA_ALERTS_TOPIC` (one partition of the sink)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def list_parts(self) -> list[str]:
        return ["alerts"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: list | None) -> _AlertPartition:
        return _AlertPartition(self.settings, resume_state or [])


class _AlertPartition(StatefulSinkPartition[dict, list]):
    def __init__(self, settings: Settings, pending: list[dict]) -> None:
        servers = settings.kafka_alerts_bootstrap_servers or settings.kafka_bootstrap_servers
        self.settings = replace(settings, kafka_bootstrap_servers=servers)
        self.topic = settings.kafka_alerts_topic
        self.where = describe(self.settings)
        self.pending: dict[str, dict] = {event["event_id"]: event for event in pending}
        self.attempts: dict[str, int] = {}
        self.in_flight: set[str] = set()
        self.outcomes: queue.SimpleQueue[tuple[str, BaseException | None]] = queue.SimpleQueue()
        self.producer: KafkaProducer | None = None
        self.failures = 0
        self.retry_at = 0.0
        self._log = _DeliveryLog(self.settings)
        # connect now, before the flow's data arrives (creating the topic takes seconds);
        # if the broker is not there, the sink backs off and the flow starts anyway
        self._connect()
        self._pump()

    def write_batch(self, items: list[dict]) -> None:
        deliveries: list[AlertDeliveryRow] = []
        for event in items:
            if "failed" in event:
                deliveries.append(self._delivery(event, "failed", event["failed"]))
                continue
            self.pending.setdefault(event["event_id"], event)
            if len(self.pending) > _MAX_PENDING:  # the oldest that is not on its way
                oldest = next((i for i in self.pending if i not in self.in_flight), None)
                if oldest is None:
                    continue
                dropped = self.pending.pop(oldest)
                why = f"more than {_MAX_PENDING} events waited for {self.where}"
                log.error("alert event %s not delivered: %s", oldest, why)
                deliveries.append(self._delivery(dropped, "failed", why))
        self._record(deliveries)
        self._pump()

    def _connect(self) -> bool:
        try:
            partitions = self.settings.kafka_partitions
            ensure_topic(self.settings, self.topic, partitions, timeout_ms=_CONNECT_TIMEOUT_MS)
            self.producer = KafkaProducer(
                **client_config(self.settings),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                max_block_ms=_MAX_BLOCK_MS,
                delivery_timeout_ms=_DELIVERY_TIMEOUT_MS,
                request_timeout_ms=min(30_000, _DELIVERY_TIMEOUT_MS - 100),
                bootstrap_timeout_ms=_CONNECT_TIMEOUT_MS,
            )
        except (KafkaError, OSError, RuntimeError) as error:
            self._back_off(f"cannot reach {self.where}: {error}")
            return False
        if self.failures:
            log.warning("alerts topic %s at %s reachable again", self.topic, self.where)
        self.failures = 0
        return True

    def _back_off(self, why: str) -> None:
        self.failures += 1
        wait = min(_MAX_BACKOFF_S, 0.5 * 2 ** min(self.failures - 1, 6))
        log.warning("alerts: %s; %d events wait, retrying in %.1f s", why, len(self.pending), wait)
        self.retry_at = time.monotonic() + wait

    def _pump(self) -> None:
        """Collect the broker's answers, then send what waits (unless backing off)."""
        self._collect()
        if not self.pending or time.monotonic() < self.retry_at:
            return
        if self.producer is None and not self._connect():
            return
        assert self.producer is not None
        for event_id, event in list(self.pending.items()):
            if event_id in self.in_flight:
                continue
            key = str(event.get("sensor_id", "")).encode()
            try:
                future = self.producer.send(self.topic, key=key, value=json.dumps(event).encode())
            except KafkaError as error:  # no broker to take it now: later, without blocking
                self._back_off(f"cannot send to {self.where}: {error}")
                return
            self.in_flight.add(event_id)
            future.add_callback(lambda _, i=event_id: self.outcomes.put((i, None)))
            future.add_errback(lambda error, i=event_id: self.outcomes.put((i, error)))

    def _collect(self) -> None:
        deliveries: list[AlertDeliveryRow] = []
        while True:
            try:
                event_id, error = self.outcomes.get_nowait()
            except queue.Empty:
                break
            self.in_flight.discard(event_id)
            event = self.pending.get(event_id)
            if event is None:
                continue
            if error is None:
                del self.pending[event_id]
                self.attempts.pop(event_id, None)
                deliveries.append(self._delivery(event, "sent", None))
                continue
            attempts = self.attempts[event_id] = self.attempts.get(event_id, 0) + 1
            if attempts >= _MAX_ATTEMPTS:
                del self.pending[event_id]
                del self.attempts[event_id]
                why = f"{attempts} sends failed, the last: {error}"
                log.error("alert event %s not delivered to %s: %s", event_id, self.where, why)
                deliveries.append(self._delivery(event, "failed", why))
        self._record(deliveries)

    def _delivery(self, event: dict, status: str, detail: str | None) -> AlertDeliveryRow:
        return AlertDeliveryRow(
            event["event_id"], event.get("alert_id"), CHANNEL, status, now_ms(), detail
        )

    def _record(self, deliveries: list[AlertDeliveryRow]) -> None:
        if deliveries:
            self._log.add(deliveries)

    def snapshot(self) -> list:
        """The events the broker has not acknowledged yet (sent again after a crash)."""
        self._pump()
        return list(self.pending.values())

    def close(self) -> None:
        deadline = time.monotonic() + _CLOSE_PATIENCE_S
        while self.pending and time.monotonic() < deadline:
            self._pump()
            if self.producer is not None:
                with contextlib.suppress(KafkaError):  # not yet: try again until the deadline
                    self.producer.flush(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            else:
                time.sleep(0.2)
        self._collect()
        if self.pending:
            why = f"the flow stopped before {self.where} took it"
            log.error("%d alert events not delivered: %s", len(self.pending), why)
            self._record([self._delivery(e, "failed", why) for e in self.pending.values()])
            self.pending.clear()
        if self.producer is not None:
            self.producer.close(timeout=5)
        self._log.close()


class _DeliveryLog:
    """Writes delivery outcomes to the lake from a thread of its own, in batches.

    A copy already in the lake (an event delivered again after a restart) is not written
    again. A failed write is logged and the flow goes on: the outcome is in the log line.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._queue: queue.SimpleQueue[list[AlertDeliveryRow] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="alert-deliveries", daemon=True)
        self._thread.start()

    def add(self, deliveries: list[AlertDeliveryRow]) -> None:
        self._queue.put(deliveries)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        con = None
        stopping = False
        while not stopping:
            batch = self._queue.get()
            if batch is None:
                break
            deadline = time.monotonic() + _RECORD_EVERY_S
            while time.monotonic() < deadline:  # gather what comes within the interval
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch += more
            try:
                address = lake.LakeAddress.from_settings(self.settings)
                con = con or lake.connect(address)
                lake.write(con, Rows(), address, Rows(alert_deliveries=batch))
            except Exception as error:  # the lake sink stops the flow if the lake is gone
                log.error("could not record %d alert deliveries: %s", len(batch), error)
        if con is not None:
            con.close()
