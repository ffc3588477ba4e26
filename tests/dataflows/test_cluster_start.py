"""A process waits for the earlier processes of its cluster on this machine to listen."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import threading
import time

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

from dataflows.flow.cluster_start import (
    earlier_local_ports,
    listening_ports,
    wait_for_earlier_processes,
)
from tests.conftest import ROOT, free_port

RUN = importlib.util.find_spec("bytewax.run").origin


def argv(process: int, *addresses: str) -> list[str]:
    return [RUN, "flow:build()", "-i", str(process), "-a", ";".join(addresses)]


def test_it_waits_for_a_listener_that_comes_later_and_never_connects_to_it():
    port = free_port()
    accepted: list[socket.socket] = []
    server = socket.socket()

    def listen_later() -> None:
        time.sleep(0.3)
        server.bind(("127.0.0.1", port))
        server.listen()
        server.settimeout(1.0)
        with contextlib.suppress(TimeoutError):  # nobody connects: as it should be
            accepted.append(server.accept()[0])

    later = threading.Thread(target=listen_later)
    later.start()
    try:
        assert port not in (listening_ports() or set())
        assert wait_for_earlier_processes(argv(1, f"127.0.0.1:{port}", "127.0.0.1:1")) == []
        assert port in (listening_ports() or set())  # it returned once the port listened
    finally:
        later.join()
        server.close()
    assert accepted == []  # a connection would have been taken for a peer's


def test_it_gives_up_after_its_timeout_and_lets_bytewax_retry():
    port = free_port()
    waiting = wait_for_earlier_processes(argv(1, f"localhost:{port}", "x:1"), timeout_s=0.2)
    assert waiting == [port]


def test_only_lower_process_ids_on_this_machine_are_waited_for():
    local = f"127.0.0.1:{free_port()}"
    assert earlier_local_ports(argv(0, local, local)) == []
    assert earlier_local_ports(argv(1, "192.0.2.1:2101", local)) == []  # another machine's
    assert earlier_local_ports(argv(2, local, "[::1]:2102", local)) in (
        [int(local.rsplit(":", 1)[1]), 2102],
        [int(local.rsplit(":", 1)[1])],  # a machine without IPv6
    )
    assert earlier_local_ports(["pytest", "-i", "1", "-a", f"{local};{local}"]) == []


def test_the_addresses_may_come_from_bytewaxs_host_file(tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost:2101\n\nlocalhost:2102\n")
    monkeypatch.setenv("BYTEWAX_HOSTFILE_PATH", str(hosts))
    assert earlier_local_ports([RUN, "flow:build()", "-i", "1"]) == [2101]


def two_process_flow() -> Dataflow:
    """A small flow that, like the city's, waits for the earlier processes when built."""
    flow = Dataflow("cluster_start")
    op.output("out", op.input("in", flow, TestingSource(range(3))), StdOutSink())
    wait_for_earlier_processes()
    return flow


def test_a_process_started_first_does_not_fall_into_bytewaxs_one_second_retry():
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "bytewax.run", f"{__name__}:two_process_flow()"]

    def start(process: int) -> subprocess.Popen:
        return subprocess.Popen(
            [*command, "-i", str(process), "-a", addresses],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    first = start(1)  # ready before process 0 listens: without waiting, it retries in 1 s
    time.sleep(0.5)
    second = start(0)
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert "retrying" not in outputs[0], outputs[0]
