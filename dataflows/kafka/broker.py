"""A local single-node Apache Kafka broker (KRaft), from the official artifacts on Maven Central.

`just kafka` / `python -m dataflows.cli.kafka_broker start` fetches the broker's jars with `mvn`
(cached in `~/.m2` and copied once under `data/kafka/`), formats the storage on first use,
starts the broker on 127.0.0.1 (`CITY_KAFKA_PORT`, controller on the next port), logs to
`data/kafka/logs/server.log` and waits until it answers. `stop` stops it; `status` tells.
The test suite starts and stops its own broker with the same code.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dataflows.servers import maven, processes
from dataflows.settings import Settings

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"


@dataclass(frozen=True)
class Broker:
    """Where a local broker lives and listens."""

    home: Path
    port: int = 9092
    host: str = "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def lib(self) -> Path:
        return self.home / f"lib-{KAFKA_VERSION}"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @classmethod
    def from_settings(cls, settings: Settings) -> Broker:
        return cls(settings.kafka_home, settings.kafka_port)


def fetch_jars(broker: Broker) -> Path:
    """The broker's runtime jars, fetched from Maven Central with `mvn` on first use."""
    return maven.fetch_jars(
        broker.lib,
        f"Apache Kafka {KAFKA_VERSION}",
        [
            ("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
            ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ],
    )


def _write_config(broker: Broker) -> tuple[Path, Path]:
    (broker.home / "logs").mkdir(parents=True, exist_ok=True)
    controller = broker.port + 1
    server = broker.home / "server.properties"
    server.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{broker.host}:{controller}",
                f"listeners=PLAINTEXT://{broker.host}:{broker.port},"
                f"CONTROLLER://{broker.host}:{controller}",
                f"advertised.listeners=PLAINTEXT://{broker.host}:{broker.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={broker.data}",
                "num.partitions=4",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "message.max.bytes=1048588",
                "",
            ]
        )
    )
    logging = broker.home / "log4j2.properties"
    logging.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.file.type = File",
                "appender.file.name = FILE",
                f"appender.file.fileName = {broker.log_file}",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                "rootLogger.level = INFO",
                "rootLogger.appenderRef.file.ref = FILE",
                "",
            ]
        )
    )
    return server, logging


def _java(broker: Broker, logging: Path, *args: str) -> list[str]:
    return maven.java(
        "-Xms256m",
        "-Xmx1g",
        f"-Dlog4j2.configurationFile={logging}",
        "-cp",
        f"{broker.lib}/*",
        *args,
    )


def running_pid(broker: Broker) -> int | None:
    """Pid of the server started from `broker.home`, if it is alive."""
    return processes.running_pid(broker.pid_file)


def answers(broker: Broker, timeout_s: float = 2.0) -> bool:
    """Whether a Kafka broker answers metadata requests at `broker.bootstrap`."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:  # a closed port answers at once; only then ask Kafka itself
        socket.create_connection((broker.host, broker.port), timeout=timeout_s).close()
    except OSError:
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=broker.bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def start(broker: Broker, timeout_s: float = 90.0) -> None:
    """Start the broker (fetching and formatting on first use) and wait until it answers."""
    if running_pid(broker) is not None and answers(broker):
        print(f"Kafka is already running at {broker.bootstrap}", file=sys.stderr)
        return
    fetch_jars(broker)
    server, logging = _write_config(broker)
    if not (broker.data / "meta.properties").exists():
        cluster = str(uuid.uuid4())  # any id: a single node formats its own storage
        cluster_id = _base64_uuid(cluster)
        result = subprocess.run(
            _java(
                broker,
                logging,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # an id may start with "-"
                "-c",
                str(server),
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SystemExit(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
    out = open(broker.home / "logs" / "stdout.log", "ab")  # noqa: SIM115 - owned by the broker
    process = subprocess.Popen(
        _java(broker, logging, "kafka.Kafka", str(server)),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal does not reach the broker
    )
    out.close()
    broker.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Kafka exited ({process.returncode}); see {broker.log_file}")
        if answers(broker):
            print(
                f"Kafka {KAFKA_VERSION} is up at {broker.bootstrap} (logs: {broker.log_file})",
                file=sys.stderr,
            )
            return
        time.sleep(0.5)
    stop(broker)
    raise SystemExit(f"Kafka did not answer within {timeout_s:g} s; see {broker.log_file}")


def stop(broker: Broker, timeout_s: float = 30.0) -> bool:
    """Stop the server started from `broker.home`; whether one was running."""
    return processes.stop_pid(broker.pid_file, timeout_s)


def free_port_pair() -> int:
    """A free loopback port whose next port is free too (broker and controller listeners)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports")


def _base64_uuid(text: str) -> str:
    import base64

    raw = uuid.UUID(text).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
