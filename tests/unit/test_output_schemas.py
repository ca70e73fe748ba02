"""The JSON Schemas of the output records (schemas/standards.*.json, written by
scripts/output_schemas.py): up to date, met by every record a simulated
marketplace's run gives on each output topic with no field left out of
them, and by SPEC 6.1's example record, which they tell from records
printed otherwise."""
from __future__ import annotations

import asyncio
import copy
import json
import re
from collections import defaultdict
from pathlib import Path

import fastjsonschema
import orjson
import pytest

from schemas.validate import parse_timestamp
from standards.policy import Policy
from streams.output_json import dead_letter_record
from streams.processor import Processor
from streams.simulate import simulate
from streams.topics import OUTPUT_TOPICS

from scenario import Scenario, published

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = {topic: json.loads((ROOT / "schemas" / f"{topic}.json").read_text()) for topic in OUTPUT_TOPICS}


def closed(schema):
    """The schema with no property allowed beyond those it names, at every level."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(value) for value in schema]
    return schema


VALIDATORS = {topic: fastjsonschema.compile(closed(schema)) for topic, schema in SCHEMAS.items()}


def test_the_schemas_are_what_scripts_output_schemas_py_writes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import output_schemas
    assert output_schemas.render() == {f"{topic}.json": (ROOT / "schemas" / f"{topic}.json").read_text()
                                       for topic in OUTPUT_TOPICS}, "run python scripts/output_schemas.py"


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict]]:
    """Every output record (topic -> records) of 80 simulated sellers over 200
    days with two bad records, published as `replay` does and applied as a
    worker applies them, with a recount and a commit every 500 records."""
    lines = [orjson.dumps(e) for e in simulate(80, parse_timestamp("2025-09-01T00:00:00Z"), days=200, seed=5)]
    lines.insert(1000, orjson.dumps({"event_id": "x", "type": "review.posted", "seller_id": "s",
                                     "occurred_at": "2026-01-01T00:00:00Z", "review_id": "r", "order_id": "o",
                                     "rating": 9}))
    lines.insert(2000, b'{"type": "order.placed", "seller_id": "s"}')
    written = defaultdict(list)

    def write(topic: str, partition: int, key: bytes, value: bytes) -> None:
        if topic in OUTPUT_TOPICS:  # not the state (MessagePack)
            written[topic].append(orjson.loads(value))

    processor = Processor(Policy(), write, "state")

    async def committed() -> None:
        processor.refresh(10**9)
        await processor.flush_in_slices(10**9)
        processor.release()

    async def run() -> None:
        for offset, (topic, partition, value) in enumerate(published(lines, 8)):
            processor.handle(topic, partition, offset, None, value)
            if offset % 500 == 0:
                await committed()
        await committed()

    asyncio.run(run())
    return written


def _invalid(topic: str, records: list[dict]) -> list[str]:
    failures = []
    for record in records:
        try:
            VALIDATORS[topic](record)
        except fastjsonschema.JsonSchemaValueException as error:
            failures.append(f"{error.message}: {json.dumps(record)[:300]}")
    return failures


@pytest.mark.parametrize("topic", sorted(OUTPUT_TOPICS))
def test_every_record_of_the_run_meets_its_topic_schema_with_no_field_left_out(records, topic):
    assert records[topic]
    assert _invalid(topic, records[topic])[:3] == []


@pytest.mark.parametrize("topic", ["standards.violations", "standards.badges", "standards.alerts"])
def test_the_run_has_records_of_every_kind_the_topics_schema_names(records, topic):
    """So that each branch of a schema is checked against records (a
    backfill's dead letters are below)."""
    def meets(validate, record: dict) -> bool:
        try:
            validate(record)
            return True
        except fastjsonschema.JsonSchemaValueException:
            return False

    branches = [fastjsonschema.compile(closed(branch)) for branch in SCHEMAS[topic]["oneOf"]]
    assert [any(meets(branch, record) for record in records[topic]) for branch in branches] == [True] * len(branches)


def test_a_backfills_dead_letter_meets_the_dead_letter_schema():
    record = orjson.loads(dead_letter_record(b"{", "not_json", "event is not valid JSON", line=3))
    assert _invalid("standards.deadletter", [record]) == []
    assert _invalid("standards.deadletter", [{**record, "line": 0}]) != []


def _spec_example() -> dict:
    """The evaluation record shown in SPEC section 6.1."""
    spec = (ROOT / "docs/SPEC.md").read_text()
    (example,) = re.findall(r"### 6\.1 The evaluation record.*?```json\n(.*?)```", spec, re.S)
    return json.loads(example)


def test_specs_example_evaluation_record_meets_the_schema():
    assert _invalid("standards.evaluations", [_spec_example()]) == []


def _changed(path: str, value) -> dict:
    record = copy.deepcopy(_spec_example())
    *parents, last = path.split(".")
    target = record
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return record


@pytest.mark.parametrize("path, value", [
    ("sales.amount", "845.5"),  # SPEC 6.1: money printed with two decimals
    ("sales.amount", 845.5),
    ("sales.first_sale_at", "2025-06-02T10:00:00.000Z"),  # a fraction only when it is not zero
    ("sales.first_sale_at", "2025-06-02T10:00:00.500Z"),  # trailing zeros dropped
    ("sales.first_sale_at", "2025-06-02T10:00:00+00:00"),  # UTC with Z
    ("standards.case_rate.status", "passing"),  # one of met, not_met, not_applicable, not_enough_data
    ("standards.review_rating.consecutive_months_not_met", KeyError),  # none of the fields renamed
    ("star_seller.criteria.tenure.holds", "true"),
    ("month", "2026-3"),
    ("period.start", "2025-12-01T00:00:00Z"),
    ("badges", ["star_seller"]),  # the per-area badges only
])
def test_an_evaluation_record_printed_otherwise_does_not_meet_the_schema(path, value):
    assert _invalid("standards.evaluations", [_changed(path, value)]) != []


def test_a_case_rate_above_100_percent_meets_the_scorecard_schema():
    """SPEC 4: a counted case need not be of a completed order. 5 digital
    sales (5 completed orders) and 6 cases refunded by the seller on
    physical orders not shipped: 6 / 5 = 120.0 %."""
    sc = Scenario()
    sc.heartbeat("2026-03-01T00:00:00Z")
    sc.digital_sales("s", 5, "2026-03-02T10:00:00Z")
    for n in range(6):
        sc.order("s", f"o{n}", "2026-03-02T11:00:00Z", ship_by="2026-03-20T00:00:00Z")
        sc.case_opened("s", f"c{n}", f"o{n}", "2026-03-03T10:00:00Z")
        sc.case_closed("s", f"c{n}", "2026-03-04T10:00:00Z")
    sc.heartbeat("2026-03-05T00:00:00Z")
    card = sc.scorecards["s"]
    assert (card["standards"]["case_rate"]["numerator"], card["standards"]["case_rate"]["denominator"],
            card["standards"]["case_rate"]["rate"]) == (6, 5, "120.0")
    assert _invalid("standards.scorecards", [card]) == []
