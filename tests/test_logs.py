"""Logging is configured once: the level from CITY_LOG_LEVEL, one line per event, no secrets."""

from __future__ import annotations

import io
import logging

import pytest

from dataflows.logs import configure_logging
from dataflows.settings import Settings


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_level_comes_from_the_settings_and_each_event_is_one_line(captured):
    secret = "pa55-w0rd"
    settings = Settings.from_env({"CITY_LOG_LEVEL": "warning", "CITY_KAFKA_SASL_PASSWORD": secret})
    configure_logging(settings, captured)
    configure_logging(settings, captured)  # again: still one handler, one line per event
    log = logging.getLogger("dataflows.example")
    log.info("not shown")
    try:
        raise ValueError(f"bad password {secret}\nsecond line")
    except ValueError:
        log.exception("could not connect with %s", secret)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1
    assert " ERROR dataflows.example: could not connect with *** | Traceback" in lines[0]
    assert "ValueError: bad password *** | second line" in lines[0]
    assert secret not in captured.getvalue()


def test_kafka_clients_chatter_shows_at_debug_only(captured):
    configure_logging(Settings(log_level="INFO"), captured)
    logging.getLogger("kafka.conn").error("connection refused")
    assert captured.getvalue() == ""
    configure_logging(Settings(log_level="DEBUG"), captured)
    logging.getLogger("kafka.conn").error("connection refused")
    assert captured.getvalue().count("\n") == 1 and "refused" in captured.getvalue()


def test_an_unknown_level_is_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="CITY_LOG_LEVEL must be one of"):
        Settings.from_env({"CITY_LOG_LEVEL": "loud"})
