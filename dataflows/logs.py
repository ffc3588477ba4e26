r"""Logging, configured once per process: one line per event, secrets never shown.

Every command and the flow call `configure_logging` at start; `CITY_LOG_LEVEL` sets the
level (INFO by default). Each event is one line on stderr, a traceback folded into it, and
any secret of the settings (a Kafka password, say) is replaced by `***`. kafka-python's own
lines (several per lost connection) show at DEBUG only: the flow logs each problem itself.

>>> import io
>>> stream = io.StringIO()
>>> configure_logging(Settings(kafka_sasl_password="hunter2"), stream)
>>> logging.getLogger("city.example").warning("login with %s\nfailed", "hunter2")
>>> stream.getvalue().split(" ", 1)[1]
'WARNING city.example: login with *** | failed\n'
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from dataflows.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """UTC timestamps, the whole event (traceback included) on one line, secrets masked."""

    converter = time.gmtime  # type: ignore[assignment]  # the documented way to log in UTC

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        text = " | ".join(super().format(record).splitlines())
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class _CityHandler(logging.StreamHandler):
    """The one handler `configure_logging` installs (so that calling it again replaces it)."""


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every logger's events at `settings.log_level` or above to stderr, one per line."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _CityHandler)]:
        root.removeHandler(handler)
    handler = _CityHandler(stream or sys.stderr)
    handler.setFormatter(OneLineFormatter(settings.secrets()))
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level)
    root.setLevel(level)
    # kafka-python tells one lost connection in several lines at every level; the flow logs
    # each problem itself, in one line, so the client's own lines show at DEBUG only
    logging.getLogger("kafka").setLevel(level if level <= logging.DEBUG else logging.CRITICAL)
