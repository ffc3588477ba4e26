"""All configuration, read once from `CITY_*` environment variables, each declared once.

Every setting is one field of `Settings` declared with `setting(...)`: its variable, its
bounds and a one-line doc. Reading the environment, checking bounds and the configuration
reference of the docs (`markdown()`, checked by a test) all come from that declaration.
Nothing else in the project reads the environment or hard-codes a path or host: every
module takes a `Settings`.

>>> s = Settings.from_env({"CITY_SIM_SENSORS": "50", "CITY_SIM_HOURS": "2"})
>>> s.sim_sensors, s.sim_hours, s.sim_speedup
(50, 2.0, 1.0)
>>> Settings.from_env({"CITY_SIM_SENSORS": "lots"})
Traceback (most recent call last):
...
dataflows.settings.SettingError: CITY_SIM_SENSORS must be an integer, got 'lots'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataflows.messages.limits import MessageLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAKE = PROJECT_ROOT / "data" / "lake"
DEFAULT_CATALOGUE = PROJECT_ROOT / "data" / "catalogue.toml"


class SettingError(ValueError):
    """A `CITY_*` variable whose value cannot be used; the message names it."""


@dataclass(frozen=True)
class Spec:
    """How one setting is read and documented."""

    env: str
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    shown: str | None = None
    """The default as the docs show it, where the value alone would not say it."""
    group: str = "configuration"
    """The page of the docs whose table lists it: `configuration` or `kafka`."""
    secret: bool = False
    """Also read from the file named by `<ENV>_FILE`, and never shown."""


def setting(default: Any, env: str, doc: str, **spec: Any) -> Any:
    """A field of `Settings`: its default, variable, one-line doc and bounds (see `Spec`)."""
    secret = spec.get("secret", False)
    return field(default=default, repr=not secret, metadata={"setting": Spec(env, doc, **spec)})


KAFKA = {"group": "kafka"}
LAKE = {"group": "lake"}


@dataclass(frozen=True)
class Settings:
    """Run-time configuration of flows, lake and dashboard."""

    lake: Path = setting(
        DEFAULT_LAKE,
        "CITY_LAKE",
        "lake folder: `catalog.sqlite` (DuckLake catalog) and `files/` (Parquet)",
    )
    lake_catalog: str = setting(
        "",
        "CITY_LAKE_CATALOG",
        "the lake's catalog on PostgreSQL, e.g. `postgresql://city@db.example:5432/city`;"
        " unset = SQLite in `CITY_LAKE`",
        shown="unset",
        **LAKE,
    )
    lake_catalog_password: str | None = setting(
        None,
        "CITY_LAKE_CATALOG_PASSWORD",
        "the catalog's PostgreSQL password, or a file holding it; never logged nor stored",
        secret=True,
        **LAKE,
    )
    lake_data: str = setting(
        "",
        "CITY_LAKE_DATA",
        "where the lake's Parquet files go, e.g. `s3://city-lake/prod/`; unset = `files/`"
        " in `CITY_LAKE`",
        shown="unset",
        **LAKE,
    )
    s3_endpoint: str = setting(
        "",
        "CITY_S3_ENDPOINT",
        "`host:port` of an S3-compatible object store; unset = Amazon S3",
        shown="unset",
        **LAKE,
    )
    s3_region: str = setting("us-east-1", "CITY_S3_REGION", "the bucket's region", **LAKE)
    s3_url_style: str = setting(
        "auto",
        "CITY_S3_URL_STYLE",
        "`path` (`endpoint/bucket/key`) or `vhost` (`bucket.endpoint/key`); `auto` = `path`"
        " with `CITY_S3_ENDPOINT`, else `vhost`",
        choices=("auto", "path", "vhost"),
        **LAKE,
    )
    s3_use_ssl: bool = setting(True, "CITY_S3_USE_SSL", "HTTPS to the object store", **LAKE)
    s3_key_id: str | None = setting(None, "CITY_S3_KEY_ID", "the access key id", **LAKE)
    s3_secret: str | None = setting(
        None,
        "CITY_S3_SECRET",
        "the secret access key, or a file holding it; never logged nor stored",
        secret=True,
        **LAKE,
    )
    postgres_port: int = setting(
        5432,
        "CITY_POSTGRES_PORT",
        "port of the local PostgreSQL started by `just postgres`",
        minimum=1,
        maximum=65_535,
        **LAKE,
    )
    postgres_home: Path = setting(
        PROJECT_ROOT / "data" / "postgres",
        "CITY_POSTGRES_HOME",
        "where `just postgres` keeps its cluster, password and log",
        **LAKE,
    )
    s3_port: int = setting(
        9400,
        "CITY_S3_PORT",
        "port of the local S3 server started by `just s3`",
        minimum=1,
        maximum=65_535,
        **LAKE,
    )
    s3_home: Path = setting(
        PROJECT_ROOT / "data" / "s3",
        "CITY_S3_HOME",
        "where `just s3` keeps its jars, buckets, secret and log",
        **LAKE,
    )
    catalogue: Path = setting(
        DEFAULT_CATALOGUE,
        "CITY_CATALOGUE",
        "the sensor catalogue (TOML): sensor and asset types, their metrics, ranges and"
        " detectors; see docs/catalogue.md",
    )
    sim_sensors: int = setting(
        200,
        "CITY_SIM_SENSORS",
        "number of simulated sensors (tested from 10 to 100,000; 0 = assets only)",
        minimum=0,
    )
    sim_assets: int = setting(
        40,
        "CITY_SIM_ASSETS",
        "number of simulated assets (pumps, lifts, streetlights, escalators, fans in turn)",
        minimum=0,
    )
    sim_asset_history_days: float = setting(
        0.0,
        "CITY_SIM_ASSET_HISTORY_DAYS",
        "the assets start that many days before the sensors, produced at full speed",
        minimum=0.0,
        shown="`0` (`60` in `just demo`)",
    )
    maintenance_horizon_h: float = setting(
        168.0,
        "CITY_MAINTENANCE_HORIZON_H",
        "horizon of the failure probability (hours)",
        minimum=1.0,
    )
    maintenance_alert_prob: float = setting(
        0.5,
        "CITY_MAINTENANCE_ALERT_PROB",
        "failure probability at which a maintenance alert opens (after 3 h; at once from 0.95)",
        minimum=0.0,
        maximum=1.0,
    )
    sim_hours: float | None = setting(
        None,
        "CITY_SIM_HOURS",
        "simulated hours to produce, then the source ends and the flow completes; unset = forever",
        minimum=0.0,
    )
    sim_speedup: float = setting(
        1.0,
        "CITY_SIM_SPEEDUP",
        "simulated seconds per wall-clock second: `1` = real time, `0` = as fast as possible",
        minimum=0.0,
    )
    sim_seed: int = setting(
        42,
        "CITY_SIM_SEED",
        "seed: the same seed (and sensor and partition counts) gives the same stream",
        minimum=0,
    )
    sim_start: datetime | None = setting(
        None,
        "CITY_SIM_START",
        "simulated start time, ISO 8601 (e.g. `2026-01-05T00:00:00Z`); pins a run",
        shown="now",
    )
    sim_backfill_hours: float = setting(
        0.0,
        "CITY_SIM_BACKFILL_HOURS",
        "start that many hours in the past, produced at full speed, then paced",
        minimum=0.0,
        shown="`0` (`48` in `just demo`)",
    )
    sim_partitions: int = setting(
        4,
        "CITY_SIM_PARTITIONS",
        "simulator partitions (spread over workers; independent of `-w`/`-p`)",
        minimum=1,
    )
    sim_fault_rate: float = setting(
        1.0,
        "CITY_SIM_FAULT_RATE",
        "multiplier of the injected data faults (0 = a clean stream)",
        minimum=0.0,
    )
    allowed_lateness_s: float = setting(
        120.0,
        "CITY_ALLOWED_LATENESS_S",
        "event-time lateness accepted per sensor; later readings are dead-lettered",
        minimum=0.0,
    )
    state_ttl_s: float = setting(
        7 * 86_400.0,
        "CITY_STATE_TTL_S",
        "a sensor, asset or district silent this long leaves the flow's state (a returning"
        " sensor starts cold)",
        minimum=1.0,
    )
    clock_jump_s: float = setting(
        3_600.0,
        "CITY_CLOCK_JUMP_S",
        "a reading this far ahead of its sensor's latest (or 10 usual intervals) waits for"
        " confirmation",
        minimum=1.0,
    )
    clock_confirm_readings: int = setting(
        2,
        "CITY_CLOCK_CONFIRM_READINGS",
        "readings that must go on from a jumped time before it is accepted",
        minimum=1,
    )
    max_message_bytes: int = setting(
        65_536, "CITY_MAX_MESSAGE_BYTES", "largest message accepted", minimum=256
    )
    max_metrics: int = setting(
        64, "CITY_MAX_METRICS", "most metrics per message and per sensor", minimum=1
    )
    maintenance_max_pending: int = setting(
        20_000,
        "CITY_MAINTENANCE_MAX_PENDING",
        "readings per asset waiting for their RUL label (the oldest are censored)",
        minimum=100,
    )
    maintenance_shards: int = setting(
        1,
        "CITY_MAINTENANCE_SHARDS",
        "RUL models per asset type, each learning from its share of the type's assets (more"
        " spreads the maintenance step over more workers; fixed for a recovery store's life)",
        minimum=1,
    )
    dead_letters_per_minute: int = setting(
        10,
        "CITY_DEAD_LETTERS_PER_MINUTE",
        "dead letters written per sensor and reason each minute; the rest are counted in a"
        " summary row",
        minimum=1,
    )
    dead_letters_max_per_minute: int = setting(
        1_000,
        "CITY_DEAD_LETTERS_MAX_PER_MINUTE",
        "dead letters written per lake sink partition each minute",
        minimum=1,
    )
    log_level: str = setting(
        "INFO",
        "CITY_LOG_LEVEL",
        "how much the flow logs, in upper or lower case",
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    )
    alert_min_duration_s: float = setting(
        60.0,
        "CITY_ALERT_MIN_DURATION_S",
        "anomalous readings must last this long before an alert opens (a score ≥ 0.85 opens"
        " at once)",
        minimum=0.0,
    )
    alert_clear_score: float = setting(
        0.5,
        "CITY_ALERT_CLEAR_SCORE",
        "hysteresis: an open alert stays open while scores reach this, flagged or not",
        minimum=0.0,
        maximum=1.0,
    )
    alert_recovery_s: float = setting(
        300.0,
        "CITY_ALERT_RECOVERY_S",
        "an alert closes after this long with scores below the clear score",
        minimum=0.0,
    )
    city_event_min_sensors: int = setting(
        3,
        "CITY_EVENT_MIN_SENSORS",
        "sensors of one type in one district anomalous together that make a city event",
        minimum=2,
    )
    city_event_window_s: float = setting(
        1_800.0,
        "CITY_EVENT_WINDOW_S",
        "... whose alerts opened within this long of each other",
        minimum=0.0,
    )
    alert_cooldown_s: float = setting(
        900.0,
        "CITY_ALERT_COOLDOWN_S",
        "after closing, no new alert for the sensor within this long (readings stay flagged)",
        minimum=0.0,
    )
    sink_flush_s: float = setting(
        0.5,
        "CITY_SINK_FLUSH_S",
        "the lake sink commits a micro-batch at least this often (seconds)",
        minimum=0.0,
    )
    sink_max_rows: int = setting(
        200_000, "CITY_SINK_MAX_ROWS", "... or when this many rows are buffered", minimum=1
    )
    sink_partitions: int = setting(
        1,
        "CITY_SINK_PARTITIONS",
        "lake sink partitions, spread over workers: set it to the number of workers when you"
        " scale out",
        minimum=1,
    )
    compact_every_s: float = setting(
        600.0,
        "CITY_COMPACT_EVERY_S",
        "sink partition 0 applies retention and compacts the lake this often (0 = never)",
        minimum=0.0,
    )
    recovery: bool = setting(
        True, "CITY_RECOVERY", "`just flow`/`just demo` run with Bytewax recovery"
    )
    recovery_dir: Path = setting(
        PROJECT_ROOT / "data" / "recovery",
        "CITY_RECOVERY_DIR",
        "recovery stores, one folder per source and lake",
    )
    snapshot_s: float = setting(
        5.0,
        "CITY_SNAPSHOT_S",
        "seconds between recovery snapshots (what a restart may replay)",
        minimum=0.1,
    )
    retention_readings_days: float = setting(
        30.0, "CITY_RETENTION_READINGS_DAYS", "raw readings kept (0 = forever)", minimum=0.0
    )
    retention_aggregates_days: float = setting(
        400.0, "CITY_RETENTION_AGGREGATES_DAYS", "minute aggregates kept", minimum=0.0
    )
    retention_dead_letters_days: float = setting(
        30.0, "CITY_RETENTION_DEAD_LETTERS_DAYS", "dead letters kept", minimum=0.0
    )
    retention_flow_metrics_days: float = setting(
        30.0, "CITY_RETENTION_FLOW_METRICS_DAYS", "the flow's own metrics kept", minimum=0.0
    )
    metrics_port: int = setting(
        9464,
        "CITY_METRICS_PORT",
        "port of the flow's Prometheus metrics (`/metrics`); a second process on the host takes"
        " the next free one; `0` = off",
        minimum=0,
        maximum=65_535,
    )
    metrics_host: str = setting(
        "127.0.0.1", "CITY_METRICS_HOST", "address of the metrics endpoint (loopback)"
    )
    metrics_every_s: float = setting(
        10.0,
        "CITY_METRICS_EVERY_S",
        "seconds between two samples of the flow's metrics (`flow_metrics`)",
        minimum=0.1,
    )
    dashboard_host: str = setting(
        "127.0.0.1",
        "CITY_DASHBOARD_HOST",
        "dashboard address (loopback unless told otherwise)",
    )
    dashboard_port: int = setting(
        8501, "CITY_DASHBOARD_PORT", "dashboard port", minimum=1, maximum=65_535
    )
    dashboard_refresh_s: float = setting(
        5.0, "CITY_DASHBOARD_REFRESH_S", "how often live panels refresh", minimum=0.5
    )
    alert_channels: Path | None = setting(
        None,
        "CITY_ALERT_CHANNELS",
        "notification channels (TOML: webhooks, e-mail) that `just notify` sends alert events"
        " to; see docs/alerts.md",
    )
    notify_lookback_s: float = setting(
        3600.0,
        "CITY_NOTIFY_LOOKBACK_S",
        "alert events older than this (wall clock) are not sent",
        minimum=1.0,
    )
    notify_max_attempts: int = setting(
        8,
        "CITY_NOTIFY_MAX_ATTEMPTS",
        "attempts to deliver one event to one channel before giving up (back-off 1 s doubling"
        " to 5 min)",
        minimum=1,
    )
    dashboard_actor_header: str | None = setting(
        None,
        "CITY_DASHBOARD_ACTOR_HEADER",
        "request header in which a reverse proxy with single sign-on names the user (e.g."
        " `X-Forwarded-User`): acknowledgements are signed with it; unset, the user types a"
        " name, marked unauthenticated",
    )
    map_style: str = setting(
        "schematic",
        "CITY_MAP_STYLE",
        "`schematic` (a plan of the sensors, works offline) or a Plotly map style with tiles,"
        " e.g. `carto-positron`",
    )
    source: str = setting(
        "simulator",
        "CITY_SOURCE",
        "`kafka` to read `CITY_KAFKA_READINGS_TOPIC` instead of the simulator",
        choices=("simulator", "kafka"),
        **KAFKA,
    )
    kafka_bootstrap_servers: str = setting(
        "127.0.0.1:9092", "CITY_KAFKA_BOOTSTRAP_SERVERS", "comma-separated brokers", **KAFKA
    )
    kafka_readings_topic: str = setting(
        "city.readings", "CITY_KAFKA_READINGS_TOPIC", "topic of reading messages", **KAFKA
    )
    kafka_alerts_topic: str = setting(
        "city.alerts",
        "CITY_KAFKA_ALERTS_TOPIC",
        "topic the flow publishes alert events to (`opened`, `closed`)",
        **KAFKA,
    )
    kafka_partitions: int = setting(
        4,
        "CITY_KAFKA_PARTITIONS",
        "partitions of topics created by `just produce` and the flow",
        minimum=1,
        **KAFKA,
    )
    kafka_replication: int = setting(
        1,
        "CITY_KAFKA_REPLICATION",
        "replication factor of topics created by the flow, `just kafka-topics` and `just produce`",
        minimum=1,
        **KAFKA,
    )
    kafka_create_topics: bool = setting(
        True,
        "CITY_KAFKA_CREATE_TOPICS",
        "the Kafka flow creates its readings and alerts topics when they are missing",
        **KAFKA,
    )
    kafka_start_offset: str = setting(
        "earliest",
        "CITY_KAFKA_START_OFFSET",
        "where a partition starts without a recovery snapshot",
        choices=("earliest", "latest"),
        **KAFKA,
    )
    max_future_s: float = setting(
        86_400.0,
        "CITY_MAX_FUTURE_S",
        "a Kafka reading stamped further ahead of the wall clock is dead-lettered"
        " (`future_timestamp`)",
        minimum=0.0,
        **KAFKA,
    )
    kafka_allow_recorded: bool = setting(
        False,
        "CITY_KAFKA_ALLOW_RECORDED",
        "accept messages of the replay type `recorded` from Kafka",
        **KAFKA,
    )
    kafka_alerts_bootstrap_servers: str | None = setting(
        None,
        "CITY_KAFKA_ALERTS_BOOTSTRAP_SERVERS",
        "brokers of the alerts topic",
        shown="the readings' brokers",
        **KAFKA,
    )
    kafka_stop_at_end: bool = setting(
        False,
        "CITY_KAFKA_STOP_AT_END",
        "`true`: each partition stops at the end offset it saw at start (replays, tests)",
        **KAFKA,
    )
    kafka_security_protocol: str = setting(
        "PLAINTEXT",
        "CITY_KAFKA_SECURITY_PROTOCOL",
        "how clients reach the brokers",
        choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        **KAFKA,
    )
    kafka_sasl_mechanism: str | None = setting(
        None,
        "CITY_KAFKA_SASL_MECHANISM",
        "e.g. `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` (with a `SASL_` protocol only)",
        **KAFKA,
    )
    kafka_sasl_username: str | None = setting(
        None, "CITY_KAFKA_SASL_USERNAME", "SASL user", **KAFKA
    )
    kafka_sasl_password: str | None = setting(
        None,
        "CITY_KAFKA_SASL_PASSWORD",
        "SASL password, or a file holding it; never logged nor stored",
        secret=True,
        **KAFKA,
    )
    kafka_ssl_cafile: str | None = setting(
        None, "CITY_KAFKA_SSL_CAFILE", "TLS: the CA certificates file", **KAFKA
    )
    kafka_ssl_certfile: str | None = setting(
        None, "CITY_KAFKA_SSL_CERTFILE", "TLS: the client certificate file", **KAFKA
    )
    kafka_ssl_keyfile: str | None = setting(
        None, "CITY_KAFKA_SSL_KEYFILE", "TLS: the client key file", **KAFKA
    )
    kafka_port: int = setting(
        9092,
        "CITY_KAFKA_PORT",
        "port of the local broker started by `just kafka` (its controller uses the next one)",
        minimum=1,
        maximum=65_534,
        **KAFKA,
    )
    kafka_home: Path = setting(
        PROJECT_ROOT / "data" / "kafka",
        "CITY_KAFKA_HOME",
        "where `just kafka` keeps the broker's jars, data and logs",
        **KAFKA,
    )

    def secrets(self) -> tuple[str, ...]:
        """The secret values of these settings, which no log line may show."""
        candidates = (self.kafka_sasl_password, self.lake_catalog_password, self.s3_secret)
        return tuple(s for s in candidates if s)

    def message_limits(self, source: str) -> MessageLimits:
        """What one message from `source` ("kafka", "simulator", "replay") may cost."""
        return MessageLimits(
            max_bytes=self.max_message_bytes,
            max_metrics=self.max_metrics,
            allow_recorded=source != "kafka" or self.kafka_allow_recorded,
        )

    def __post_init__(self) -> None:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if self.kafka_sasl_mechanism and not sasl:
            raise SettingError(
                "CITY_KAFKA_SASL_MECHANISM needs CITY_KAFKA_SECURITY_PROTOCOL SASL_PLAINTEXT"
                f" or SASL_SSL, got {self.kafka_security_protocol}"
            )
        if sasl and not self.kafka_sasl_mechanism:
            raise SettingError(
                f"CITY_KAFKA_SECURITY_PROTOCOL {self.kafka_security_protocol} needs"
                " CITY_KAFKA_SASL_MECHANISM (e.g. PLAIN or SCRAM-SHA-512)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: `os.environ`); unset keys keep their defaults."""
        reader = _Reader(os.environ if env is None else env)
        return cls(
            **{f.name: reader.read(f.metadata["setting"], f.type, f.default) for f in fields(cls)}
        )


