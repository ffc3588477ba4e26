"""What a command checks before it starts a flow, so that a problem is one clear line.

A bad setting, a catalogue that does not load, a Kafka broker that does not answer or a
topic that is missing would otherwise surface as a stack trace from inside Bytewax. `check`
finds them first; `dataflows.cli.console` prints any of them as one line and exits 2.
"""

from __future__ import annotations

from dataclasses import replace

from dataflows.catalogue.load import load_catalogue
from dataflows.settings import Settings

BROKER_WAIT_MS = 10_000
"""How long the check waits for a Kafka broker to answer."""


class StartupError(Exception):
    """A flow cannot start as configured; the message says why and what to change."""


def check(settings: Settings) -> None:
    """Raise what would stop the flow of `settings` at start (`CatalogueError` included).

    For the Kafka source the readings and alerts topics are created when missing
    (`CITY_KAFKA_CREATE_TOPICS`), or must exist.
    """
    load_catalogue(settings.catalogue)
    if settings.source == "kafka":
        kafka_topics(settings, create=settings.kafka_create_topics)


def kafka_topics(settings: Settings, create: bool = True) -> dict[str, int]:
    """The flow's topics and their partition counts, created if missing and `create`."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, KafkaTimeoutError

    from dataflows.kafka.client import client_config, describe, ensure_topic

    topics = {
        settings.kafka_readings_topic: settings.kafka_bootstrap_servers,
        settings.kafka_alerts_topic: settings.kafka_alerts_bootstrap_servers
        or settings.kafka_bootstrap_servers,
    }
    where = describe(settings)
    try:
        if not create:
            admin = KafkaAdminClient(
                **client_config(settings),
                bootstrap_timeout_ms=BROKER_WAIT_MS,
                request_timeout_ms=BROKER_WAIT_MS,
            )
            try:
                missing = sorted(set(topics) - set(admin.list_topics()))
            finally:
                admin.close()
            if missing:
                raise StartupError(
                    f"Kafka topic {missing[0]!r} does not exist at {where}: create it with"
                    " `just kafka-topics`, or set CITY_KAFKA_CREATE_TOPICS=true"
                )
        partitions = {}
        for topic, servers in topics.items():
            where = describe(settings) if servers == settings.kafka_bootstrap_servers else servers
            partitions[topic] = ensure_topic(
                _with_servers(settings, servers),
                topic,
                settings.kafka_partitions,
                timeout_ms=BROKER_WAIT_MS,
            )
        return partitions
    except KafkaTimeoutError:
        raise StartupError(
            f"no Kafka broker answers at {where} within {BROKER_WAIT_MS // 1000} s"
            " (CITY_KAFKA_BOOTSTRAP_SERVERS): is it running? `just kafka` starts one here"
        ) from None
    except KafkaError as error:
        raise StartupError(f"Kafka at {where}: {type(error).__name__}: {error}") from None


def _with_servers(settings: Settings, servers: str) -> Settings:
    return replace(settings, kafka_bootstrap_servers=servers)
