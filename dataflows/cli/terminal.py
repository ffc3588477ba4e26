"""The terminal's foreground, taken by a command so that Ctrl-C reaches it alone.

Ctrl-C sends SIGINT to every process of the terminal's foreground process group: the command,
and the `just` that started it. `just` then reports `error: interrupted by SIGINT` after the
command has stopped cleanly, whatever the command did. A command that stops on Ctrl-C with one
line of its own (`just demo`) moves into a process group of its own and makes it the
terminal's foreground for as long as it runs, as a shell's job control would; it gives the
foreground back when it ends.

Without a controlling terminal (a test, a service, a pipe), or when the command already leads
the foreground group (started straight from an interactive shell), nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def foreground_of_its_own() -> Iterator[bool]:
    """Run the body in a process group of its own that holds the terminal's foreground.

    Yields whether the foreground was taken.
    """
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        yield False
        return
    try:
        previous = os.tcgetpgrp(tty)
        group = os.getpgrp()
        if group != previous or group == os.getpid():  # in the background, or already alone
            yield False
            return
        os.setpgid(0, 0)
        _give_foreground(tty, os.getpgrp())
        try:
            yield True
        finally:
            with contextlib.suppress(OSError):  # the group it came from has gone
                _give_foreground(tty, previous)
    finally:
        os.close(tty)


def _give_foreground(tty: int, group: int) -> None:
    """Make `group` the terminal's foreground (a background group may do so ignoring SIGTTOU)."""
    handler = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, group)
    finally:
        signal.signal(signal.SIGTTOU, handler)
