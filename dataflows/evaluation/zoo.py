"""The signal zoo replayed through the city flow, scored per shape (`just evaluate zoo`).

Every stream of `online_models.evaluation.zoo` is written as a CSV file (`time`, `value`,
`anomaly`) and the files are replayed together as `recorded` devices, exactly as
`just replay` does: models learn online from the first reading and never see the labels.
The first `WARMUP_DAYS` of every stream are the warm-up (`scored_from_days` scores from an
earlier day: NAB's own probation is the first 15 % of a file, about two days of two weeks);
the rest is scored per shape:

- `normal_high_share`: the share of normal readings (outside every NAB window) whose score
  is at least 0.9: the calibration figure (target: at most 0.1 %);
- point-wise precision, recall and F1 of the flags against the labelled readings;
- `detected` of `anomalies`: windows with at least one flag;
- the NAB standard score of the flags (every flagged reading a detection; each window runs
  from the anomaly's first labelled reading to an hour after its last, so that the first
  reading back to normal can still count), and over the whole zoo also with the one
  threshold on the score that is best over the zoo (`nab_tuned`, NAB's own protocol).

`evaluate_zoo_seeds` replays the zoo of several seeds and keeps, over them, the worst
shape's share of high normal scores and the NAB scores, so that figures read on one seed
are held against others (`just evaluate zoo --seeds 0-9`).
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from bytewax.testing import run_main

from dataflows import lake
from dataflows.evaluation.harness import scratch_settings
from dataflows.evaluation.report import marks, write_report
from dataflows.flow.city import build_flow
from dataflows.sources.recorded import ReplaySpec
from online_models.anomaly.registry import DEFAULT_PLAN, DetectorPlan
from online_models.evaluation import PointCounts
from online_models.evaluation.nab import best_threshold, corpus_score
from online_models.evaluation.zoo import DAYS, START, STEP_S, WARMUP_DAYS, Stream, zoo

HIGH = 0.9
"""A score this high on a normal reading is a calibration failure."""
AFTER_S = 3600.0
"""A NAB window ends this long after the anomaly's last labelled reading."""
COLUMNS = (
    *("normal_high_share", "precision", "recall", "f1", "detected", "anomalies"),
    "nab_standard",
)
"""The figures of each shape, as the report and `just evaluate zoo` show them."""
SEED_COLUMNS = (
    *("nab_standard", "nab_tuned", "detected", "anomalies", "f1", "normal_high_share"),
    *("worst_normal_high_share", "worst_shape"),
)
"""The figures of each seed, as `just evaluate zoo --seeds` shows them."""


