"""A short `just chaos`: SIGKILL the Kafka flow three times with hostile messages in its
stream; nothing lost or duplicated, each hostile message dead-lettered once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kafka


def test_chaos_kills_and_restarts_lose_and_duplicate_nothing(kafka):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataflows.cli.chaos",
            "--restarts",
            "3",
            "--sensors",
            "80",
            "--hours",
            "24",
            "--seed",
            "11",
            "--bootstrap",
            kafka.bootstrap,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    last = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert last.startswith("restarts=") and "lost=0 duplicated=0 aggregates_ok=true" in last
    figures = dict(part.split("=") for part in last.split())
    assert int(figures["restarts"]) >= 2, result.stderr[-2000:]
    assert int(figures["hostile"]) > 100 and figures["dead_lettered"] == figures["hostile"]
