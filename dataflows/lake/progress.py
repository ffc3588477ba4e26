"""How far a flow has written its readings into a lake, as a progress line.

For long runs whose flow says nothing while it works (the demo's backfill, the simulator's
evaluation): a thread reads the newest reading of the lake every few seconds and redraws
one line on stderr.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     LakeProgress(folder, 0, 3_600_000, "[x] simulated").line() is None  # no lake yet
True
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

from dataflows.lake.address import Lake
from dataflows.lake.connection import connect, is_ready

WIDTH = 30


class LakeProgress:
    """Progress of the readings between `start_ms` and `end_ms` into the lake at `folder`."""

    def __init__(
        self, folder: Lake, start_ms: float, end_ms: float, label: str,
        every_s: float = 2.0,
    ) -> None:  # fmt: skip
        self.folder = folder
        self.start_ms, self.end_ms = start_ms, end_ms
        self.label = label
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def newest_ms(self) -> float | None:
        """Epoch ms of the newest reading in the lake, or None while there is none."""
        if not is_ready(self.folder):
            return None
        try:
            con = connect(self.folder, read_only=True)
        except Exception:  # noqa: BLE001 - the lake is being made: ask again later
            return None
        try:
            newest = con.execute("SELECT max(ts) FROM readings").fetchone()
        finally:
            con.close()
        return None if not newest or newest[0] is None else newest[0].timestamp() * 1000

    def line(self) -> str | None:
        """The progress line now, or None before the first reading."""
        newest = self.newest_ms()
        if newest is None:
            return None
        span = max(self.end_ms - self.start_ms, 1.0)
        share = min(max((newest - self.start_ms) / span, 0.0), 1.0)
        filled = round(WIDTH * share)
        hours = share * span / 3_600_000
        up_to = datetime.fromtimestamp(newest / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        return (
            f"{self.label} [{'#' * filled}{' ' * (WIDTH - filled)}] {hours:.1f} of"
            f" {span / 3_600_000:g} h in the lake (up to {up_to} UTC)"
        )

    def done(self, slack_ms: float = 120_000) -> bool:
        """Whether the lake holds readings up to `end_ms` (less `slack_ms`)."""
        newest = self.newest_ms()
        return newest is not None and newest >= self.end_ms - slack_ms

    def show(self, final: bool = False) -> None:
        """Redraw the line on stderr (with a newline if `final`)."""
        text = self.line()
        if text is not None:
            print(text, end="\n" if final else "\r", file=sys.stderr, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.show()

    def __enter__(self) -> LakeProgress:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if kind is None:
            self.show(final=True)
