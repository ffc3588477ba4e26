"""Before Bytewax joins this process to its cluster, wait for the earlier ones on this machine.

Bytewax 0.21 (timely) connects process `i` to every process with a lower id as soon as its
flow is built, and when one does not listen yet, sleeps a whole second before trying again.
Processes started together on one machine race for it: in five starts of a two-process
Kafka flow, process 1 lost that second three times (`docs/benchmark.md`, "The second
process's start"). So process `i` waits, for at most `timeout_s`, until the addresses of
the lower ids that are on this machine are listening, without connecting to them (a
connection would be taken for a peer's). It reads the sockets in `/proc/net/tcp`; where
there is none, or an address is another machine's, it does not wait, and Bytewax retries
as before.

>>> import importlib.util
>>> run = importlib.util.find_spec("bytewax.run").origin
>>> addresses = "localhost:2101;192.0.2.1:2101;localhost:2102"  # 192.0.2.1: not this machine
>>> earlier_local_ports([run, "flow:build()", "-i", "2", "-a", addresses])
[2101]
>>> earlier_local_ports([run, "flow:build()", "-i", "0", "-a", "localhost:2101;localhost:2102"])
[]
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from dataflows.flow.run_options import bytewax_run_option

log = logging.getLogger(__name__)

_LISTEN = "0A"
"""The state of a listening socket in `/proc/net/tcp`."""


def earlier_local_ports(argv: Sequence[str] | None = None) -> list[int]:
    """The ports of the processes this one connects to (lower ids) that run on this machine."""
    process = bytewax_run_option("-i", "--process-id", "BYTEWAX_PROCESS_ID", argv)
    addresses = bytewax_run_option("-a", "--addresses", "BYTEWAX_ADDRESSES", argv)
    if process is None or not process.isdigit():
        return []
    if addresses is None and os.environ.get("BYTEWAX_HOSTFILE_PATH"):  # as `bytewax.run` does
        try:
            lines = Path(os.environ["BYTEWAX_HOSTFILE_PATH"]).read_text().splitlines()
        except OSError:
            return []
        addresses = ";".join(line.strip() for line in lines if line.strip())
    if not addresses:
        return []
    ports = []
    for address in addresses.split(";")[: int(process)]:
        host, _, port = address.strip().rpartition(":")
        if port.isdigit() and _is_this_machine(host.strip("[]")):
            ports.append(int(port))
    return ports


def _is_this_machine(host: str) -> bool:
    """Whether `host` names an address of this machine (one a socket here can bind to)."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    for family, _, _, _, address in found:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address[0], 0))  # any free port: nothing else is disturbed
            except OSError:
                continue
            return True
    return False


def listening_ports(proc_net: Path = Path("/proc/net")) -> set[int] | None:
    """The ports with a listening TCP socket on this machine; None where it cannot be read."""
    ports: set[int] = set()
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN:
                ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports if readable else None


def wait_for_earlier_processes(
    argv: Sequence[str] | None = None, timeout_s: float = 10.0, poll_s: float = 0.005
) -> list[int]:
    """Wait until the earlier processes on this machine listen; the ports that still do not.

    An empty list: all of them listen (or there is nothing to wait for).
    """
    waiting = earlier_local_ports(argv)
    started = time.monotonic()
    while waiting:
        listening = listening_ports()
        if listening is None:
            return []
        waiting = [port for port in waiting if port not in listening]
        if not waiting or time.monotonic() - started >= timeout_s:
            break
        time.sleep(poll_s)
    if waiting:
        log.info("ports %s do not listen yet; Bytewax will retry connecting each second", waiting)
    elif time.monotonic() - started > poll_s:
        log.debug("waited %.2f s for the earlier processes to listen", time.monotonic() - started)
    return waiting
