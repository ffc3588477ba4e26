"""Alerts that reach people: webhooks to a real local HTTP server, e-mail to a real SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from dataflows import lake
from dataflows.lake import alert_actions
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AlertRow, SensorRow
from dataflows.notify.channels import EmailChannel, Filter, WebhookChannel
from dataflows.notify.config import ChannelsError, load_channels
from dataflows.notify.notifier import Notifier
from tests.conftest import ROOT
from tests.dashboard.test_browser import free_port

SECRET = b"hook-secret"


class Receiver:
    """A real HTTP server on loopback that records what it is sent; fails the first `fail`."""

    def __init__(self, fail: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                failing = len(receiver.requests) <= receiver.fail
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def alert(alert_id: str, sensor_id: str, kind: str = "anomaly", severity: str = "major",
          closed: bool = False, age_s: float = 60) -> AlertRow:  # fmt: skip
    opened = int((time.time() - age_s) * 1000)
    return AlertRow(alert_id, sensor_id, "noise", kind, "laeq", opened,
                    opened + 30_000 if closed else None, 0.97, 12, "ShiftCusum", severity,
                    "v1", None)  # fmt: skip


def city_lake(tmp_path, *alerts: AlertRow):
    path = tmp_path / "lake"
    con = lake.connect(path)
    sensors = [SensorRow("noise-1", "noise", "Centre", 52.37, 4.89, "laeq dB(A)", 0),
               SensorRow("noise-2", "noise", "Harbour", 52.38, 4.90, "laeq dB(A)", 0)]  # fmt: skip
    lake.write(con, Rows(sensors=sensors, alerts=list(alerts)), path)
    con.close()
    return path


def deliveries(path) -> list[tuple]:
    con = lake.connect(path, read_only=True)
    try:
        return con.sql(
            "SELECT event_id, channel, status, detail FROM alert_deliveries"
            " ORDER BY attempted_at, status = 'gave_up'"
        ).fetchall()
    finally:
        con.close()


def test_a_webhook_gets_each_event_signed_once_and_a_failure_is_retried(tmp_path):
    path = city_lake(tmp_path, alert("noise-1@1", "noise-1", closed=True))
    receiver = Receiver(fail=1)  # the first POST gets a 503
    try:
        hook = WebhookChannel("webhook:ops", receiver.url, SECRET)
        started = time.time()
        clock = [started]  # the notifier's clock, moved by hand: no race with a slow machine
        notifier = Notifier(path, [hook], first_retry_s=30, clock=lambda: clock[0])
        assert notifier.run_once() == {"sent": 0, "failed": 1, "gave_up": 0}
        clock[0] = started + 29
        assert notifier.run_once() == {"sent": 0, "failed": 0, "gave_up": 0}  # not due yet
        clock[0] = started + 31
        assert notifier.run_once() == {"sent": 2, "failed": 0, "gave_up": 0}  # in order
        assert notifier.run_once() == {"sent": 0, "failed": 0, "gave_up": 0}  # all delivered
    finally:
        receiver.close()
    ids = [e["event_id"] for e in receiver.events()]
    assert ids == ["noise-1@1:opened", "noise-1@1:opened", "noise-1@1:closed"]
    for headers, body in receiver.requests:
        event = json.loads(body)
        assert headers["X-City-Event-Id"] == event["event_id"]
        timestamp, mac = (part.split("=", 1)[1] for part in headers["X-City-Signature"].split(","))
        expected = hmac.new(SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(mac, expected) and abs(time.time() - int(timestamp)) < 60
    opened = receiver.events()[-2]["alert"]
    assert opened["sensor_id"] == "noise-1" and opened["district"] == "Centre"
    assert opened["metrics"] == ["laeq"] and opened["severity"] == "major"
    failed = "attempt 1: RuntimeError: HTTP 503 Service Unavailable"
    assert deliveries(path) == [
        ("noise-1@1:opened", "webhook:ops", "failed", failed),
        ("noise-1@1:opened", "webhook:ops", "sent", None),
        ("noise-1@1:closed", "webhook:ops", "sent", None),
    ]


def test_filters_route_events_by_kind_severity_district_and_event(tmp_path):
    path = city_lake(
        tmp_path,
        alert("noise-1@1", "noise-1", severity="minor"),
        alert("noise-2@1", "noise-2", severity="critical"),
        alert("Centre@1", "Centre", kind="city_event"),
    )
    events_hook, centre_hook, closing_hook = Receiver(), Receiver(), Receiver()
    try:
        channels = [
            WebhookChannel("webhook:events", events_hook.url,
                           filter=Filter(kinds=frozenset({"city_event"}))),
            WebhookChannel("webhook:centre", centre_hook.url,
                           filter=Filter(districts=frozenset({"Centre"}),
                                         severities=frozenset({"minor", "major"}))),
            WebhookChannel("webhook:closing", closing_hook.url,
                           filter=Filter(events=frozenset({"closed"}))),
        ]  # fmt: skip
        Notifier(path, channels).run_once()
    finally:
        for server in (events_hook, centre_hook, closing_hook):
            server.close()
    assert [e["event_id"] for e in events_hook.events()] == ["Centre@1:opened"]
    assert sorted(e["event_id"] for e in centre_hook.events()) == [
        "Centre@1:opened", "noise-1@1:opened"]  # fmt: skip
    assert closing_hook.events() == []


def test_acknowledgements_and_resolutions_are_events_with_their_actor(tmp_path, receiver):
    path = city_lake(tmp_path, alert("noise-1@1", "noise-1"))
    hook = WebhookChannel("webhook:ops", receiver.url, filter=Filter(
        events=frozenset({"acknowledged", "resolved"})))  # fmt: skip
    alert_actions.record(path, ["noise-1@1"], "acknowledged", "dana", "on it",
                         actor_source="header:X-Forwarded-User")  # fmt: skip
    Notifier(path, [hook]).run_once()
    (event,) = receiver.events()
    assert event["event"] == "acknowledged" and event["event_id"].startswith(
        "noise-1@1:acknowledged:"
    )
    assert (event["actor"], event["actor_source"], event["note"]) == (
        "dana", "header:X-Forwarded-User", "on it")  # fmt: skip


def test_an_endpoint_that_never_answers_is_given_up_after_the_last_attempt(tmp_path):
    path = city_lake(tmp_path, alert("noise-1@1", "noise-1"))
    dead = WebhookChannel("webhook:dead", f"http://127.0.0.1:{free_port()}/hook", timeout_s=2)
    notifier = Notifier(path, [dead], max_attempts=2, first_retry_s=0.1)
    assert notifier.run_once()["failed"] == 1
    time.sleep(0.2)
    assert notifier.run_once() == {"sent": 0, "failed": 1, "gave_up": 1}
    time.sleep(0.5)
    assert notifier.run_once() == {"sent": 0, "failed": 0, "gave_up": 0}  # no more attempts
    assert [row[2] for row in deliveries(path)] == ["failed", "failed", "gave_up"]
    assert "Connection refused" in deliveries(path)[0][3]


def test_an_old_alert_pages_nobody(tmp_path, receiver):
    path = city_lake(tmp_path, alert("noise-1@1", "noise-1", age_s=2 * 3600))
    hook = WebhookChannel("webhook:ops", receiver.url)
    assert Notifier(path, [hook], lookback_s=3600).run_once()["sent"] == 0


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def test_an_email_channel_sends_through_a_real_smtp_server(tmp_path):
    path = city_lake(tmp_path, alert("noise-2@1", "noise-2"))
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        mail = EmailChannel("email:night", "127.0.0.1", smtp.port, "alerts@city.example",
                            ("night@city.example",))  # fmt: skip
        assert Notifier(path, [mail]).run_once()["sent"] == 1
    finally:
        smtp.stop()
    ((to, message),) = mailbox.messages
    assert to == ["night@city.example"]
    assert message["Subject"] == "[city] anomaly opened: noise-2 (Harbour, major)"
    assert message["X-City-Event-Id"] == "noise-2@1:opened"
    assert '"sensor_id": "noise-2"' in message.get_payload()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[webhook]]\nname = "ops"\nurl = "ftp://x"\n', r"webhook\[0\].url: must be an http"),
        ('[[webhook]]\nname = "ops"\nurl = "http://x/h"\nsecret_env = "HOOK_KEY"\n',
         r"webhook\[0\].secret_env: the variable HOOK_KEY is not set"),
        ('[[email]]\nname = "n"\nhost = "h"\nfrom = "a@b"\nto = []\n',
         r"email\[0\].to: must list at least one"),
        ('[[webhook]]\nname = "ops"\nurl = "http://x/h"\nevents = ["exploded"]\n',
         r"webhook\[0\].events: unknown event 'exploded'"),
        ('[[webhook]]\nname = "a"\nurl = "http://x/h"\n[[webhook]]\nname = "a"\nurl = "http://y"\n',
         r"webhook\[1\].name: 'a' is the name of another channel"),
    ],
)  # fmt: skip
def test_the_channels_file_is_checked_with_the_field_named(tmp_path, text, problem):
    path = tmp_path / "channels.toml"
    path.write_text(text)
    with pytest.raises(ChannelsError, match=f"^channels.toml: {problem}"):
        load_channels(path, {})


def test_a_webhook_secret_comes_from_the_environment_and_is_never_shown(tmp_path):
    path = tmp_path / "channels.toml"
    path.write_text('[[webhook]]\nname = "ops"\nurl = "http://x/h"\nsecret_env = "HOOK_KEY"\n')
    (hook,) = load_channels(path, {"HOOK_KEY": "s3cr3t-value"})
    assert hook.secret == b"s3cr3t-value" and "s3cr3t" not in repr(hook)


def test_just_notify_delivers_from_the_lake(tmp_path, receiver):
    path = city_lake(tmp_path, alert("noise-1@1", "noise-1"))
    channels = tmp_path / "channels.toml"
    channels.write_text(f'[[webhook]]\nname = "ops"\nurl = "{receiver.url}"\nsecret_env = "K"\n')
    env = {"PATH": "/usr/bin:/bin", "CITY_LAKE": str(path), "CITY_ALERT_CHANNELS": str(channels),
           "K": "secret"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "dataflows.cli.notify", "--once"], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[notify] sent noise-1@1:opened to webhook:ops" in result.stderr
    assert "secret" not in result.stderr
    assert [e["event_id"] for e in receiver.events()] == ["noise-1@1:opened"]
    missing = subprocess.run([sys.executable, "-m", "dataflows.cli.notify", "--once"],
                             env={**env, "K": ""}, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "[notify] error: channels.toml: webhook[0].secret_env: the variable K is not set"
    )
