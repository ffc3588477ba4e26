"""The published contract (a JSON Schema from the catalogue) against the validator."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dataflows.catalogue.contract import json_schema
from dataflows.catalogue.load import load_catalogue
from dataflows.messages.limits import MessageLimits
from dataflows.messages.schema import validate
from tests.conftest import ROOT
from tests.dataflows.test_catalogue import city_catalogue

CATALOGUE = load_catalogue()
SCHEMA = Draft202012Validator(json_schema(CATALOGUE))
KAFKA = MessageLimits(allow_recorded=False)

READINGS = st.sampled_from(sorted(CATALOGUE.types)).flatmap(
    lambda sensor_type: st.fixed_dictionaries(
        {
            "sensor_id": st.from_regex(r"[a-z]{3,8}-[0-9]{1,4}", fullmatch=True),
            "type": st.just(sensor_type),
            "ts": st.one_of(
                st.integers(946_684_800_000, 4_102_444_799_999),
                st.datetimes(
                    datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.timezones()
                ).map(lambda t: t.isoformat()),
            ),
            "values": st.fixed_dictionaries(
                {},
                optional={
                    m.name: st.floats(m.low, m.high, allow_nan=False)
                    for m in CATALOGUE.metrics(sensor_type)
                },
            ).filter(bool),
        },
        optional={
            "district": st.text(st.characters(codec="utf-8", categories=["L", "N"]), max_size=64),
            "lat": st.floats(-90, 90),
            "lon": st.floats(-180, 180),
        },
    )
)

EVENTS = st.fixed_dictionaries(
    {
        "asset_id": st.from_regex(r"[a-z]{3,8}-[0-9]{1,4}", fullmatch=True),
        "type": st.sampled_from(sorted(CATALOGUE.asset_types)),
        "ts": st.integers(946_684_800_000, 4_102_444_799_999),
        "event": st.sampled_from(["failure", "repair", "maintenance"]),
    },
    optional={"rul_h": st.floats(0, 1e8)},
)

GOOD = {"sensor_id": "noise-7", "type": "noise", "ts": 1767600000000, "values": {"laeq": 61.5}}
BAD = {
    "unknown type": {**GOOD, "type": "boat"},
    "unknown metric": {**GOOD, "values": {"laeq": 61.5, "pm25": 3}},
    "out of range": {**GOOD, "values": {"laeq": 999}},
    "a string value": {**GOOD, "values": {"laeq": "61"}},
    "a boolean value": {**GOOD, "values": {"laeq": True}},
    "no values": {**GOOD, "values": {}},
    "no ts": {k: v for k, v in GOOD.items() if k != "ts"},
    "ts without offset": {**GOOD, "ts": "2026-01-05 08:00:00"},
    "ts before 2000": {**GOOD, "ts": 1},
    "ISO ts before 2000": {**GOOD, "ts": "1999-01-01T00:00:00Z"},
    "empty id": {**GOOD, "sensor_id": ""},
    "id with a newline": {**GOOD, "sensor_id": "a\nb"},
    "long id": {**GOOD, "sensor_id": "x" * 129},
    "lat out of range": {**GOOD, "lat": 91.0, "lon": 0.0},
    "recorded from Kafka": {**GOOD, "type": "recorded", "values": {"x": 1.0}},
    "an event of a sensor": {"asset_id": "noise-7", "type": "noise", "ts": 1767600000000,
                             "event": "failure"},
    "an unknown event": {"asset_id": "fan-1", "type": "fan", "ts": 1767600000000,
                         "event": "exploded"},
    "a negative RUL": {"asset_id": "fan-1", "type": "fan", "ts": 1767600000000,
                       "event": "maintenance", "rul_h": -1},
}  # fmt: skip


def test_the_published_contract_is_the_default_catalogues():
    published = json.loads((ROOT / "docs" / "contract.schema.json").read_text())
    assert published == json_schema(CATALOGUE), "run: just contract --out docs/contract.schema.json"
    Draft202012Validator.check_schema(published)


@settings(max_examples=200, deadline=None)
@given(st.one_of(READINGS, EVENTS))
def test_a_message_the_contract_accepts_is_stored_whole(message):
    assert SCHEMA.is_valid(message), list(SCHEMA.iter_errors(message))[:1]
    accepted, rejected = validate(message, "test", limits=KAFKA, catalogue=CATALOGUE)
    assert accepted is not None and rejected == []


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_message_the_contract_rejects_is_dead_lettered(case):
    message = BAD[case]
    assert not SCHEMA.is_valid(message)
    _, rejected = validate(message, "test", limits=KAFKA, catalogue=CATALOGUE)
    assert rejected, case


def test_a_new_type_is_in_its_catalogues_contract(tmp_path):
    schema = Draft202012Validator(json_schema(load_catalogue(city_catalogue(tmp_path))))
    message = {"sensor_id": "park-1", "type": "parking", "ts": "2026-01-05T08:00:00Z",
               "values": {"occupied_bays": 40, "free_share": 12.5}}  # fmt: skip
    assert schema.is_valid(message)
    assert not schema.is_valid({**message, "values": {"occupied_bays": 101}})
