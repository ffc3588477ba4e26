"""A server process started in the background and remembered by its pid file."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def running_pid(pid_file: Path) -> int | None:
    """The pid written in `pid_file`, if that process is alive."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def stop_pid(pid_file: Path, timeout_s: float = 30.0) -> bool:
    """Stop the process of `pid_file` (SIGTERM, then SIGKILL); whether one was running."""
    pid = running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
