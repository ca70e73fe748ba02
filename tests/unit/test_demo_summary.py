"""The demo's live summary line, from output records fed to it by hand."""
import orjson

from schemas.validate import parse_timestamp
from standards.engine import EVALUATIONS, SCORECARDS, VIOLATIONS
from standards.judge import STANDARDS
from streams.demo import Summary


def card(seller, statuses, star=False):
    return orjson.dumps({"seller_id": seller, "star_seller": {"eligible": star},
                         "standards": {name: {"status": status} for name, status in zip(STANDARDS, statuses)}})


def test_the_line_counts_each_sellers_latest_card_violations_and_evaluations():
    summary = Summary()
    summary.take(SCORECARDS, card("s-1", ["met", "not_met", "met", "not_applicable"], star=True))
    summary.take(SCORECARDS, card("s-2", ["not_met", "not_met", "not_enough_data", "met"]))
    # s-1's newer card replaces its first: shipping met, no longer a Star Seller
    summary.take(SCORECARDS, card("s-1", ["met", "met", "met", "not_applicable"]))
    summary.take(VIOLATIONS, orjson.dumps({"type": "violation.opened"}))
    summary.take(VIOLATIONS, orjson.dumps({"type": "violation.opened"}))
    summary.take(VIOLATIONS, orjson.dumps({"type": "violation.resolved"}))
    summary.take(EVALUATIONS, orjson.dumps({"seller_id": "s-1", "month": "2026-02"}))
    line = summary.line(parse_timestamp("2026-01-18T19:30:00Z"), 17536)
    assert line == ("2026-01-18 19h | events 17,536 | sellers 2"
                    " | met/not met: message 1/1 shipping 1/1 reviews 1/0 cases 1/0"
                    " | star 0 | violations +2/-1 (open 1) | evaluations 1")
