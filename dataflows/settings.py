"""All configuration, read once from `CITY_*` environment variables.

Nothing else in the project reads the environment or hard-codes a path or host:
every module takes a `Settings`.

>>> s = Settings.from_env({"CITY_SIM_SENSORS": "50", "CITY_SIM_HOURS": "2"})
>>> s.sim_sensors, s.sim_hours, s.sim_speedup
(50, 2.0, 1.0)
>>> Settings.from_env({"CITY_SIM_SENSORS": "lots"})
Traceback (most recent call last):
...
ValueError: CITY_SIM_SENSORS must be an integer, got 'lots'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dataflows.flow.alerting import AlertPolicy
from dataflows.messages.limits import MessageLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAKE = PROJECT_ROOT / "data" / "lake"


@dataclass(frozen=True)
class Settings:
    """Run-time configuration of flows, lake and dashboard."""

    lake: Path = DEFAULT_LAKE
    sim_sensors: int = 200
    sim_hours: float | None = None
    sim_speedup: float = 1.0
    sim_seed: int = 42
    sim_start: datetime | None = None
    sim_backfill_hours: float = 0.0
    sim_partitions: int = 4
    sim_fault_rate: float = 1.0
    sim_assets: int = 40
    sim_asset_history_days: float = 0.0
    maintenance_horizon_h: float = 168.0
    maintenance_alert_prob: float = 0.5
    city_event_min_sensors: int = 3
    city_event_window_s: float = 1800.0
    allowed_lateness_s: float = 120.0
    alert_recovery_s: float = 300.0
    alert_min_duration_s: float = 60.0
    alert_clear_score: float = 0.5
    alert_cooldown_s: float = 900.0
    sink_flush_s: float = 0.5
    sink_max_rows: int = 200_000
    sink_partitions: int = 1
    compact_every_s: float = 600.0
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8501
    dashboard_refresh_s: float = 5.0
    map_style: str = "schematic"
    source: str = "simulator"
    recovery: bool = True
    recovery_dir: Path = PROJECT_ROOT / "data" / "recovery"
    snapshot_s: float = 5.0
    retention_readings_days: float = 30.0
    retention_aggregates_days: float = 400.0
    retention_dead_letters_days: float = 30.0
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_readings_topic: str = "city.readings"
    kafka_alerts_topic: str = "city.alerts"
    kafka_partitions: int = 4
    kafka_start_offset: str = "earliest"
    kafka_stop_at_end: bool = False
    max_future_s: float = 86_400.0
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_port: int = 9092
    kafka_home: Path = PROJECT_ROOT / "data" / "kafka"
    kafka_alerts_bootstrap_servers: str | None = None  # None: the readings' brokers
    kafka_allow_recorded: bool = False
    max_message_bytes: int = 65_536
    max_metrics: int = 64
    state_ttl_s: float = 7 * 86_400.0
    clock_jump_s: float = 3_600.0
    clock_confirm_readings: int = 2
    dead_letters_per_minute: int = 10
    dead_letters_max_per_minute: int = 1_000
    maintenance_max_pending: int = 20_000
    log_level: str = "INFO"

    def secrets(self) -> tuple[str, ...]:
        """The secret values of these settings, which no log line may show."""
        return tuple(s for s in (self.kafka_sasl_password,) if s)

    def message_limits(self, source: str) -> MessageLimits:
        """What one message from `source` ("kafka", "simulator", "replay") may cost."""
        return MessageLimits(
            max_bytes=self.max_message_bytes,
            max_metrics=self.max_metrics,
            allow_recorded=source != "kafka" or self.kafka_allow_recorded,
        )

    def alert_policy(self) -> AlertPolicy:
        """The alert lifecycle these settings ask for."""
        return AlertPolicy(
            min_duration_ms=int(self.alert_min_duration_s * 1000),
            recovery_ms=int(self.alert_recovery_s * 1000),
            clear_score=self.alert_clear_score,
            cooldown_ms=int(self.alert_cooldown_s * 1000),
        )

    def maintenance_alert_policy(self) -> AlertPolicy:
        """The lifecycle of maintenance alerts, on the failure probability.

        They open after 3 h at or above `maintenance_alert_prob` (at once from 0.95), close
        after 12 h below 0.6 of it, and open at most once a day per asset.
        """
        return AlertPolicy(
            min_duration_ms=3 * 3_600_000,
            recovery_ms=12 * 3_600_000,
            clear_score=0.6 * self.maintenance_alert_prob,
            cooldown_ms=24 * 3_600_000,
            critical_score=max(0.95, self.maintenance_alert_prob),
        )

    def __post_init__(self) -> None:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if self.kafka_sasl_mechanism and not sasl:
            raise ValueError(
                "CITY_KAFKA_SASL_MECHANISM needs CITY_KAFKA_SECURITY_PROTOCOL SASL_PLAINTEXT"
                f" or SASL_SSL, got {self.kafka_security_protocol}"
            )
        if sasl and not self.kafka_sasl_mechanism:
            raise ValueError(
                f"CITY_KAFKA_SECURITY_PROTOCOL {self.kafka_security_protocol} needs"
                " CITY_KAFKA_SASL_MECHANISM (e.g. PLAIN or SCRAM-SHA-512)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: `os.environ`); unset keys keep their defaults."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        return cls(
            lake=Path(reader.text("CITY_LAKE", str(DEFAULT_LAKE))).expanduser(),
            sim_sensors=reader.integer("CITY_SIM_SENSORS", cls.sim_sensors, minimum=0),
            sim_hours=reader.optional_number("CITY_SIM_HOURS"),
            sim_speedup=reader.number("CITY_SIM_SPEEDUP", cls.sim_speedup, minimum=0.0),
            sim_seed=reader.integer("CITY_SIM_SEED", cls.sim_seed, minimum=0),
            sim_start=reader.timestamp("CITY_SIM_START"),
            sim_backfill_hours=reader.number("CITY_SIM_BACKFILL_HOURS", 0.0, minimum=0.0),
            sim_partitions=reader.integer("CITY_SIM_PARTITIONS", cls.sim_partitions, minimum=1),
            sim_fault_rate=reader.number("CITY_SIM_FAULT_RATE", cls.sim_fault_rate, minimum=0.0),
            sim_assets=reader.integer("CITY_SIM_ASSETS", cls.sim_assets, minimum=0),
            sim_asset_history_days=reader.number(
                "CITY_SIM_ASSET_HISTORY_DAYS", cls.sim_asset_history_days, minimum=0.0
            ),
            maintenance_horizon_h=reader.number(
                "CITY_MAINTENANCE_HORIZON_H", cls.maintenance_horizon_h, minimum=1.0
            ),
            city_event_min_sensors=reader.integer(
                "CITY_EVENT_MIN_SENSORS", cls.city_event_min_sensors, minimum=2
            ),
            city_event_window_s=reader.number(
                "CITY_EVENT_WINDOW_S", cls.city_event_window_s, minimum=0.0
            ),
            maintenance_alert_prob=reader.number(
                "CITY_MAINTENANCE_ALERT_PROB", cls.maintenance_alert_prob, minimum=0.0, maximum=1.0
            ),
            allowed_lateness_s=reader.number(
                "CITY_ALLOWED_LATENESS_S", cls.allowed_lateness_s, minimum=0.0
            ),
            alert_recovery_s=reader.number(
                "CITY_ALERT_RECOVERY_S", cls.alert_recovery_s, minimum=0.0
            ),
            alert_min_duration_s=reader.number(
                "CITY_ALERT_MIN_DURATION_S", cls.alert_min_duration_s, minimum=0.0
            ),
            alert_clear_score=reader.number(
                "CITY_ALERT_CLEAR_SCORE", cls.alert_clear_score, minimum=0.0, maximum=1.0
            ),
            alert_cooldown_s=reader.number(
                "CITY_ALERT_COOLDOWN_S", cls.alert_cooldown_s, minimum=0.0
            ),
            sink_flush_s=reader.number("CITY_SINK_FLUSH_S", cls.sink_flush_s, minimum=0.0),
            sink_max_rows=reader.integer("CITY_SINK_MAX_ROWS", cls.sink_max_rows, minimum=1),
            sink_partitions=reader.integer("CITY_SINK_PARTITIONS", cls.sink_partitions, minimum=1),
            compact_every_s=reader.number("CITY_COMPACT_EVERY_S", cls.compact_every_s, minimum=0.0),
            dashboard_host=reader.text("CITY_DASHBOARD_HOST", cls.dashboard_host),
            dashboard_port=reader.integer(
                "CITY_DASHBOARD_PORT", cls.dashboard_port, minimum=1, maximum=65_535
            ),
            dashboard_refresh_s=reader.number(
                "CITY_DASHBOARD_REFRESH_S", cls.dashboard_refresh_s, minimum=0.5
            ),
            map_style=reader.text("CITY_MAP_STYLE", cls.map_style),
            source=reader.choice("CITY_SOURCE", cls.source, ("simulator", "kafka")),
            recovery=reader.flag("CITY_RECOVERY", cls.recovery),
            recovery_dir=Path(reader.text("CITY_RECOVERY_DIR", str(cls.recovery_dir))).expanduser(),
            snapshot_s=reader.number("CITY_SNAPSHOT_S", cls.snapshot_s, minimum=0.1),
            retention_readings_days=reader.number(
                "CITY_RETENTION_READINGS_DAYS", cls.retention_readings_days, minimum=0.0
            ),
            retention_aggregates_days=reader.number(
                "CITY_RETENTION_AGGREGATES_DAYS", cls.retention_aggregates_days, minimum=0.0
            ),
            retention_dead_letters_days=reader.number(
                "CITY_RETENTION_DEAD_LETTERS_DAYS", cls.retention_dead_letters_days, minimum=0.0
            ),
            kafka_bootstrap_servers=reader.text(
                "CITY_KAFKA_BOOTSTRAP_SERVERS", cls.kafka_bootstrap_servers
            ),
            kafka_readings_topic=reader.text("CITY_KAFKA_READINGS_TOPIC", cls.kafka_readings_topic),
            kafka_alerts_topic=reader.text("CITY_KAFKA_ALERTS_TOPIC", cls.kafka_alerts_topic),
            kafka_partitions=reader.integer("CITY_KAFKA_PARTITIONS", cls.kafka_partitions, 1),
            kafka_start_offset=reader.choice(
                "CITY_KAFKA_START_OFFSET", cls.kafka_start_offset, ("earliest", "latest")
            ),
            kafka_stop_at_end=reader.flag("CITY_KAFKA_STOP_AT_END", cls.kafka_stop_at_end),
            max_future_s=reader.number("CITY_MAX_FUTURE_S", cls.max_future_s, minimum=0.0),
            kafka_security_protocol=reader.choice(
                "CITY_KAFKA_SECURITY_PROTOCOL",
                cls.kafka_security_protocol,
                ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
            ),
            kafka_sasl_mechanism=reader.optional_text("CITY_KAFKA_SASL_MECHANISM"),
            kafka_sasl_username=reader.optional_text("CITY_KAFKA_SASL_USERNAME"),
            kafka_sasl_password=reader.secret("CITY_KAFKA_SASL_PASSWORD"),
            kafka_ssl_cafile=reader.optional_text("CITY_KAFKA_SSL_CAFILE"),
            kafka_ssl_certfile=reader.optional_text("CITY_KAFKA_SSL_CERTFILE"),
            kafka_ssl_keyfile=reader.optional_text("CITY_KAFKA_SSL_KEYFILE"),
            # the broker's controller listens on the next port
            kafka_port=reader.integer("CITY_KAFKA_PORT", cls.kafka_port, minimum=1, maximum=65_534),
            kafka_home=Path(reader.text("CITY_KAFKA_HOME", str(cls.kafka_home))).expanduser(),
            kafka_alerts_bootstrap_servers=reader.optional_text(
                "CITY_KAFKA_ALERTS_BOOTSTRAP_SERVERS"
            ),
            kafka_allow_recorded=reader.flag("CITY_KAFKA_ALLOW_RECORDED", cls.kafka_allow_recorded),
            max_message_bytes=reader.integer(
                "CITY_MAX_MESSAGE_BYTES", cls.max_message_bytes, minimum=256
            ),
            max_metrics=reader.integer("CITY_MAX_METRICS", cls.max_metrics, minimum=1),
            state_ttl_s=reader.number("CITY_STATE_TTL_S", cls.state_ttl_s, minimum=1.0),
            clock_jump_s=reader.number("CITY_CLOCK_JUMP_S", cls.clock_jump_s, minimum=1.0),
            clock_confirm_readings=reader.integer(
                "CITY_CLOCK_CONFIRM_READINGS", cls.clock_confirm_readings, minimum=1
            ),
            dead_letters_per_minute=reader.integer(
                "CITY_DEAD_LETTERS_PER_MINUTE", cls.dead_letters_per_minute, minimum=1
            ),
            dead_letters_max_per_minute=reader.integer(
                "CITY_DEAD_LETTERS_MAX_PER_MINUTE", cls.dead_letters_max_per_minute, minimum=1
            ),
            maintenance_max_pending=reader.integer(
                "CITY_MAINTENANCE_MAX_PENDING", cls.maintenance_max_pending, minimum=100
            ),
            log_level=reader.choice(
                "CITY_LOG_LEVEL",
                cls.log_level,
                ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                upper=True,
            ),
        )


class _Reader:
    """Parses environment values with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

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
            raise ValueError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        raw = self._raw(key)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{key} must be true or false, got {raw!r}")

    def secret(self, key: str) -> str | None:
        """A secret from `KEY`, or from the file named by `KEY_FILE` (never echoed)."""
        value = self._raw(key)
        path = self._raw(f"{key}_FILE")
        if value is not None and path is not None:
            raise ValueError(f"set {key} or {key}_FILE, not both")
        if path is not None:
            try:
                return Path(path).expanduser().read_text().strip()
            except OSError as error:
                raise ValueError(f"{key}_FILE: cannot read {path}: {error.strerror}") from None
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
            raise ValueError(f"{key} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"{key} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{key} must be <= {maximum}, got {value}")
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
            raise ValueError(f"{key} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{key} must be <= {maximum}, got {value}")
        return value

    def optional_number(self, key: str) -> float | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{key} must be a finite number, got {raw!r}")
        return value

    def timestamp(self, key: str) -> datetime | None:
        raw = self._raw(key)
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{key} must be an ISO 8601 timestamp, got {raw!r}") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
