"""Another process reads the lake while the flow writes it."""

from __future__ import annotations

import time

from dataflows import lake
from tests.conftest import city_env, start_flow


def test_readers_in_another_process_see_data_grow_without_errors(tmp_path):
    env = city_env(tmp_path / "lake", CITY_SIM_HOURS="48", CITY_SINK_FLUSH_S="0.1")
    flow = start_flow(env)
    counts: list[int] = []
    errors: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not lake.is_ready(tmp_path / "lake"):
            assert time.monotonic() < deadline and flow.poll() is None
            time.sleep(0.05)
        time.sleep(0.5)
        con = lake.connect(tmp_path / "lake", read_only=True)
        while flow.poll() is None and time.monotonic() < deadline:
            try:
                readings, minutes = con.execute(
                    "SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM readings_1m)"
                ).fetchone()
                counts.append(readings)
            except Exception as error:  # any reader error fails the test below
                errors.append(repr(error))
            time.sleep(0.05)
        con.close()
    finally:
        _, stderr = flow.communicate(timeout=120)
    assert flow.returncode == 0, stderr[-3000:]
    assert errors == []
    assert counts == sorted(counts), "a reader saw the lake shrink"
    growing = {c for c in counts if c > 0}
    assert len(growing) >= 3, f"expected to see several batches land while reading: {counts}"
