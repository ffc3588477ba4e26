"""The flow's latest metrics in Prometheus's text format, served on `CITY_METRICS_PORT`.

One endpoint per process (`/metrics`, on loopback unless `CITY_METRICS_HOST` says
otherwise), started by the first lake-sink partition the process builds. Every sample of
`SinkMeter` replaces the gauges of its scope; `city_flow_last_commit_age_seconds` is
computed when scraped. Several flow processes on one host: the second takes the next free
port, and the one taken is logged.

>>> board = Board()
>>> board.update([FlowMetricRow(0, "lake-0", "readings_per_s", 12.5)])
>>> print(board.text(now_ms=0).splitlines()[-1])
city_flow_readings_per_s{scope="lake-0"} 12.5
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dataflows.lake.tables import FlowMetricRow
from dataflows.messages.schema import now_ms

log = logging.getLogger(__name__)

PORTS_TRIED = 16
"""How many ports from `CITY_METRICS_PORT` on a process tries before giving up (logged)."""

HELP = {
    "readings": "readings committed in the last sampling window",
    "readings_per_s": "readings committed to the lake per second",
    "rows_per_s": "rows of every table committed per second",
    "dead_letters_per_min": "dead letters committed per minute",
    "commit_s": "mean seconds of one micro-batch commit",
    "event_lag_s": "seconds between the newest committed reading's event time and now",
    "lake_bytes": "bytes of the lake's live data files",
    "consumer_lag": "Kafka records not yet stored: end offset minus next offset to store",
    "produce_to_lake_s": "seconds from the newest stored record's Kafka timestamp to its commit",
    "items": "items a step (or records a source partition) handled in the last sampling window",
    "items_per_s": "items a step (or records a source partition) handled per second",
    "busy_cores": "seconds of a step's own code per second: the cores it kept busy",
}


class Board:
    """The latest value of every (scope, metric), and each scope's last commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], float] = {}
        self._last_commit: dict[str, int] = {}

    def update(self, rows: list[FlowMetricRow]) -> None:
        with self._lock:
            for row in rows:
                if row.metric == "last_commit_age_s":
                    self._last_commit[row.scope] = row.ts - int(row.value * 1000)
                else:
                    self._values[(row.scope, row.metric)] = row.value

    def text(self, now_ms: int) -> str:
        with self._lock:
            values = dict(self._values)
            commits = dict(self._last_commit)
        lines: list[str] = []
        for metric in sorted({m for _, m in values}):
            name = f"city_flow_{metric}"
            lines.append(f"# HELP {name} {HELP.get(metric, metric)}")
            lines.append(f"# TYPE {name} gauge")
            for (scope, m), value in sorted(values.items()):
                if m == metric:
                    lines.append(f'{name}{{scope="{scope}"}} {value:g}')
        if commits:
            name = "city_flow_last_commit_age_seconds"
            lines.append(f"# HELP {name} seconds since the scope's last commit")
            lines.append(f"# TYPE {name} gauge")
            for scope, at in sorted(commits.items()):
                lines.append(f'{name}{{scope="{scope}"}} {(now_ms - at) / 1000.0:g}')
        return "\n".join(lines)


BOARD = Board()
"""This process's metrics."""

_started = threading.Lock()
_server: ThreadingHTTPServer | None = None


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404, "only /metrics here")
            return
        body = (BOARD.text(now_ms()) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's
        return  # a scrape every few seconds is not worth a log line


def serve(host: str, port: int) -> int | None:
    """Serve `/metrics` from this process (once); the port taken, or None if off or refused."""
    global _server
    if port == 0:
        return None
    with _started:
        if _server is not None:
            return _server.server_address[1]
        for candidate in range(port, min(port + PORTS_TRIED, 65_536)):
            try:
                _server = ThreadingHTTPServer((host, candidate), _Handler)
            except OSError:
                continue
            _server.daemon_threads = True
            threading.Thread(target=_server.serve_forever, name="metrics", daemon=True).start()
            log.info("flow metrics at http://%s:%d/metrics", host, candidate)
            return candidate
    log.warning("flow metrics not served: ports %d to %d are taken", port, port + PORTS_TRIED - 1)
    return None