def write_streams(streams: list[Stream], folder: Path) -> list[Path]:
    """One CSV file per stream in `folder`, named after the stream."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for s in streams:
        path = folder / f"{s.name}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(("time", "value", "anomaly"))
            for t, value, label in zip(s.times, s.values, s.labels, strict=True):
                when = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                writer.writerow((when, "" if value is None else value, int(label)))
        files.append(path)
    return files


def evaluate_zoo(
    seed: int = 0,
    progress: bool = True,
    plan: DetectorPlan = DEFAULT_PLAN,
    shapes: tuple[str, ...] | None = None,
    scored_from_days: float = WARMUP_DAYS,
    step_s: int = STEP_S,
    days: int = DAYS,
) -> dict[str, Any]:
    """Replay the zoo of `seed` (or only its `shapes`) with `plan` and score it.

    `step_s` and `days` make every stream sparser or longer (`online_models.evaluation.zoo`).
    """
    streams = [s for s in zoo(seed, step_s, days) if shapes is None or s.shape in shapes]
    with tempfile.TemporaryDirectory(prefix="city-evaluate-") as folder:
        root = Path(folder) / "zoo"
        files = write_streams(streams, root)
        spec = ReplaySpec(
            tuple(files), root, time_column="time", label_columns=("anomaly",), progress=progress
        )
        if progress:
            readings = sum(len(s.times) for s in streams)
            print(f"[evaluate] {len(streams)} zoo streams, {readings:,} readings", file=sys.stderr)
        run_main(build_flow(scratch_settings(folder), replay=spec, plan=plan))
        return {**score(Path(folder), streams, scored_from_days), "step_s": step_s, "days": days}


def evaluate_zoo_seeds(
    seeds: list[int],
    progress: bool = True,
    scored_from_days: float = WARMUP_DAYS,
    step_s: int = STEP_S,
    days: int = DAYS,
) -> dict[str, Any]:
    """`evaluate_zoo` on every seed: a summary row each, and the worst over them."""
    rows: dict[str, dict[str, Any]] = {}
    for number, seed in enumerate(seeds, 1):
        if progress:
            print(f"[evaluate] zoo seed {seed} ({number} of {len(seeds)})", file=sys.stderr)
        f = evaluate_zoo(seed, False, scored_from_days=scored_from_days, step_s=step_s, days=days)
        shares = {shape: v["normal_high_share"] for shape, v in f["shapes"].items()}
        worst_shape = max(shares, key=shares.__getitem__)
        rows[f"seed {seed}"] = {
            **{k: f[k] for k in ("nab_standard", "nab_tuned", "detected", "anomalies")},
            **{k: f[k] for k in ("normal_high_share", "f1")},
            "worst_normal_high_share": shares[worst_shape],
            "worst_shape": worst_shape,
        }
        if progress:
            print(f"[evaluate]   {rows[f'seed {seed}']}", file=sys.stderr)
    worst = max(rows, key=lambda name: rows[name]["worst_normal_high_share"])
    return {
        "seeds": rows,
        "scored_from_days": scored_from_days,
        "step_s": step_s,
        "days": days,
        "worst_normal_high_share": rows[worst]["worst_normal_high_share"],
        "worst": f"{worst}, {rows[worst]['worst_shape']}",
        "nab_standard_min": min(r["nab_standard"] for r in rows.values()),
        "nab_standard_mean": round(sum(r["nab_standard"] for r in rows.values()) / len(rows), 2),
        "nab_tuned_mean": round(sum(r["nab_tuned"] for r in rows.values()) / len(rows), 2),
        "detected": sum(r["detected"] for r in rows.values()),
        "anomalies": sum(r["anomalies"] for r in rows.values()),
    }


def _scored(lake_path: Path) -> dict[str, dict[int, tuple[bool, float]]]:
    """Sensor -> time (ms) -> (flagged, score), as the flow stored them."""
    out: dict[str, dict[int, tuple[bool, float]]] = defaultdict(dict)
    con = lake.connect(lake_path, read_only=True)
    try:
        for sensor, ts, flag, value in con.execute(
            "SELECT sensor_id, epoch_ms(ts), is_anomaly, score FROM readings"
        ).fetchall():
            out[sensor][ts] = (flag, value)
    finally:
        con.close()
    return out


@dataclass
class _Scored:
    """One stream's scored part."""

    stream: Stream
    counts: PointCounts = field(default_factory=PointCounts)
    normal: int = 0  # normal readings outside every window
    high: int = 0  # of which score at least HIGH
    flags: list[float] = field(default_factory=list)
    scores: list[tuple[float, float]] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)

    def detected(self) -> int:
        return sum(any(a <= t <= b for t in self.flags) for a, b in self.windows)


def _score_stream(
    s: Stream, readings: dict[int, tuple[bool, float]], scored_from: float
) -> _Scored:
    out = _Scored(s, windows=[(start, end + AFTER_S) for start, end in s.windows()])
    for t, value, label in zip(s.times, s.values, s.labels, strict=True):
        if t < scored_from or value is None:
            continue
        flag, reading_score = readings.get(round(t * 1000), (False, 0.0))
        out.counts.add(flag, label)
        if flag:
            out.flags.append(t)
        out.scores.append((t, reading_score))
        if not label and not any(a <= t <= b for a, b in out.windows):
            out.normal += 1
            out.high += reading_score >= HIGH
    return out


def _summary(members: list[_Scored]) -> dict[str, Any]:
    counts = sum((m.counts for m in members), PointCounts())
    normal = sum(m.normal for m in members)
    return {
        "streams": len(members),
        "normal_readings": normal,
        "normal_high_share": round(sum(m.high for m in members) / max(normal, 1), 5),
        "precision": round(counts.precision(), 4),
        "recall": round(counts.recall(), 4),
        "f1": round(counts.f1(), 4),
        "anomalies": sum(len(m.windows) for m in members),
        "detected": sum(m.detected() for m in members),
        "nab_standard": round(corpus_score([(m.flags, m.windows) for m in members]), 2),
    }


def score(
    lake_path: Path, streams: list[Stream], scored_from_days: float = WARMUP_DAYS
) -> dict[str, Any]:
    """The zoo's figures, per shape and overall (see the module docstring)."""
    stored = _scored(lake_path)
    scored_from = START + scored_from_days * 86_400.0
    scored = [_score_stream(s, stored.get(s.name, {}), scored_from) for s in streams]
    by_shape: dict[str, list[_Scored]] = defaultdict(list)
    for m in scored:
        by_shape[m.stream.shape].append(m)
    shapes = {shape: _summary(members) for shape, members in by_shape.items()}
    threshold, tuned = best_threshold([(m.scores, m.windows) for m in scored])
    return {
        **_summary(scored),
        "readings": sum(len(s.times) for s in streams),
        "scored_from_days": scored_from_days,
        "worst_normal_high_share": max(f["normal_high_share"] for f in shapes.values()),
        "nab_tuned": round(tuned, 2),
        "nab_threshold": None if threshold == float("inf") else round(threshold, 4),
        "shapes": shapes,
        "series": {
            s.name: _series(s, stored.get(s.name, {}))
            for s in streams
            if s.anomaly == "level_shift" or (s.anomaly is None and s.shape == "constant")
        },
    }


