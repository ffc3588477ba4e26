"""Where alert events go: a webhook (HTTP POST of JSON, signed) or e-mail (SMTP).

Every channel has a name, a filter and `send(event)`, which returns on success and raises
on failure; the notifier retries. A new kind of channel is a class with those three.

The webhook's body is the event as JSON. Its headers: `X-City-Event-Id` (the same on every
retry of one event: receivers drop duplicates by it) and `X-City-Signature: t=<unix s>,
v1=<hex>`, the HMAC-SHA256 of `<t>.<body>` with the endpoint's secret, so a receiver can
check who sent it and when:

>>> signature(b"s3cret", 1767600000, b'{"event":"opened"}')
't=1767600000,v1=7b958be16948c1c4bde488c74c3fb09029fbaabc37b9abbfdc7fe139536513ae'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from dataflows.notify.events import EVENTS


@dataclass(frozen=True)
class Filter:
    """Which events a channel gets: empty means any."""

    events: frozenset[str] = frozenset(EVENTS)
    kinds: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether `event` passes the filter.

        >>> f = Filter(kinds=frozenset({"city_event"}))
        >>> f.matches({"event": "opened", "alert": {"kind": "city_event"}})
        True
        >>> f.matches({"event": "opened", "alert": {"kind": "anomaly"}})
        False
        """
        alert = event["alert"]
        return (
            event["event"] in self.events
            and (not self.kinds or alert.get("kind") in self.kinds)
            and (not self.severities or alert.get("severity") in self.severities)
            and (not self.districts or alert.get("district") in self.districts)
        )


class Channel(Protocol):
    name: str
    filter: Filter

    def send(self, event: dict[str, Any]) -> None: ...


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-City-Signature` header of `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass
class WebhookChannel:
    """POSTs each event as JSON to `url`, signed with `secret` when there is one."""

    name: str
    url: str
    secret: bytes | None = field(default=None, repr=False)
    filter: Filter = field(default_factory=Filter)
    timeout_s: float = 10.0

    def send(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "city-stream-analytics",
            "X-City-Event-Id": event["event_id"],
        }
        if self.secret:
            headers["X-City-Signature"] = signature(self.secret, int(time.time()), body)
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(1024)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"HTTP {error.code} {error.reason}") from None


@dataclass
class EmailChannel:
    """Sends each event as an e-mail through an SMTP server."""

    name: str
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    filter: Filter = field(default_factory=Filter)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout_s: float = 10.0

    def send(self, event: dict[str, Any]) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Subject"] = subject(event)
        message["X-City-Event-Id"] = event["event_id"]
        message.set_content(text(event))
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def subject(event: dict[str, Any]) -> str:
    """A one-line summary of an event, e.g. for an e-mail subject.

    >>> subject({"event": "opened", "alert": {"kind": "anomaly", "severity": "major",
    ...          "sensor_id": "traffic-0001", "district": "Centre"}})
    '[city] anomaly opened: traffic-0001 (Centre, major)'
    """
    alert = event["alert"]
    where = ", ".join(str(part) for part in (alert.get("district"), alert.get("severity")) if part)
    return f"[city] {alert.get('kind')} {event['event']}: {alert.get('sensor_id')} ({where})"


def text(event: dict[str, Any]) -> str:
    """The body of an e-mail: who did what, then the event as JSON."""
    lines = [subject(event)]
    if event.get("actor"):
        lines.append(
            f"by {event['actor']} ({event.get('actor_source')}): {event.get('note') or ''}"
        )
    lines += ["", json.dumps(event, indent=2, ensure_ascii=False)]
    return "\n".join(lines)
