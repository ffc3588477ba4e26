"""The notification channels of a city, from a TOML file (`CITY_ALERT_CHANNELS`).

    [[webhook]]
    name = "operations"
    url = "https://hooks.city.example/alerts"
    secret_env = "WEBHOOK_SECRET"       # the HMAC key, read from this variable
    events = ["opened", "closed"]            # filters: empty or absent means any
    kinds = ["anomaly", "city_event"]
    severities = ["major", "critical"]
    districts = ["Centre", "Harbour"]

    [[email]]
    name = "night-shift"
    host = "smtp.city.example"
    port = 587
    starttls = true
    from = "alerts@city.example"
    to = ["night-shift@city.example"]
    username_env = "SMTP_USER"          # optional, with password_env
    password_env = "SMTP_PASSWORD"

Secrets are never in the file, only the names of the variables that hold them. Every
problem names the file and the field: `channels.toml: webhook[1].url: must be an http or
https URL`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dataflows.notify.channels import Channel, EmailChannel, Filter, WebhookChannel
from dataflows.notify.events import EVENTS

_FILTERS = ("events", "kinds", "severities", "districts")
_WEBHOOK = {"name", "url", "secret_env", "timeout_s", *_FILTERS}
_EMAIL = {"name", "host", "port", "from", "to", "starttls", "username_env", "password_env",
          "timeout_s", *_FILTERS}  # fmt: skip


class ChannelsError(ValueError):
    """A channels file that cannot be used: `file: field: problem`."""


def load_channels(path: str | Path, env: Mapping[str, str]) -> list[Channel]:
    """The channels declared in `path`, secrets read from `env`."""
    path = Path(path).expanduser()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ChannelsError(f"{path}: cannot read the channels: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ChannelsError(f"{path}: not valid TOML: {error}") from None
    return _Reader(path, env).channels(document)


class _Reader:
    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path, self.env = path, env
        self.names: set[str] = set()

    def fail(self, where: str, problem: str) -> ChannelsError:
        return ChannelsError(f"{self.path.name}: {where}: {problem}")

    def channels(self, document: dict[str, Any]) -> list[Channel]:
        unknown = sorted(set(document) - {"webhook", "email"})
        if unknown:
            raise self.fail(unknown[0], "unknown section; known: [[webhook]], [[email]]")
        found: list[Channel] = []
        for kind, build in (("webhook", self.webhook), ("email", self.email)):
            specs = document.get(kind, [])
            if not isinstance(specs, list):
                raise self.fail(kind, f"write it as [[{kind}]], one per channel")
            found += [build(f"{kind}[{i}]", spec) for i, spec in enumerate(specs)]
        return found

    def common(self, where: str, spec: dict, known: set[str]) -> tuple[str, Filter]:
        unknown = sorted(set(spec) - known)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", f"unknown field; known: {', '.join(sorted(known))}"
            )
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise self.fail(f"{where}.name", "every channel needs a name")
        if name in self.names:
            raise self.fail(f"{where}.name", f"{name!r} is the name of another channel")
        self.names.add(name)
        lists = {key: self.strings(where, spec, key) for key in _FILTERS}
        bad = sorted(set(lists["events"]) - set(EVENTS))
        if bad:
            raise self.fail(
                f"{where}.events", f"unknown event {bad[0]!r}; known: {', '.join(EVENTS)}"
            )
        return name, Filter(
            frozenset(lists["events"] or EVENTS),
            frozenset(lists["kinds"]),
            frozenset(lists["severities"]),
            frozenset(lists["districts"]),
        )

    def strings(self, where: str, spec: dict, key: str) -> list[str]:
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", "must be a list of strings")
        return value

    def secret(self, where: str, spec: dict, key: str) -> str | None:
        variable = spec.get(key)
        if variable is None:
            return None
        value = self.env.get(str(variable))
        if not value:
            raise self.fail(f"{where}.{key}", f"the variable {variable} is not set")
        return value

    def timeout(self, where: str, spec: dict) -> float:
        value = spec.get("timeout_s", 10.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 120:
            raise self.fail(f"{where}.timeout_s", "must be a number of seconds in (0, 120]")
        return float(value)

    def webhook(self, where: str, spec: Any) -> Channel:
        if not isinstance(spec, dict):
            raise self.fail(where, "must be a table")
        name, filter_ = self.common(where, spec, _WEBHOOK)
        url = spec.get("url")
        if not isinstance(url, str):
            raise self.fail(f"{where}.url", "must be an http or https URL")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise self.fail(f"{where}.url", "must be an http or https URL")
        secret = self.secret(where, spec, "secret_env")
        return WebhookChannel(
            f"webhook:{name}",
            url,
            secret.encode() if secret else None,
            filter_,
            self.timeout(where, spec),
        )

    def email(self, where: str, spec: Any) -> Channel:
        if not isinstance(spec, dict):
            raise self.fail(where, "must be a table")
        name, filter_ = self.common(where, spec, _EMAIL)
        host, port = spec.get("host"), spec.get("port", 25)
        if not isinstance(host, str) or not host:
            raise self.fail(f"{where}.host", "the SMTP server's host is missing")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65_536:
            raise self.fail(f"{where}.port", "must be a port number")
        sender, to = spec.get("from"), self.strings(where, spec, "to")
        if not isinstance(sender, str) or "@" not in sender:
            raise self.fail(f"{where}.from", "must be an e-mail address")
        if not to or not all("@" in address for address in to):
            raise self.fail(f"{where}.to", "must list at least one e-mail address")
        starttls = spec.get("starttls", False)
        if not isinstance(starttls, bool):
            raise self.fail(f"{where}.starttls", "must be true or false")
        return EmailChannel(
            f"email:{name}",
            host,
            port,
            sender,
            tuple(to),
            filter_,
            self.secret(where, spec, "username_env"),
            self.secret(where, spec, "password_env"),
            starttls,
            self.timeout(where, spec),
        )