def specs() -> list[tuple[str, Spec]]:
    """Every setting: its field name and how it is read and documented."""
    return [(f.name, f.metadata["setting"]) for f in fields(Settings)]


def _shown(spec: Spec, default: object) -> str:
    if spec.shown is not None:
        return spec.shown
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Path):
        return f"`{default.relative_to(PROJECT_ROOT)}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def markdown(group: str) -> str:
    """The reference table of one page of the docs (`configuration` or `kafka`)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        spec: Spec = f.metadata["setting"]
        if spec.group != group:
            continue
        name = f"`{spec.env}`"
        if spec.secret:
            name += f" / `{spec.env}_FILE`"
        doc = spec.doc
        if spec.choices:
            doc += " (one of " + ", ".join(f"`{c}`" for c in spec.choices) + ")"
        lines.append(f"| {name} | {_shown(spec, f.default)} | {doc} |")
    return "\n".join(lines)


class _Reader:
    """Parses environment values with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def read(self, spec: Spec, kind: object, default: Any) -> Any:
        """The value of one setting, by the type of its field (a string: annotations)."""
        key, low, high = spec.env, spec.minimum, spec.maximum
        if kind == "int":
            low_i = None if low is None else int(low)
            high_i = None if high is None else int(high)
            return self.integer(key, default, low_i, high_i)
        if kind == "float":
            return self.number(key, default, low, high)
        if kind == "float | None":
            value = self.optional_number(key)
            return value if value is None else self.number(key, value, low, high)
        if kind == "bool":
            return self.flag(key, default)
        if kind == "Path":
            return Path(self.text(key, str(default))).expanduser()
        if kind == "Path | None":
            text = self.optional_text(key)
            return None if text is None else Path(text).expanduser()
        if kind == "datetime | None":
            return self.timestamp(key)
        if kind == "str | None":
            return self.secret(key) if spec.secret else self.optional_text(key)
        if kind == "str" and spec.choices:
            return self.choice(key, default, spec.choices, upper=spec.env == "CITY_LOG_LEVEL")
        if kind == "str":
            return self.text(key, default)
        raise TypeError(f"setting {key}: no reader for a field of type {kind}")

    def _raw(self, key: str) -> str | None:
        value = self.env.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, key: str, default: str) -> str:
        return self._raw(key) or default

    def optional_text(self, key: str) -> str | None:
        return self._raw(key)

    def choice(self, key: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
        value = self._raw(key) or default
        if upper:
            value = value.upper()
        if value not in choices:
            raise SettingError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        raw = self._raw(key)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingError(f"{key} must be true or false, got {raw!r}")

    def secret(self, key: str) -> str | None:
        """A secret from `KEY`, or from the file named by `KEY_FILE` (never echoed)."""
        value = self._raw(key)
        path = self._raw(f"{key}_FILE")
        if value is not None and path is not None:
            raise SettingError(f"set {key} or {key}_FILE, not both")
        if path is not None:
            try:
                return Path(path).expanduser().read_text().strip()
            except OSError as error:
                raise SettingError(f"{key}_FILE: cannot read {path}: {error.strerror}") from None
        return value

    def integer(
        self, key: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self._raw(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingError(f"{key} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingError(f"{key} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingError(f"{key} must be <= {maximum}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: float,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self.optional_number(key)
        if value is None:
            return default
        if minimum is not None and value < minimum:
            raise SettingError(f"{key} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingError(f"{key} must be <= {maximum}, got {value}")
        return value

    def optional_number(self, key: str) -> float | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise SettingError(f"{key} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise SettingError(f"{key} must be a finite number, got {raw!r}")
        return value

    def timestamp(self, key: str) -> datetime | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise SettingError(f"{key} must be an ISO 8601 timestamp, got {raw!r}") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