def _series(s: Stream, readings: dict[int, tuple[bool, float]], step: int = 6) -> dict[str, list]:
    """Value, score (their maximum per `step` readings), flags and labels, for the charts."""
    out: dict[str, list] = {"t": [], "value": [], "score": [], "flagged": [], "label": []}
    for i in range(0, len(s.times), step):
        part = range(i, min(i + step, len(s.times)))
        stored = [readings.get(round(s.times[j] * 1000), (False, 0.0)) for j in part]
        values = [v for j in part if (v := s.values[j]) is not None]
        out["t"].append(s.times[i])
        out["value"].append(max(values) if values else None)
        out["score"].append(max(score for _, score in stored))
        out["flagged"].append(any(flag for flag, _ in stored))
        out["label"].append(any(s.labels[j] for j in part))
    return out


def zoo_report(figures: dict, folder: Path) -> Path:
    """The HTML report: a row per shape, the calibration per shape, and example streams."""
    table = [("shape", *COLUMNS)]
    for shape, f in {**figures["shapes"], "all": figures}.items():
        table.append((shape, *(str(f[name]) for name in COLUMNS)))
    shapes = list(figures["shapes"])
    bars = go.Figure(
        [
            go.Bar(
                x=shapes,
                y=[100 * figures["shapes"][s]["normal_high_share"] for s in shapes],
                name="normal readings scoring >= 0.9 (%)",
            )
        ],
        layout={
            "title": "Calibration: share of normal readings scoring >= 0.9 (target <= 0.1 %)",
            "yaxis": {"title": "%"},
        },
    )
    charts = [bars, *(_stream_chart(name, s) for name, s in figures["series"].items())]
    note = (
        f"{figures['streams']} streams, {figures['readings']:,} readings; the first "
        f"{figures['scored_from_days']} days of each warm up, the rest is scored; NAB tuned "
        "over the zoo: "
        f"{figures['nab_tuned']} (score >= {figures['nab_threshold']})"
    )
    return write_report(folder, "zoo", "Signal zoo", table, charts, note)


def zoo_seeds_report(figures: dict, folder: Path) -> Path:
    """The HTML report of several seeds: a row each, their worst shapes and NAB as bars."""
    seeds = list(figures["seeds"])
    table: list[tuple[str, ...]] = [("", *SEED_COLUMNS)]
    table += [(seed, *(str(figures["seeds"][seed][c]) for c in SEED_COLUMNS)) for seed in seeds]
    worst = go.Figure(
        [
            go.Bar(
                x=seeds,
                y=[100 * figures["seeds"][seed]["worst_normal_high_share"] for seed in seeds],
                text=[figures["seeds"][seed]["worst_shape"] for seed in seeds],
            )
        ],
        layout={
            "title": "The worst shape's share of normal readings scoring >= 0.9 (target <= 0.1 %)",
            "yaxis": {"title": "%"},
        },
    )
    nab = go.Figure(
        [
            go.Bar(x=seeds, y=[figures["seeds"][s]["nab_standard"] for s in seeds], name="flags"),
            go.Bar(x=seeds, y=[figures["seeds"][s]["nab_tuned"] for s in seeds], name="tuned"),
        ],
        layout={"title": "NAB standard score per seed (target >= 60)", "barmode": "group"},
    )
    note = (
        f"scored from day {figures['scored_from_days']}; worst {figures['worst']} at "
        f"{100 * figures['worst_normal_high_share']:.3f} %; NAB mean {figures['nab_standard_mean']}"
        f", lowest {figures['nab_standard_min']}; found {figures['detected']} of "
        f"{figures['anomalies']}"
    )
    return write_report(folder, "zoo-seeds", "Signal zoo, several seeds", table, [worst, nab], note)


def _stream_chart(name: str, s: dict[str, list]) -> go.Figure:
    when = [datetime.fromtimestamp(t, UTC) for t in s["t"]]
    return go.Figure(
        [
            go.Scatter(x=when, y=s["value"], name="value", line={"width": 1}),
            go.Scatter(x=when, y=s["score"], name="score", yaxis="y2", line={"width": 1}),
            marks(when, s["flagged"], 1.02, "flagged", "#d62728", yaxis="y2"),
            marks(when, s["label"], 1.06, "labelled", "#2ca02c", yaxis="y2"),
        ],
        layout={
            "title": name,
            "yaxis2": {"overlaying": "y", "side": "right", "range": [0, 1.1], "title": "score"},
        },
    )
