r"""Per-record fault isolation: an exception while handling one record is that record's fault.

Every step that handles records one by one (decoding, validation, the sensors', maintenance
and district steps, the sinks' row building) catches what handling one record raises. The
record becomes a dead letter `internal_error: <ExceptionType>: <message>` with its
position and truncated raw payload, the model it broke is reset, and the flow goes on.

A step whose records *all* raise is not looking at bad data but at a bug: after
`trip_after` records in a row raised with no success between them, `StepGuard` stops the
flow with a one-line reason instead of dead-lettering everything.

>>> guard = StepGuard("example", trip_after=2)
>>> guard.failed(ValueError("bad\nthing"), "p/1")
'internal_error: ValueError: bad thing'
>>> guard.succeeded()
>>> guard.failed(KeyError("k"), "p/2")
"internal_error: KeyError: 'k'"
>>> try:
...     guard.failed(KeyError("k"), "p/3")
... except FlowStopped as stop:
...     print(str(stop)[:52])
step example: 2 records in a row raised, the last at
"""

from __future__ import annotations

import logging
import threading
import time

from dataflows.messages.schema import internal_error

log = logging.getLogger(__name__)


class FlowStopped(RuntimeError):
    """The flow cannot go on; the message is the one-line reason."""


class StepGuard:
    """Counts a step's failing records, logs them sparingly, and trips on a run of them.

    Shared by every instance of the step's logic in one process (it is not flow state:
    nothing of it is snapshotted).
    """

    def __init__(self, step: str, trip_after: int = 1_000, log_every_s: float = 10.0) -> None:
        self.step = step
        self.trip_after = trip_after
        self.log_every_s = log_every_s
        self.failures = 0
        self._run = 0
        self._unlogged = 0
        self._logged_at = -float("inf")
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        """A record was handled: a run of failures is over."""
        self._run = 0

    def failed(self, error: BaseException, position: str | None) -> str:
        """Count a failed record; its dead-letter reason. Raises `FlowStopped` on a run."""
        reason = internal_error(error)
        with self._lock:
            self.failures += 1
            self._run += 1
            run = self._run
            self._unlogged += 1
            now = time.monotonic()
            if now - self._logged_at >= self.log_every_s:
                more = (
                    f" ({self._unlogged - 1} more since the last line)"
                    if self._unlogged > 1
                    else ""
                )
                log.warning("step %s: record at %s raised, dead-lettered: %s%s",
                            self.step, position, reason, more)  # fmt: skip
                log.debug("step %s: the exception", self.step, exc_info=error)
                self._logged_at = now
                self._unlogged = 0
        if run >= self.trip_after:
            raise FlowStopped(
                f"step {self.step}: {run} records in a row raised, the last at {position} "
                f"({reason}): a bug, not bad data"
            ) from error
        return reason

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
