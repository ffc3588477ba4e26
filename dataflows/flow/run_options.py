"""Options of this process's `python -m bytewax.run` command line, read by the flow it builds.

Bytewax 0.21 does not tell a flow how it was started; the flow reads what it needs (the
recovery folder, the process id) from the command line, or from the environment variable
Bytewax would have read instead.

>>> run = importlib.util.find_spec("bytewax.run").origin
>>> bytewax_run_option("-i", "--process-id", "", [run, "flow:build()", "-i", "1", "-a", "x"])
'1'
>>> bytewax_run_option("-i", "--process-id", "", [run, "flow:build()", "--process-id=2"])
'2'
>>> process_label([run, "flow:build()", "-i1", "-a", "x"]), process_label(["pytest"])
('p1', 'p0')
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence


def _is_bytewax_run(argv: Sequence[str]) -> bool:
    spec = importlib.util.find_spec("bytewax.run")
    if not argv or spec is None or spec.origin is None:
        return False
    return os.path.realpath(argv[0]) == os.path.realpath(spec.origin)


def bytewax_run_option(
    short: str, long: str, envvar: str, argv: Sequence[str] | None = None
) -> str | None:
    """The option's value (the last given), else `envvar`'s; `None` outside `bytewax.run`."""
    argv = sys.argv if argv is None else argv
    if not _is_bytewax_run(argv):
        return None
    found = os.environ.get(envvar) if envvar else None
    for position, arg in enumerate(argv[1:], start=1):
        if arg in (short, long) and position + 1 < len(argv):
            found = argv[position + 1]
        elif arg.startswith(f"{long}="):
            found = arg.split("=", 1)[1]
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            found = arg[len(short) :]
    return found or None


def process_label(argv: Sequence[str] | None = None) -> str:
    """`p<id>`: this process's Bytewax process id (`-i`), `p0` when it runs alone."""
    found = bytewax_run_option("-i", "--process-id", "BYTEWAX_PROCESS_ID", argv)
    return f"p{int(found)}" if found is not None and found.isdigit() else "p0"
