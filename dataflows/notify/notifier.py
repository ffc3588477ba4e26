"""Sends the lake's alert events to the channels, at least once, retrying with back-off.

One alert's events reach a channel in order: a closing waits until the opening was sent (or
given up). Each attempt is a row of `alert_deliveries` (event id, alert, channel, `sent` /
`failed` / `gave_up`, when, detail), written in the lake with the flow's lock, so a
restarted notifier knows what is still to send: an event is due on a channel until it was
`sent` there, or failed `max_attempts` times (`gave_up`). Retries wait `first_retry_s`
doubled on each failure, at most `max_retry_s`. Events older than `lookback_s` (by the wall
clock) are not sent: a notifier started on a lake of last year's alerts does not page anyone
for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dataflows import lake
from dataflows.lake.address import Lake
from dataflows.messages.schema import internal_error
from dataflows.notify.channels import Channel
from dataflows.notify.events import alert_events

log = logging.getLogger(__name__)

FINAL = ("sent", "gave_up")


@dataclass
class Attempts:
    """What the lake says of one event on one channel."""

    failures: int = 0
    last_ms: int = 0
    done: bool = False


class Notifier:
    """Delivers alert events of the lake at `lake_path` to `channels`."""

    def __init__(
        self,
        lake_path: Lake,
        channels: Sequence[Channel],
        lookback_s: float = 3600.0,
        max_attempts: int = 8,
        first_retry_s: float = 1.0,
        max_retry_s: float = 300.0,
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lake_path = lake_path
        self.channels = list(channels)
        self.lookback_ms = int(lookback_s * 1000)
        self.max_attempts = max_attempts
        self.first_retry_ms = int(first_retry_s * 1000)
        self.max_retry_ms = int(max_retry_s * 1000)
        self.report = report or (lambda line: None)
        self.clock = clock  # seconds since the epoch; a test may pass its own

    def retry_after_ms(self, failures: int) -> int:
        """How long after its `failures`-th failure an event is tried again.

        >>> [Notifier("lake", []).retry_after_ms(n) // 1000 for n in (1, 2, 3, 10)]
        [1, 2, 4, 300]
        """
        return min(self.first_retry_ms * 2 ** (failures - 1), self.max_retry_ms)

    def run_once(self) -> dict[str, int]:
        """One pass: send what is due; return how many were sent, failed and given up."""
        counts = {"sent": 0, "failed": 0, "gave_up": 0}
        if not self.channels or not lake.is_ready(self.lake_path):
            return counts
        now = int(self.clock() * 1000)
        rows: list[tuple] = []
        con = lake.connect(self.lake_path, read_only=True)  # most passes only read
        try:
            events = alert_events(con, now - self.lookback_ms)
            if not events:
                return counts
            attempts = self._attempts(con, [e["event_id"] for e in events])
            waiting: set[tuple[str, str]] = set()  # (alert, channel) with an event not done
            for event in events:  # oldest first
                for channel in self.channels:
                    if not channel.filter.matches(event):
                        continue
                    seen = attempts.get((event["event_id"], channel.name), Attempts())
                    if seen.done:
                        continue
                    order = (event["alert"]["alert_id"], channel.name)
                    due = not seen.failures or now >= seen.last_ms + self.retry_after_ms(
                        seen.failures
                    )
                    if due and order not in waiting:
                        tried = self._attempt(channel, event, seen.failures, counts)
                        rows += tried
                        if tried[-1][3] != "failed":  # sent or given up: the next may go
                            continue
                    waiting.add(order)  # one alert's events reach a channel in order
        finally:
            con.close()
        if rows:
            self._record(rows)
        return counts

    def _record(self, rows: list[tuple]) -> None:
        """Append delivery rows to the lake, taking the writers' lock as the flow does."""
        con = lake.connect(self.lake_path)
        try:
            with lake.writer_lock(self.lake_path), lake.transaction(con):
                lake.insert(con, "alert_deliveries", rows)
        finally:
            con.close()

    def _attempt(
        self, channel: Channel, event: dict, failures: int, counts: dict[str, int]
    ) -> list[tuple]:
        event_id, alert_id = event["event_id"], event["alert"]["alert_id"]
        at = int(self.clock() * 1000)
        try:
            channel.send(event)
        except Exception as error:  # any failure of the channel: retried, never the notifier's end
            failures += 1
            why = internal_error(error).removeprefix("internal_error: ")
            counts["failed"] += 1
            rows = [(event_id, alert_id, channel.name, "failed", at, f"attempt {failures}: {why}")]
            if failures >= self.max_attempts:
                counts["gave_up"] += 1
                rows.append((event_id, alert_id, channel.name, "gave_up", at, why))
                self.report(
                    f"gave up {event_id} on {channel.name} after {failures} attempts: {why}"
                )
            else:
                log.warning(
                    "%s to %s failed (attempt %d): %s", event_id, channel.name, failures, why
                )
            return rows
        counts["sent"] += 1
        self.report(f"sent {event_id} to {channel.name}")
        return [(event_id, alert_id, channel.name, "sent", at, None)]

    def _attempts(self, con, event_ids: list[str]) -> dict[tuple[str, str], Attempts]:
        rows = con.execute(
            """
            SELECT event_id, channel, count(*) FILTER (WHERE status = 'failed'),
                   epoch_ms(max(attempted_at)), bool_or(list_contains($final, status))
            FROM alert_deliveries WHERE list_contains($ids, event_id) GROUP BY ALL
            """,
            {"ids": event_ids, "final": list(FINAL)},
        ).fetchall()
        return {(e, c): Attempts(int(f), int(last), bool(done)) for e, c, f, last, done in rows}

    def run(self, poll_s: float = 2.0, stop: threading.Event | None = None) -> None:
        """Pass after pass until `stop` is set (or forever)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # the lake busy or gone a moment: try again later
                log.warning("notifier pass failed: %s", internal_error(error))
            stop.wait(poll_s)
