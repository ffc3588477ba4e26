"""Fewer, cheaper items between workers: a sensor's readings in one item, rows per partition."""

from __future__ import annotations

import math
import pickle
import zlib
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import StatefulSinkPartition
from bytewax.testing import TestingSource, run_main
from hypothesis import given
from hypothesis import strategies as st

from dataflows.flow.sensor_readings import SensorReadings
from dataflows.lake.rows import Rows
from dataflows.lake.tables import AlertClosure, AlertRow, ReadingRow
from dataflows.messages.schema import Reading
from dataflows.settings import Settings
from dataflows.sinks.lake import LakeSink

POSITIONS = st.one_of(
    st.none(),
    st.sampled_from([0.0, -0.0, 52.5]),
    st.floats(allow_nan=True, allow_infinity=True),
)
READINGS = st.lists(
    st.builds(
        lambda ts, value, district, lat, origin: Reading(
            "noise-1", "noise", ts, {"laeq": value}, district, lat, 13.4, origin
        ),
        ts=st.integers(0, 2**62),
        value=st.floats(allow_nan=False),
        district=st.sampled_from([None, "north", "south"]),
        lat=POSITIONS,
        origin=st.one_of(st.none(), st.tuples(st.just("p"), st.integers(0, 10**9))),
    ),
    min_size=1,
    max_size=20,
)


def same_bits(a: object, b: object) -> bool:
    """Equal, of the same type, and for floats the same sign and NaN-ness."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        both_nan = math.isnan(a) and math.isnan(b)
        return both_nan or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
    return a == b


@given(READINGS)
def test_a_pickled_group_gives_back_every_reading_field_for_field(readings):
    again = pickle.loads(pickle.dumps(SensorReadings(readings)))
    assert len(again) == len(readings)
    for before, after in zip(readings, again.readings, strict=True):
        assert type(after) is Reading
        assert all(same_bits(x, y) for x, y in zip(before, after, strict=True))
    values = [id(r.values) for r in again.readings]
    assert len(set(values)) == len(values)  # no reading shares another's dict


def test_a_field_is_packed_once_only_when_every_reading_has_it_exactly():
    first = Reading("noise-1", "noise", 1, {"laeq": 1.0}, "north", 0.0, 1, ("p", 1))
    group = SensorReadings([first, first._replace(ts_ms=2, lat=-0.0, lon=1.0)])
    _, (count, columns) = group.__reduce__()
    once = [name for name, (single, _) in zip(Reading._fields, columns, strict=True) if single]
    assert count == 2 and once == ["sensor_id", "type", "district"]


def test_a_group_costs_a_fraction_of_its_readings_pickled_one_by_one():
    readings = [
        Reading(f"noise-{7:04d}", "noise", t, {"laeq": 50.0 + t}, "north", 52.5, 13.4, ("p", t))
        for t in range(12)
    ]
    alone = sum(len(pickle.dumps(("noise-0007", r))) for r in readings)
    grouped = len(pickle.dumps(("noise-0007", SensorReadings(readings))))
    assert grouped < alone / 3


def rows_of(key: str, offset: int) -> tuple[str, Rows]:
    rows = Rows(readings=[ReadingRow(key, offset, "laeq", 1.0, None, False)])
    rows.note(("p", offset))
    return key, rows


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=40), st.integers(1, 5))
def test_gathered_rows_go_to_a_partition_by_their_key_and_keep_everything(ids, partitions):
    sink = LakeSink(Settings(sink_partitions=partitions))
    batch = [rows_of(f"sensor-{i}", offset) for offset, i in enumerate(ids)]
    gathered = sink.gather(batch)

    def partition(key: str) -> str:
        return sorted(sink.list_parts())[zlib.crc32(key.encode()) % partitions]

    assert len(gathered) == len({partition(key) for key, _ in batch})
    for name, rows in gathered:
        parts = [r for k, r in batch if partition(k) == name]
        assert [row for r in parts for row in r.readings] == rows.readings
        assert rows.origins == {"p": (min(r.origins["p"][0] for r in parts),
                                      max(r.origins["p"][1] for r in parts))}  # fmt: skip
    assert all(len(r.readings) == 1 for _, r in batch)  # the parts themselves are untouched


def test_once_a_partition_is_built_in_this_process_rows_go_to_it_but_alerts_by_their_key(
    tmp_path,
):
    sink = LakeSink(Settings(lake=tmp_path / "lake", sink_partitions=3, metrics_port=0))
    batch = [rows_of(f"sensor-{i}", i) for i in range(30)]
    opening = AlertRow("a1", "sensor-7", "noise", "anomaly", "laeq", 1, None, 0.9, 1, "d", "warn",
                       None, None)  # fmt: skip
    closing = AlertClosure("a2", 9, 0.9, "laeq", 3, "warn")
    alerting = [("sensor-7", Rows(alerts=[opening])), ("sensor-8", Rows(alert_closures=[closing]))]
    assert len({name for name, _ in sink.gather(batch)}) == 3
    partition = sink.build_part("lake", "lake-1", None)
    try:
        gathered = sink.gather(batch)
        alerts = sink.gather(alerting)
    finally:
        partition.close()
    assert [name for name, _ in gathered] == ["lake-1"]
    assert gathered[0][1].readings == [row for _, r in batch for row in r.readings]
    # an alert's closing must be committed after its opening: both go by their key, always
    everywhere = sorted(sink.list_parts())
    assert sorted((name, len(rows.alerts), len(rows.alert_closures)) for name, rows in alerts) == (
        sorted(
            [
                (everywhere[zlib.crc32(b"sensor-7") % 3], 1, 0),
                (everywhere[zlib.crc32(b"sensor-8") % 3], 0, 1),
            ]
        )
    )


class _Recorded(StatefulSinkPartition[Rows, None]):
    def __init__(self, name: str, seen: list[tuple[str, Rows]]) -> None:
        self.name, self.seen = name, seen

    def write_batch(self, items: list[Rows]) -> None:
        self.seen.extend((self.name, rows) for rows in items)

    def snapshot(self) -> None:
        return None


class _RecordingLakeSink(LakeSink):
    """The lake sink's partitions and routing, with partitions that only record."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.seen: list[tuple[str, Rows]] = []

    def build_part(self, step_id: str, for_part: str, resume_state: object | None) -> Any:
        return _Recorded(for_part, self.seen)


def test_bytewax_delivers_rows_keyed_by_a_partitions_name_to_that_partition():
    sink = _RecordingLakeSink(Settings(sink_partitions=12))  # "lake-10" sorts before "lake-2"
    names = sink.list_parts()
    flow = Dataflow("routing")
    keyed = op.input("in", flow, TestingSource([rows_of(name, k) for k, name in enumerate(names)]))
    op.output("lake", keyed, sink)
    run_main(flow)
    assert sorted((name, rows.readings[0].sensor_id) for name, rows in sink.seen) == sorted(
        (name, name) for name in names
    )
