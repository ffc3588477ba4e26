"""Dead letters are rate-limited per sensor and reason; what is left out is counted."""

from __future__ import annotations

import pickle

from dataflows.flow.dead_letter_limit import DeadLetterLimiter
from dataflows.messages.schema import DeadLetter

MINUTE = 60_000


def letter(ms: int, sensor: str | None, reason: str = "bad_json: x", n: int = 0) -> DeadLetter:
    return DeadLetter(ms, "kafka", f"t/0/{n}", sensor, reason, "{")


def test_a_broken_gateway_at_10000_messages_a_second_writes_a_bounded_number_of_rows():
    limiter = DeadLetterLimiter(per_key=10, per_minute=1_000)
    written = []
    for second in range(120):  # two minutes of 10,000 broken messages a second
        batch = [
            letter(second * 1000 + i // 10, "gw-1", n=second * 10_000 + i) for i in range(10_000)
        ]
        written += limiter.admit(batch)
    written += limiter.flush()
    individual = [w for w in written if not w.reason.startswith("rate_limited")]
    summaries = [w for w in written if w.reason.startswith("rate_limited")]
    assert len(individual) == 20 and len(summaries) == 2  # 10 a minute, one summary each
    counted = sum(int(s.reason.split()[1]) for s in summaries)
    assert counted + len(individual) == 1_200_000  # nothing silently dropped
    assert summaries[0].position == "t/0/10..t/0/599999"


def test_many_sensors_share_the_minutes_budget_and_their_summaries_are_bounded():
    limiter = DeadLetterLimiter(per_key=10, per_minute=100)
    batch = [letter(i, f"s{i}", n=i) for i in range(50_000)]  # 50,000 random sensor ids
    written = limiter.admit(batch) + limiter.flush()
    individual = [w for w in written if not w.reason.startswith("rate_limited")]
    summaries = [w for w in written if w.reason.startswith("rate_limited")]
    assert len(individual) == 100
    assert len(summaries) == 101  # 100 sensors, then "of other sensors" together
    assert sum(int(s.reason.split()[1]) for s in summaries) == 50_000 - 100
    assert "of other sensors" in summaries[-1].reason and summaries[-1].sensor_id is None


def test_reasons_are_limited_apart_and_the_count_survives_a_restart():
    limiter = DeadLetterLimiter(per_key=2, per_minute=1_000)
    first = limiter.admit([letter(0, "s", "bad_json: x", 0), letter(1, "s", "late: y", 1)])
    assert len(first) == 2
    resumed = DeadLetterLimiter(2, 1_000, pickle.loads(pickle.dumps(limiter.state())))
    more = resumed.admit([letter(2 + i, "s", "bad_json: x", 2 + i) for i in range(3)])
    assert [m.position for m in more] == ["t/0/2"]
    assert resumed.flush(now_ms=MINUTE - 1) == []  # the minute is not over yet
    (summary,) = resumed.flush(now_ms=MINUTE)
    assert summary.reason.startswith("rate_limited: 2 more bad_json dead letters of this sensor")
    assert summary.received_at == MINUTE - 1


def test_a_new_minute_starts_afresh_and_summarises_the_last():
    limiter = DeadLetterLimiter(per_key=1, per_minute=1_000)
    out = limiter.admit([letter(0, "s", n=0), letter(1, "s", n=1), letter(MINUTE, "s", n=2)])
    assert [o.position for o in out] == ["t/0/0", "t/0/1..t/0/1", "t/0/2"]
