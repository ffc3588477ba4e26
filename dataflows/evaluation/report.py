"""What `just evaluate` leaves behind: an HTML report and a summary in the lake.

The report (`data/reports/evaluate-<dataset>-<time>.html` by default) holds the figures as a
table and Plotly charts, self-contained (Plotly's JavaScript is inlined: it opens offline).
The summary goes to the lake's `evaluations` table, one row per figure, so that successive
evaluations can be compared in SQL:

    SELECT evaluated_at, scope, figure, value FROM evaluations
    WHERE dataset = 'skab' ORDER BY evaluated_at DESC
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from dataflows import lake
from dataflows.lake.address import Lake


def flatten(figures: Mapping[str, object], scope: str = "overall") -> Iterator[tuple]:
    """(scope, figure, value) for every number in `figures`; nested dicts become scopes.

    A dict whose values are all dicts (per kind, per type) adds no scope of its own; deeper
    scopes are joined with "/".

    >>> list(flatten({"f1": 0.5, "kinds": {"spike": {"recall": 1.0}}, "note": "x"}))
    [('overall', 'f1', 0.5), ('spike', 'recall', 1.0)]
    >>> cold_start = {"f1": 0.4, "kinds": {"spike": {"f1": 0.3}}}
    >>> [scope for scope, _, _ in flatten({"f1": 0.5, "cold_start": cold_start})]
    ['overall', 'cold_start', 'cold_start/spike']
    """
    for name, value in figures.items():
        if isinstance(value, Mapping):
            if value and all(isinstance(inner, Mapping) for inner in value.values()):
                for inner_name, inner in value.items():
                    yield from flatten(inner, _within(scope, inner_name))
            else:
                yield from flatten(value, _within(scope, name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield (scope, name, float(value))


def _within(scope: str, name: str) -> str:
    return name if scope == "overall" else f"{scope}/{name}"


def store_summary(lake_path: Lake, dataset: str, figures: Mapping) -> datetime:
    """Append the numbers of `figures` to the lake's `evaluations` table; return the time."""
    at = datetime.now(UTC)
    stamp = int(at.timestamp() * 1000)
    rows = [(stamp, dataset, scope, figure, value) for scope, figure, value in flatten(figures)]
    con = lake.connect(lake_path)
    try:
        with lake.writer_lock(lake_path), lake.transaction(con):
            lake.insert(con, "evaluations", rows)
    finally:
        con.close()
    return at


def write_report(
    folder: Path,
    dataset: str,
    title: str,
    table: Sequence[tuple[str, ...]],
    charts: list[go.Figure],
    note: str = "",
) -> Path:
    """A self-contained HTML page with `table` (header row first) and `charts`."""
    folder.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC)
    path = folder / f"evaluate-{dataset}-{at:%Y%m%dT%H%M%SZ}.html"
    header, *body = table
    cells = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    lines = [f"<tr>{cells}</tr>"]
    for row in body:
        lines.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    plots = [
        pio.to_html(chart, full_html=False, include_plotlyjs=(i == 0))
        for i, chart in enumerate(charts)
    ]
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(at.isoformat(timespec='seconds'))}"
        f" · {html.escape(note)}</p><table>{''.join(lines)}</table>{''.join(plots)}"
        "</body></html>",
        encoding="utf-8",
    )
    return path


def marks(
    when: list[datetime], marked: list[bool], y: float, name: str, color: str, yaxis: str = "y"
) -> go.Scatter:
    """A row of dots at height `y` where `marked` is true."""
    return go.Scatter(
        x=[w for w, mark in zip(when, marked, strict=True) if mark],
        y=[y] * sum(marked),
        yaxis=yaxis,
        mode="markers",
        name=name,
        marker={"size": 3, "color": color},
    )
