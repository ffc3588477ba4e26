"""Talking to Kafka: client settings, topics, and the message contract on the wire.

A reading message is UTF-8 JSON (see `dataflows.messages.schema`), keyed by the sensor id. A record
that breaks the contract becomes a dead letter whose position is `topic/partition/offset`.

>>> record = KafkaRecord("city.readings", 2, 41, b"noise-7",
...     b'{"sensor_id": "noise-7", "type": "noise", "ts": 1767600000000,'
...     b' "values": {"laeq": 55.5}}', 0)
>>> reading, rejected = decode(record)
>>> reading.values, rejected
({'laeq': 55.5}, [])
>>> decode(record._replace(value=bytes([255]) + b"{"))[1][0].reason
'bad_encoding: not UTF-8'
>>> letter = decode(record._replace(value=b"{oops"))[1][0]
>>> letter.reason.split(":")[0], letter.position
('bad_json', 'city.readings/2/41')
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, NamedTuple

from dataflows.catalogue.types import Catalogue
from dataflows.messages.limits import MessageLimits, parse_json
from dataflows.messages.schema import (
    AssetEvent,
    DeadLetter,
    Reading,
    now_ms,
    payload_text,
    validate,
)
from dataflows.settings import Settings

log = logging.getLogger(__name__)

KAFKA_LIMITS = MessageLimits(allow_recorded=False)
"""What a message from Kafka may cost by default (`Settings.message_limits`)."""


class KafkaRecord(NamedTuple):
    """One consumed record; (topic, partition, offset) identifies it for good."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int

    @property
    def source_partition(self) -> str:
        return f"{self.topic}/{self.partition}"


def client_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients: servers, security, credentials."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = settings.kafka_sasl_password
    for key, value in (
        ("ssl_cafile", settings.kafka_ssl_cafile),
        ("ssl_certfile", settings.kafka_ssl_certfile),
        ("ssl_keyfile", settings.kafka_ssl_keyfile),
    ):
        if value:
            config[key] = value
    return config


def describe(settings: Settings) -> str:
    """Where and how we connect, for log lines: never the credentials."""
    user = f" as {settings.kafka_sasl_username}" if settings.kafka_sasl_username else ""
    return f"{settings.kafka_bootstrap_servers} ({settings.kafka_security_protocol}{user})"


def ensure_topic(settings: Settings, topic: str, partitions: int, timeout_ms: int = 30_000) -> int:
    """Create `topic` with `partitions` partitions if it is missing; its partition count.

    Waits up to `timeout_ms` for the brokers to answer (`KafkaTimeoutError` after that).
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        **client_config(settings), bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms
    )
    try:
        if topic not in admin.list_topics():
            try:
                replication = settings.kafka_replication
                admin.create_topics([NewTopic(topic, partitions, replication)])
                log.info(
                    "created topic %s with %d partitions, replication %d",
                    topic,
                    partitions,
                    replication,
                )
            except TopicAlreadyExistsError:
                pass
        for _ in range(50):
            described = admin.describe_topics([topic])
            if described and described[0].get("partitions"):
                return len(described[0]["partitions"])
            time.sleep(0.1)
        raise RuntimeError(f"topic {topic} has no partitions yet")
    finally:
        admin.close()


def encode(message: Any) -> tuple[bytes | None, bytes]:
    """Key and value of a message; a non-object (a broken gateway) is sent as text.

    The key is the sensor's or the asset's id, so one device's messages stay in order.
    """
    if isinstance(message, dict):
        sensor_id = message.get("sensor_id", message.get("asset_id"))
        key = sensor_id.encode() if isinstance(sensor_id, str) else None
        return key, json.dumps(message, separators=(",", ":"), allow_nan=True).encode()
    return None, str(message).encode()


def decode(
    record: KafkaRecord,
    source: str = "kafka",
    limits: MessageLimits = KAFKA_LIMITS,
    catalogue: Catalogue | None = None,
) -> tuple[Reading | AssetEvent | None, list[DeadLetter]]:
    """The reading in a record, or dead letters saying why there is none (or only a part)."""
    origin = (record.source_partition, record.offset)
    value = record.value
    if value is None:
        reason = "missing_value: the record has no value (a tombstone?)"
    else:
        try:
            raw = parse_json(value, limits)
        except ValueError as error:
            reason = str(error)
        else:
            return validate(raw, source, origin, limits, catalogue)
    key = payload_text(record.key[:128]) if record.key else None
    position = f"{origin[0]}/{origin[1]}"
    return None, [DeadLetter(now_ms(), source, position, key, reason, payload_text(value or b""))]
