"""Writes the JSON Schemas of the output records, schemas/<topic>.json
(schemas/standards.*.json): one per output topic, for the platform's
consumers of those topics (the input events' are schemas/<type>.json). Edit
them here, then run

    .venv/bin/python scripts/output_schemas.py          # rewrite schemas/standards.*.json
    .venv/bin/python scripts/output_schemas.py --check  # exit 1 if they differ from this file

tests/unit/test_output_schemas.py fails when the JSON is not what this file
writes, validates every record of a simulated marketplace's run against
them, with no field left out of them, and SPEC 6.1's example record.

Objects are open (additional properties allowed): SPEC 6.1 lets fields be
added to a record, never renamed, so a consumer validating with these
schemas keeps working when a later version adds one.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from generated import write_or_check
from standards.judge import AREA_BADGES, STANDARDS
from streams.processor import STATUSES
from streams.topics import INPUT_TOPICS

OUT = Path(__file__).resolve().parent.parent / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

TIME = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,5}[1-9])?Z$",
        "description": "UTC with Z, with a fraction only when it is not zero, trailing zeros dropped (SPEC 6.1)."}
DAY = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
       "description": "A day of the policy's time zone (UTC by default)."}
MONTH = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"}
MONEY = {"type": "string", "pattern": r"^(0|[1-9][0-9]*)\.[0-9]{2}$",
         "description": "Order totals summed exactly, with two decimals (SPEC 6.1)."}
COUNT = {"type": "integer", "minimum": 0}
ID = {"type": "string", "minLength": 1}
PERCENT = {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", "description": "The policy's percent."}


def obj(description: str = "", **properties) -> dict:
    """An object with every one of `properties` required."""
    schema = {"type": "object", "required": list(properties), "properties": properties}
    return {"description": description, **schema} if description else schema


def const(value: str) -> dict:
    return {"const": value}


PERIOD = obj("The period's first and last day: the three months before the evaluated one, or the period to date "
             "(the clock's month and the two before it, to the clock's day).", start=DAY, end=DAY)
FRACTION = obj(numerator=COUNT, denominator=COUNT)
CRITERIA = obj(
    "Star Seller's criteria (SPEC 1, 6.1): a skipped criterion (no threads, no physical orders, no reviews) holds.",
    message_response=obj("Threads answered within Star Seller's window (24 h) of those counted at it.",
                         numerator=COUNT, denominator=COUNT, holds={"type": "boolean"}),
    shipping=obj("Physical orders shipped on time and with tracking where it is required, of those counted.",
                 numerator=COUNT, denominator=COUNT, holds={"type": "boolean"}),
    reviews=obj("Sum and count of the ratings of the reviews counted.",
                rating_sum=COUNT, count=COUNT, holds={"type": "boolean"}),
    case_rate=obj("The case-rate rule applied to the numbers, whatever the standard's status.",
                  holds={"type": "boolean"}),
    volume=obj(orders=COUNT, amount=MONEY, holds={"type": "boolean"}),
    tenure=obj(first_sale_at={**TIME, "type": ["string", "null"],
                              "description": "The seller's earliest order placed and not cancelled (null: none)."},
               holds={"type": "boolean"}),
)
BADGES = {"type": "array", "items": {"enum": list(AREA_BADGES)}, "uniqueItems": True,
          "description": "The per-area badges earned, in this order: " + ", ".join(AREA_BADGES) + "."}
SALES = obj("Orders placed and not cancelled in the period, their totals, and the seller's first sale.",
            orders=COUNT, amount=MONEY, first_sale_at=CRITERIA["properties"]["tenure"]["properties"]["first_sale_at"])
STATUS = {"enum": list(STATUSES)}
RATE = {"type": ["string", "null"], "pattern": r"^(0|[1-9][0-9]*)\.[0-9]$",
        "description": "numerator / denominator in percent, rounded down to one decimal; null when the denominator "
                       "is 0. Above 100 only for the case rate, whose cases need not be of completed orders."}
THRESHOLDS = {
    "message_response": obj(min_percent=PERCENT),
    "on_time_shipping": obj(min_percent=PERCENT),
    "review_rating": {"oneOf": [obj("Fewer reviews than the policy's percent regime.", max_low_reviews=COUNT),
                                obj(max_low_percent=PERCENT)]},
    "case_rate": {"oneOf": [obj("Fewer completed orders than the policy's percent regime.", max_cases=COUNT),
                            obj(max_case_percent=PERCENT)]},
}
EVIDENCE = {  # the numerator and the rest of the denominator; for the case rate, cases and completed orders
    "message_response": obj(answered=COUNT, missed=COUNT),
    "on_time_shipping": obj(on_time=COUNT, late=COUNT),
    "review_rating": obj(low_reviews=COUNT, other_reviews=COUNT),
    "case_rate": obj(cases=COUNT, completed_orders=COUNT),
}


def topic_schema(topic: str, description: str, record: dict) -> dict:
    return {"$schema": DRAFT, "title": topic, "description": description, **record}


def evaluations() -> dict:
    standard = obj(numerator=COUNT, denominator=COUNT, status=STATUS, consecutive_months_not_met=COUNT)
    return topic_schema("standards.evaluations", (
        "One record per seller and month M (SPEC 6.1), as of M's evaluation instant: for every seller with a sale, "
        "a counted thread, order or review, or a completed order attributed to the three months before M. "
        "Numerators / denominators: answered / counted threads at the standard's window (48 h), on-time / counted "
        "physical orders, low / all reviews, counted cases / completed orders. Key: seller_id."), obj(
        seller_id=ID, month=MONTH, period=PERIOD, policy=ID, sales=SALES,
        standards=obj(**{name: standard for name in STANDARDS}),
        star_seller=obj(eligible={"type": "boolean"}, criteria=CRITERIA),
        badges=BADGES))


def scorecards() -> dict:
    return topic_schema("standards.scorecards", (
        "A seller's period to date (compacted: the latest per seller is its card), sent whenever its numbers "
        "change, coalesced. Key: seller_id."), obj(
        seller_id=ID, as_of={**TIME, "description": "The partition clock the card is as of."}, period=PERIOD,
        policy=ID, sales=SALES,
        standards=obj(**{name: obj(numerator=COUNT, denominator=COUNT, rate=RATE, status=STATUS,
                                   threshold=THRESHOLDS[name]) for name in STANDARDS}),
        star_seller=obj(eligible={"type": "boolean"}, criteria=CRITERIA),
        badges=BADGES))


def violations() -> dict:
    def change(standard: str) -> dict:
        return obj(type={"enum": ["violation.opened", "violation.resolved"]}, violation_id={
            **ID, "description": "seller_id/standard/n: the same on its opening and its resolution."},
            seller_id=ID, standard=const(standard), as_of=TIME, period=PERIOD, numerator=COUNT,
            denominator=COUNT, rate=RATE, threshold=THRESHOLDS[standard], evidence=EVIDENCE[standard])

    return topic_schema("standards.violations", (
        "A standard's live status changed to not_met (violation.opened, when none is open) or back to met "
        "(violation.resolved); one record per change, never repeated on replay or restart. Key: seller_id."),
        {"oneOf": [change(standard) for standard in STANDARDS]})


def badges() -> dict:
    return topic_schema("standards.badges", (
        "Badge eligibility changes (star_seller and the area badges), each day's progress of a seller whose "
        "numbers changed that day, and the monthly award with each evaluation record. Key: seller_id."),
        {"oneOf": [
            obj("Live eligibility for a badge changed.", type=const("badge.eligibility_changed"), seller_id=ID,
                badge={"enum": ["star_seller", *AREA_BADGES]}, eligible={"type": "boolean"}, as_of=TIME,
                period=PERIOD, criteria=CRITERIA),
            obj("At most one per seller and day of the partition clock.", type=const("badges.daily_progress"),
                seller_id=ID, day=DAY, as_of=TIME, period=PERIOD, star_seller={"type": "boolean"},
                criteria=CRITERIA, badges=BADGES),
            obj("With each monthly evaluation record: the award or its absence.", type=const("badges.monthly"),
                seller_id=ID, month=MONTH, star_seller={"type": "boolean"}, criteria=CRITERIA, badges=BADGES),
        ]})


def alerts() -> dict:
    common = {"seller_id": ID, "as_of": TIME, "deadline": TIME,
              "time_left_seconds": {**COUNT, "description": "Whole seconds from as_of to the deadline."}}
    return topic_schema("standards.alerts", (
        "A counted thread still unanswered the policy's lead before one of its deadlines, or an order unshipped "
        "on its ship-by day; once per item and deadline. Key: seller_id."), {"oneOf": [
            obj(type=const("thread.deadline_approaching"), item=obj(kind=const("thread"), id=ID),
                window_hours={"type": "integer", "minimum": 1, "description": (
                    "The window of the deadline: the standard's (48 h by default) or Star Seller's (24 h).")},
                **common),
            obj(type=const("order.deadline_approaching"), item=obj(kind=const("order"), id=ID), **common),
        ]})


def deadletter() -> dict:
    reason = {"type": "string", "minLength": 1, "description": "Why, for a person to act on."}
    code = {"type": "string", "minLength": 1, "description": "seller_standards_deadletters_total's reason label."}
    original = {"type": ["string", "null"], "contentEncoding": "base64",
                "description": "The record's bytes as read (null: a Kafka record with a null value)."}
    return topic_schema("standards.deadletter", (
        "An input record that is not a valid event (SPEC 2), or a valid one the worker failed on "
        "(processing_error), with its bytes and where it was. A backfill's --dead-letters file has the line "
        "of the events file instead of topic, partition and offset."), {"oneOf": [
            obj(topic={"enum": list(INPUT_TOPICS)}, partition=COUNT, offset=COUNT, code=code, reason=reason,
                original_base64=original),
            obj(line={"type": "integer", "minimum": 1}, code=code, reason=reason, original_base64=original),
        ]})


def render() -> dict[str, str]:
    schemas = [evaluations(), scorecards(), violations(), badges(), alerts(), deadletter()]
    return {f"{schema['title']}.json": json.dumps(schema, indent=2) + "\n" for schema in schemas}


def main(argv: list[str]) -> int:
    return write_or_check(OUT, render(), "scripts/output_schemas.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
