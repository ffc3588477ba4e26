"""Alert actions: validated, signed, appended to the lake."""

from __future__ import annotations

import time

import pytest

from dataflows import lake
from dataflows.lake import alert_actions
from dataflows.lake.rows import Rows


def test_actions_are_validated_and_appended(tmp_path):
    con = lake.connect(tmp_path)
    alert = (
        "s@0",
        "s",
        "noise",
        "anomaly",
        "laeq",
        0,
        None,
        0.9,
        2,
        "Flatline",
        "minor",
        "v",
        None,
    )
    lake.write(con, Rows(alerts=[alert]), tmp_path)
    con.close()
    with pytest.raises(ValueError, match="unknown action"):
        alert_actions.record(tmp_path, ["s@0"], "deleted", "Ana")
    with pytest.raises(ValueError, match="say who you are"):
        alert_actions.record(tmp_path, ["s@0"], "resolved", "  ")
    with pytest.raises(ValueError, match="no such alert: nope@1"):
        alert_actions.record(tmp_path, ["s@0", "nope@1"], "resolved", "Ana")
    with pytest.raises(ValueError, match="the name has unprintable characters"):
        alert_actions.record(tmp_path, ["s@0"], "resolved", "Ana\x1b[2J")
    assert alert_actions.record(tmp_path, ["s@0"], "acknowledged", "Ana", "  looking  ") == 1
    time.sleep(0.002)  # the next action is later
    signed = "header:X-Forwarded-User"
    assert alert_actions.record(tmp_path, ["s@0"], "resolved", "ben", actor_source=signed) == 1
    rows = (
        lake.connect(tmp_path, read_only=True)
        .sql("SELECT action, actor, note, actor_source FROM alert_actions ORDER BY acted_at")
        .fetchall()
    )
    assert rows == [("acknowledged", "Ana", "looking", "typed"), ("resolved", "ben", None, signed)]
