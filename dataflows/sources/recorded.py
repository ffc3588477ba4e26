"""Recorded CSV and Parquet files as one Bytewax source, in event-time order.

Each file is one device (sensor id = its path relative to the replay root, without the
extension, e.g. `valve1/3`) of the open type `recorded`; every numeric column but the time
and label columns is one of its metrics. Label columns (for SKAB: `anomaly`, `changepoint`)
are not fed to the models: their runs of non-zero values become ground-truth `Label`s. DuckDB
reads the files (the CSV delimiter is detected, `;` as in SKAB); the files are merged by
time, so the flow sees the recording as it happened. A naive time column is read as UTC.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from dataflows.lake.connection import one
from dataflows.messages.schema import RECORDED, Label, SourceRecord

PARTITION = "replay"
_BATCH = 5_000
_NUMERIC = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "DECIMAL", "HUGEINT")


@dataclass(frozen=True)
class ReplaySpec:
    """What to replay and how to read it."""

    files: tuple[Path, ...]
    root: Path
    time_column: str | None = None
    time_format: str | None = None
    value_columns: tuple[str, ...] | None = None
    label_columns: tuple[str, ...] = ()
    progress: bool = True

    @classmethod
    def from_pattern(cls, pattern: str, **options: object) -> ReplaySpec:
        """Files matching a path, a folder (every CSV/Parquet file under it) or a glob."""
        path = Path(pattern).expanduser()
        if path.is_dir():
            root = path
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".csv", ".parquet"))
        elif path.is_file():
            root, files = path.parent, [path]
        else:  # a glob: the root is the part before the first wildcard
            parts = path.parts
            first = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), None)
            if first is None:
                raise FileNotFoundError(f"no such file or folder: {pattern}")
            root = Path(*parts[:first]) if first else Path(".")
            files = sorted(
                p
                for p in root.glob(str(Path(*parts[first:])))
                if p.suffix.lower() in (".csv", ".parquet")
            )
        if not files:
            raise FileNotFoundError(f"no CSV or Parquet file matches {pattern!r}")
        return cls(tuple(files), root, **options)  # type: ignore[arg-type]


@dataclass
class _File:
    sensor_id: str
    path: Path
    time_column: str
    values: list[str]
    labels: list[str] = field(default_factory=list)


def _read(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    if path.suffix.lower() == ".parquet":
        return con.read_parquet(str(path))
    return con.read_csv(str(path), header=True)


def plan(spec: ReplaySpec, con: duckdb.DuckDBPyConnection) -> list[_File]:
    """Which columns of each file are time, values and labels."""
    files = []
    for path in spec.files:
        relation = _read(con, path)
        columns = dict(zip(relation.columns, (str(t) for t in relation.dtypes), strict=True))
        time_column = spec.time_column or next(
            (c for c in columns if any(w in c.lower() for w in ("time", "date", "ts"))),
            next(iter(columns)),
        )
        if time_column not in columns:
            raise ValueError(f"{path}: no time column {time_column!r}; columns: {list(columns)}")
        labels = [c for c in spec.label_columns if c in columns]  # a file may have none
        if spec.value_columns is not None:
            values = [c for c in spec.value_columns if c in columns]
        else:
            values = [
                c
                for c, kind in columns.items()
                if c != time_column
                and c not in spec.label_columns
                and kind.split("(")[0] in _NUMERIC
            ]
        sensor_id = str(path.relative_to(spec.root).with_suffix(""))
        files.append(_File(sensor_id, path, time_column, values, labels))
    unknown = set(spec.label_columns) - {c for f in files for c in f.labels}
    if unknown:
        raise ValueError(f"no file has the label column(s) {sorted(unknown)}")
    return files


def _time_expr(column: str, time_format: str | None) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    if time_format:
        return f"epoch_ms(strptime(CAST({quoted} AS VARCHAR), '{time_format}'))"
    return f"epoch_ms(CAST({quoted} AS TIMESTAMP))"


def _rows(con: duckdb.DuckDBPyConnection, spec: ReplaySpec, f: _File) -> Iterator[tuple]:
    """(ts_ms, order, message) of one file, in time order."""
    # each file streams on its own cursor: a new query on a cursor ends the previous one's
    relation = _read(con.cursor(), f.path)
    ts = _time_expr(f.time_column, spec.time_format)
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in f.values + f.labels)
    query = relation.query("_f", f"SELECT {ts} AS _ts, {cols} FROM _f ORDER BY _ts")
    n_values = len(f.values)
    while chunk := query.fetchmany(_BATCH):
        for row in chunk:
            values = {
                name: float(v)
                for name, v in zip(f.values, row[1 : 1 + n_values], strict=True)
                if v is not None
            }
            message = {"sensor_id": f.sensor_id, "type": RECORDED, "ts": row[0], "values": values}
            yield row[0], 1, message


def _labels(con: duckdb.DuckDBPyConnection, spec: ReplaySpec, f: _File) -> list[tuple]:
    """Runs of non-zero values of each label column, as (start, 0, Label)."""
    out = []
    ts = _time_expr(f.time_column, spec.time_format)
    for column in f.labels:
        quoted = '"' + column.replace('"', '""') + '"'
        runs = (
            _read(con, f.path)
            .query(
                "_f",
                f"""
            WITH t AS (SELECT {ts} AS ts, coalesce(CAST({quoted} AS DOUBLE), 0) <> 0 AS on_
                       FROM _f),
                 g AS (SELECT ts, on_, sum(CASE WHEN on_ THEN 0 ELSE 1 END)
                       OVER (ORDER BY ts) AS grp FROM t)
            SELECT min(ts), max(ts) FROM g WHERE on_ GROUP BY grp ORDER BY 1
            """,
            )
            .fetchall()
        )
        for start, end in runs:
            out.append((start, 0, Label(f.sensor_id, column, None, start, end, None, "")))
    return out


class RecordedFilesSource(FixedPartitionedSource[SourceRecord, int]):
    """The files of a `ReplaySpec`, merged by time, as one partition."""

    def __init__(self, spec: ReplaySpec) -> None:
        self.spec = spec

    def list_parts(self) -> list[str]:
        return [PARTITION]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Replay:
        return _Replay(self.spec, resume_state or 0)


class _Replay(StatefulSourcePartition[SourceRecord, int]):
    def __init__(self, spec: ReplaySpec, offset: int) -> None:
        self.con = duckdb.connect()
        files = plan(spec, self.con)
        self.total = sum(one(_read(self.con, f.path).aggregate("count(*)"))[0] for f in files)
        streams = [_rows(self.con, spec, f) for f in files]
        labels = sorted(
            (item for f in files for item in _labels(self.con, spec, f)), key=lambda x: x[:2]
        )
        self.merged = heapq.merge(iter(labels), *streams, key=lambda x: (x[0], x[1]))
        self.offset = 0
        self.progress = spec.progress
        self.shown = 0.0
        self.rows = 0
        for _ in range(offset):  # resume: skip what was already emitted
            self._next()

    def _next(self) -> object:
        item = next(self.merged)[2]
        self.offset += 1
        if not isinstance(item, Label):
            self.rows += 1
        return item

    def next_batch(self) -> list[SourceRecord]:
        batch = []
        for _ in range(_BATCH):
            try:
                offset = self.offset
                batch.append(SourceRecord(PARTITION, offset, self._next()))
            except StopIteration:
                break
        self._show(final=not batch)
        if not batch:
            raise StopIteration
        return batch

    def _show(self, final: bool = False) -> None:
        now = time.monotonic()
        if not self.progress or (not final and now - self.shown < 1.0):
            return
        self.shown = now
        share = self.rows / self.total if self.total else 1.0
        bar = "#" * int(30 * share)
        print(
            f"\r[replay] [{bar:<30}] {self.rows:,}/{self.total:,} rows ({share:.0%})",
            end="\n" if final else "",
            file=sys.stderr,
            flush=True,
        )

    def snapshot(self) -> int:
        return self.offset

    def close(self) -> None:
        self.con.close()
