"""Steps that tally their work: items given, seconds of their own code, records per source.

`metered` wraps a batch function (a `flat_map_batch` step), `MeteredLogic` a stateful
step's logic; both add to the process's tallies (`dataflows.telemetry.tallies`), which the
lake sink samples into `flow_metrics` and `/metrics`. The logic's state and snapshots are
its own: wrapping it changes nothing that recovery stores.

>>> from dataflows.telemetry.tallies import Tallies
>>> tallies = Tallies(started_s=0.0)
>>> double = metered(lambda batch: [2 * x for x in batch], "step:double@p0", tallies)
>>> double([1, 2, 3])
[2, 4, 6]
>>> [(metric, value) for _, _, metric, value in tallies.sample(1_000, now_s=1.0)][:2]
[('items', 3.0), ('items_per_s', 3.0)]

With `by_source`, the records of each source partition (a gap's marker is not a record):

>>> from dataflows.messages.schema import DataGap, SourceRecord
>>> check = metered(lambda batch: [], "step:validate@p0", tallies, by_source=True)
>>> _ = check([SourceRecord("sim-0", 7, {}), DataGap("sim-0", 8, 9, 0, "retention")])
>>> {scope: v for _, scope, m, v in tallies.sample(2_000, now_s=2.0) if m == "items"}
{'step:double@p0': 0.0, 'step:validate@p0': 2.0, 'source:sim-0': 1.0}
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

from bytewax.operators import StatefulBatchLogic

from dataflows.messages.schema import DataGap
from dataflows.telemetry.tallies import TALLIES, Tallies

V = TypeVar("V")
W = TypeVar("W")
S = TypeVar("S")


def metered(
    step: Callable[[list], list],
    scope: str,
    tallies: Tallies = TALLIES,
    by_source: bool = False,
) -> Callable[[list], list]:
    """`step`, tallied under `scope`; with `by_source`, also each record's source partition."""

    def run(batch: list) -> list:
        started = time.perf_counter()
        out = step(batch)
        tallies.add(scope, len(batch), time.perf_counter() - started)
        if by_source:  # records, not the markers of records a source could not deliver
            parts = Counter(
                getattr(record, "source_partition", None)
                for record in batch
                if not isinstance(record, DataGap)
            )
            for part, count in parts.items():
                if part is not None:
                    tallies.add(f"source:{part}", count)
        return out

    return run


class MeteredLogic(StatefulBatchLogic[V, W, S], Generic[V, W, S]):
    """A stateful step's logic, tallied under `scope` (its values and the time it takes).

    `size` counts a batch's items (its length, unless the values are groups of records).
    """

    def __init__(
        self,
        logic: StatefulBatchLogic[V, W, S],
        scope: str,
        tallies: Tallies = TALLIES,
        size: Callable[[list[V]], int] = len,
    ) -> None:
        self.logic = logic
        self.scope = scope
        self.tallies = tallies
        self.size = size

    def on_batch(self, values: list[V]) -> tuple[Iterable[W], bool]:
        started = time.perf_counter()
        out = self.logic.on_batch(values)
        self.tallies.add(self.scope, self.size(values), time.perf_counter() - started)
        return out

    def on_notify(self) -> tuple[Iterable[W], bool]:
        return self._timed(self.logic.on_notify)

    def on_eof(self) -> tuple[Iterable[W], bool]:
        return self._timed(self.logic.on_eof)

    def _timed(self, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        out = call()
        self.tallies.add(self.scope, 0, time.perf_counter() - started)
        return out

    def notify_at(self) -> datetime | None:
        return self.logic.notify_at()

    def snapshot(self) -> S:
        return self.logic.snapshot()
