"""GECCO 2018 (drinking water): the station's file replayed through the city flow, scored.

The train half of the GECCO Industrial Challenge 2018 (one water-quality station, nine
sensors at one row a minute, labelled events; default `../shared/data/gecco2018`) is
replayed as one `recorded` device, exactly as `just replay` does: the models learn online
from the first row and never see the labels. The file is split in time:

- the first `WARMUP_SHARE` (half) of its rows is the warm-up: the models learn, and the one
  threshold on the score that would have been best there is tuned (`tuned_threshold`);
- the rest is scored: point-wise F1, precision and recall of the flags as the flow wrote
  them (a row is flagged when any of its metrics is), the F1 of the tuned threshold, the
  F1 of the best threshold chosen on the scored part itself (`oracle_f1`, an upper bound
  no online detector can claim), events detected out of events, median detection delay
  and false alarms per day (`online_models.evaluation.events`).

A row whose sensors are all missing has no reading: it counts as not flagged, score 0.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import lake
from dataflows.evaluation.harness import scratch_settings
from dataflows.evaluation.report import marks, write_report
from dataflows.flow.city import build_flow
from dataflows.settings import PROJECT_ROOT
from dataflows.sources.recorded import ReplaySpec
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan
from online_models.evaluation import PointCounts, best_threshold_f1, event_scores

DEFAULT_GECCO = PROJECT_ROOT.parent / "shared" / "data" / "gecco2018"
WARMUP_SHARE = 0.5
"""The first half of the rows warms the models up and tunes the threshold; the rest is scored."""
LABEL = "EVENT"
GRACE_S = 600.0
"""A flag up to 10 minutes after an event's last labelled row still detects it."""


def station_file(path: Path) -> Path:
    """The station's CSV: `path` itself, or `train.csv` in the folder `path`."""
    found = path / "train.csv" if path.is_dir() else path
    if not found.is_file():
        raise FileNotFoundError(f"no GECCO 2018 file at {found}")
    return found


def evaluate_gecco(
    path: Path, progress: bool = True, plan: DetectorPlan = DEFAULT_PLAN
) -> dict[str, Any]:
    """Replay the station's file into a temporary lake (with `plan`) and score it."""
    file = station_file(path)
    spec = ReplaySpec(
        (file,), file.parent, time_column="Time", label_columns=(LABEL,), progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        run_main(build_flow(scratch_settings(folder), replay=spec, plan=plan))
        if progress:
            print("[evaluate] scoring the second half against its events", file=sys.stderr)
        return score(Path(folder), file)


def score(lake_path: Path, file: Path) -> dict[str, Any]:
    """The figures of the replayed station (see the module docstring)."""
    truth = duckdb.connect()
    rows = truth.execute(
        f"SELECT epoch_ms(CAST(Time AS TIMESTAMPTZ)), coalesce({LABEL}, 0) <> 0 "
        "FROM read_csv(?, header = true) ORDER BY 1",
        [str(file)],
    ).fetchall()
    truth.close()
    con = lake.connect(lake_path, read_only=True)
    try:
        scored = dict(
            (ts, (flag, score))
            for ts, flag, score in con.execute(
                "SELECT epoch_ms(ts), bool_or(is_anomaly), max(score) FROM readings "
                "WHERE sensor_id = ? GROUP BY 1",
                [file.stem],
            ).fetchall()
        )
    finally:
        con.close()
    times = [ts / 1000 for ts, _ in rows]
    labels = [label for _, label in rows]
    flags = [scored.get(ts, (False, 0.0))[0] for ts, _ in rows]
    scores = [scored.get(ts, (False, 0.0))[1] or 0.0 for ts, _ in rows]
    cut = int(len(rows) * WARMUP_SHARE)
    tuned, _ = best_threshold_f1(scores[:cut], labels[:cut])
    test = slice(cut, None)
    flagged = PointCounts()
    at_tuned = PointCounts()
    for label, flag, value in zip(labels[test], flags[test], scores[test], strict=True):
        flagged.add(flag, label)
        at_tuned.add(value >= tuned, label)
    _, oracle = best_threshold_f1(scores[test], labels[test])
    events = event_scores(times[test], labels[test], flags[test], grace_s=GRACE_S)
    return {
        "rows": len(rows),
        "warmup_rows": cut,
        "scored_rows": flagged.rows,
        "scored_from": rows[cut][0] if rows[cut:] else None,
        "f1": round(flagged.f1(), 4),
        "precision": round(flagged.precision(), 4),
        "recall": round(flagged.recall(), 4),
        "flagged_share": round((flagged.tp + flagged.fp) / max(flagged.rows, 1), 4),
        "tuned_threshold": None if tuned == float("inf") else round(tuned, 4),
        "tuned_f1": round(at_tuned.f1(), 4),
        "oracle_f1": round(oracle, 4),
        **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in events.items()},
        "series": _series(times, labels, flags, scores),
    }


def _series(
    times: list[float], labels: list[bool], flags: list[bool], scores: list[float], step: int = 30
) -> dict[str, list]:
    """The score, flags and labels per `step` rows (their maximum), for the report's chart."""
    out: dict[str, list] = {"t": [], "score": [], "flagged": [], "label": []}
    for i in range(0, len(times), step):
        out["t"].append(times[i])
        out["score"].append(max(scores[i : i + step]))
        out["flagged"].append(any(flags[i : i + step]))
        out["label"].append(any(labels[i : i + step]))
    return out


def gecco_report(figures: dict, folder: Path) -> Path:
    """The HTML report: the figures, and the score over time with flags and events."""
    names = (
        *("f1", "precision", "recall", "tuned_f1", "oracle_f1", "flagged_share"),
        *("events", "detected", "median_delay_s", "false_alarms_per_day"),
    )
    table = [("figure", "scored half"), *((name, str(figures[name])) for name in names)]
    s = figures["series"]
    when = [datetime.fromtimestamp(t, UTC) for t in s["t"]]
    chart = go.Figure(
        [
            go.Scatter(x=when, y=s["score"], name="score (max per 30 min)", line={"width": 1}),
            marks(when, s["flagged"], 1.02, "flagged", "#d62728"),
            marks(when, s["label"], 1.06, "labelled event", "#2ca02c"),
        ],
        layout={
            "title": "GECCO 2018: score, flags and labelled events",
            "yaxis": {"range": [0, 1.1]},
        },
    )
    note = (
        f"{figures['rows']:,} rows; the first {figures['warmup_rows']:,} warm up and tune, "
        f"the last {figures['scored_rows']:,} are scored"
    )
    return write_report(folder, "gecco", "GECCO 2018 drinking water", table, [chart], note)
