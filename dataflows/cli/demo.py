"""`just demo`: the city flow on the simulator and the live dashboard, until Ctrl-C.

Unless told otherwise, the demo backfills the last 24 simulated hours at full speed (so the
dashboard has a day of history at once), and 60 days of the assets' lives (so the
maintenance models have learnt from failures), and then runs in real time. Both processes stop on
Ctrl-C; if the flow ends by itself (`CITY_SIM_HOURS`), the dashboard stays up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from dataflows import dashboard_server
from dataflows.cli import console
from dataflows.settings import Settings

DEMO_DEFAULTS = {
    "CITY_SIM_BACKFILL_HOURS": "24",
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
    env = {**DEMO_DEFAULTS, **os.environ}
    settings = Settings.from_env(env)
    flow = subprocess.Popen([sys.executable, "-m", "dataflows.cli.flow"], env=env)
    warning = dashboard_server.exposure_warning(settings)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    board = subprocess.Popen(dashboard_server.command(settings), env=env, stdout=subprocess.DEVNULL)
    processes = [flow, board]
    url = dashboard_server.url(settings)
    try:
        if not _wait_until_serving(url, board):
            print("the dashboard did not start; see the messages above", file=sys.stderr)
            _stop(processes)
            return 1
        print(
            f"\n  City stream analytics is running.\n"
            f"  Dashboard: {url}\n"
            f'  Lake:      {settings.lake}  (query it: just sql "SELECT * FROM alerts")\n'
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
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the flow and the dashboard ...", flush=True)
        _stop(processes)
        print("stopped.", flush=True)
        return 0


run = console(main)


if __name__ == "__main__":
    run()
