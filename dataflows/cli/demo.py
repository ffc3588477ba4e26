"""`just demo`: the city flow on the simulator and the live dashboard, until Ctrl-C.

Unless told otherwise, the demo backfills the last 48 simulated hours at full speed (so the
dashboard has history at once, and the detectors have passed their first day, when a daily
baseline first replaces the level they start on and a burst of alerts can follow), and 60
days of the assets' lives (so the maintenance models have learnt from failures), and then
runs in real time; it shows how much of the backfill is in the lake meanwhile. Both
processes stop on Ctrl-C with one line (the demo holds the terminal's foreground in a process
group of its own, and they run in theirs, so Ctrl-C reaches the demo alone, neither `just` nor
them, and what they print while stopping is not shown);
if the flow ends by itself (`CITY_SIM_HOURS`), the dashboard stays up. With `CITY_ALERT_CHANNELS`
set, `just notify` runs beside them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import IO

from dataflows import dashboard_server, lake
from dataflows.cli import console
from dataflows.cli.startup import check
from dataflows.cli.terminal import foreground_of_its_own
from dataflows.lake.progress import LakeProgress
from dataflows.settings import Settings

DEMO_DEFAULTS = {
    "CITY_SIM_BACKFILL_HOURS": "48",
    "CITY_SIM_ASSET_HISTORY_DAYS": "60",
    "CITY_SIM_SPEEDUP": "1",
}


def _wait_until_serving(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


class _Relay:
    """Copies a child's stderr to ours, line by line, until told to be quiet (at shutdown)."""

    def __init__(self, stream: IO[str]) -> None:
        self.quiet = False
        self.thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self.thread.start()

    def _copy(self, stream: IO[str]) -> None:
        for line in stream:
            if not self.quiet:
                sys.stderr.write(line)
                sys.stderr.flush()


def _start(cmd: list[str], env: dict[str, str], **kwargs) -> tuple[subprocess.Popen, _Relay]:
    """A child in its own process group, its stderr relayed."""
    process = subprocess.Popen(
        cmd, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    )
    assert process.stderr is not None
    return process, _Relay(process.stderr)


class _Backfill:
    """How much of the backfill is in the lake: one line on stderr, refreshed until done."""

    def __init__(self, settings: Settings) -> None:
        hours = settings.sim_backfill_hours if settings.sim_start is None else 0.0
        end_ms = time.time() * 1000
        self.progress = LakeProgress(
            lake.LakeAddress.from_settings(settings),
            end_ms - hours * 3_600_000,
            end_ms,
            "[demo] backfill",
        )
        self.finished = hours <= 0
        self.shown = 0.0

    def show(self) -> None:
        if self.finished or time.monotonic() - self.shown < 2.0:
            return
        self.shown = time.monotonic()
        self.finished = self.progress.done()
        text = self.progress.line()
        if text is not None:
            print(
                text + ("; now live" if self.finished else ""),
                end="\n" if self.finished else "\r",
                file=sys.stderr,
                flush=True,
            )


def _stop(processes: list[subprocess.Popen], grace_s: float = 15.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    with foreground_of_its_own():  # Ctrl-C reaches the demo, not the `just` that started it
        return _demo()


def _demo() -> int:
    env = {**DEMO_DEFAULTS, **os.environ}
    settings = Settings.from_env(env)
    check(settings)  # a bad catalogue or an absent broker: one line, before anything starts
    # Ctrl-C must reach the demo even if it was started with SIGINT ignored; the children run
    # in their own process groups, so the demo alone decides how they stop
    signal.signal(signal.SIGINT, signal.default_int_handler)
    flow, flow_relay = _start([sys.executable, "-m", "dataflows.cli.flow"], env)
    warning = dashboard_server.exposure_warning(settings)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    board, board_relay = _start(dashboard_server.command(settings), env, stdout=subprocess.DEVNULL)
    processes = [flow, board]
    relays = [flow_relay, board_relay]
    if settings.alert_channels is not None:  # alerts also reach people
        notifier, notifier_relay = _start([sys.executable, "-m", "dataflows.cli.notify"], env)
        processes.append(notifier)
        relays.append(notifier_relay)
    backfill = _Backfill(settings)
    url = dashboard_server.url(settings)
    try:
        if not _wait_until_serving(url, board):
            print("the dashboard did not start; see the messages above", file=sys.stderr)
            _stop(processes)
            return 1
        print(
            f"\n  City stream analytics is running.\n"
            f"  Dashboard: {url}\n"
            f"  Lake:      {lake.LakeAddress.from_settings(settings)}"
            '  (query it: just sql "SELECT * FROM alerts")\n'
            f"  {settings.sim_sensors} simulated sensors, backfill "
            f"{settings.sim_backfill_hours:g} h, speed-up {settings.sim_speedup:g}\n"
            f"  Press Ctrl-C to stop.\n",
            flush=True,
        )
        flow_reported = False
        while True:
            if board.poll() is not None:
                print("the dashboard stopped; stopping the flow", file=sys.stderr)
                _stop(processes)
                return board.returncode or 1
            if flow.poll() is not None and not flow_reported:
                flow_reported = True
                state = "finished" if flow.returncode == 0 else f"failed ({flow.returncode})"
                print(f"the flow {state}; the dashboard stays up until Ctrl-C", flush=True)
            if flow.poll() is None:
                backfill.show()
            time.sleep(0.5)
    except KeyboardInterrupt:
        for relay in relays:
            relay.quiet = True
        print("\nstopping the flow and the dashboard ...", end="", flush=True)
        _stop(processes)
        print(" stopped.", flush=True)
        return 0
    finally:  # whatever ends the demo, its children end with it
        _stop(processes)


run = console(main)


if __name__ == "__main__":
    run()
