"""A policy's time_zone (SPEC 3: "All calendar arithmetic is UTC unless the
policy names a time zone"): the zone's days and months, by hand.

America/Sao_Paulo is UTC-03:00 all year since 2019; Europe/Berlin moves from
+01:00 to +02:00 at 2026-03-29T01:00:00Z (02:00 local becomes 03:00);
America/Asuncion moved from -04:00 to -03:00 at 2023-10-01T04:00:00Z, the
first midnight of October (00:00 local became 01:00: October 1 had no
midnight), the one such change at a month's first midnight in any zone from
2020 to 2035.
"""
from __future__ import annotations

from scenario import Scenario
from schemas.validate import parse_timestamp
from standards.calendar import Calendar, month_index
from standards.engine import ALERTS, BADGES, EVALUATIONS
from standards.policy import Alerts, Policy


def test_the_calendar_of_a_zone():
    sao_paulo, berlin = Calendar("America/Sao_Paulo"), Calendar("Europe/Berlin")
    # 2026-02-01T02:59:59Z is 2026-01-31 23:59:59 in Sao Paulo, and 03:00:00Z is its February.
    assert sao_paulo.month_of(parse_timestamp("2026-02-01T02:59:59Z")) == month_index(2026, 1)
    assert sao_paulo.month_of(parse_timestamp("2026-02-01T03:00:00Z")) == month_index(2026, 2)
    assert sao_paulo.month_start(month_index(2026, 2)) == parse_timestamp("2026-02-01T03:00:00Z")
    assert sao_paulo.day_name(parse_timestamp("2026-02-01T02:59:59Z")) == "2026-01-31"
    # Berlin's April starts at 2026-03-31T22:00:00Z (+02:00), its March at 2026-02-28T23:00:00Z (+01:00).
    assert berlin.month_start(month_index(2026, 4)) == parse_timestamp("2026-03-31T22:00:00Z")
    assert berlin.month_start(month_index(2026, 3)) == parse_timestamp("2026-02-28T23:00:00Z")
    # 09:00 on the day of the change is 07:00Z (+02:00), not midnight (+01:00) plus 9 hours.
    assert berlin.at_hour(parse_timestamp("2026-03-29T20:00:00Z"), 9) == parse_timestamp("2026-03-29T07:00:00Z")
    # A day's hour in the jump (02:00 does not exist that day) is the jump.
    assert berlin.at_hour(parse_timestamp("2026-03-29T20:00:00Z"), 2) == parse_timestamp("2026-03-29T01:00:00Z")


def _sao_paulo_seller_with_five_sales_on_january_31_at_22h() -> Scenario:
    """Five digital sales of 60.00 at 2026-02-01T01:00Z: Jan 31, 22:00 in Sao Paulo."""
    sc = Scenario(Policy(time_zone="America/Sao_Paulo")).heartbeat("2026-01-31T12:00:00Z")
    return sc.digital_sales("s", 5, "2026-02-01T01:00:00Z")


def test_sales_on_the_zones_last_evening_of_january_count_in_january():
    """In the evaluation of February (period November to January), made at
    E = the zone's Feb 1 00:00 (03:00Z) + 24 h = 2026-02-02T03:00:00Z. In
    UTC they would be February's sales, in no record before April's."""
    sc = _sao_paulo_seller_with_five_sales_on_january_31_at_22h()
    assert sc.made(EVALUATIONS, lambda: sc.heartbeat("2026-02-02T02:59:59.999999Z")) == []
    (record,) = sc.made(EVALUATIONS, lambda: sc.heartbeat("2026-02-02T03:00:00Z"))
    assert (record["month"], record["period"]) == ("2026-02", {"start": "2025-11-01", "end": "2026-01-31"})
    assert record["sales"] == {"orders": 5, "amount": "300.00", "first_sale_at": "2026-02-01T01:00:00Z"}
    assert record["standards"]["case_rate"] == {"numerator": 0, "denominator": 5, "status": "met",
                                                "consecutive_months_not_met": 0}


def test_the_scorecard_and_the_daily_progress_are_of_the_zones_day():
    """At 2026-02-01T02:00Z it is Jan 31, 23:00 in Sao Paulo: the period to
    date is November to January 31 and the progress record's day is Jan 31;
    an hour later it is February: December to February 1."""
    sc = _sao_paulo_seller_with_five_sales_on_january_31_at_22h()
    (progress,) = [v for v in sc.made(BADGES, lambda: sc.heartbeat("2026-02-01T02:00:00Z"))
                   if v["type"] == "badges.daily_progress"]
    card = sc.scorecards["s"]
    assert (card["period"], card["as_of"]) == ({"start": "2025-11-01", "end": "2026-01-31"}, "2026-02-01T02:00:00Z")
    assert card["sales"]["orders"] == 5
    assert progress["day"] == "2026-01-31"
    days = [v["day"] for v in sc.made(BADGES, lambda: sc.heartbeat("2026-02-01T03:00:00Z"))
            if v["type"] == "badges.daily_progress"]
    assert sc.scorecards["s"]["period"] == {"start": "2025-12-01", "end": "2026-02-01"}
    assert days == ["2026-02-01"]


def test_an_unshipped_order_is_warned_at_the_alert_hour_of_the_zones_ship_by_day():
    """ship_by 2026-03-29T20:00Z is 22:00 on Berlin's March 29, the day its
    clocks move forward: with ship_day_alert_hour 9 the warning comes at
    09:00 +02:00 = 07:00Z, 13 hours before the deadline."""
    policy = Policy(time_zone="Europe/Berlin", alerts=Alerts(ship_day_alert_hour=9))
    sc = Scenario(policy).heartbeat("2026-03-28T00:00:00Z")
    sc.order("s", "o1", "2026-03-28T10:00:00Z", total="10.00", ship_by="2026-03-29T20:00:00Z")
    assert sc.made(ALERTS, lambda: sc.heartbeat("2026-03-29T06:59:59Z")) == []
    (alert,) = sc.made(ALERTS, lambda: sc.heartbeat("2026-03-29T07:00:00Z"))
    assert (alert["item"]["id"], alert["time_left_seconds"]) == ("o1", 13 * 3600)


def test_a_month_whose_first_midnight_is_in_a_jump_starts_at_the_jump():
    asuncion = Calendar("America/Asuncion")
    october = month_index(2023, 10)
    assert asuncion.month_start(october) == parse_timestamp("2023-10-01T04:00:00Z")  # 01:00 -03:00
    assert asuncion.month_of(parse_timestamp("2023-10-01T03:59:59.999999Z")) == october - 1  # Sep 30, 23:59 -04
    assert asuncion.month_of(parse_timestamp("2023-10-01T04:00:00Z")) == october
    assert asuncion.day_name(parse_timestamp("2023-10-01T04:00:00Z")) == "2023-10-01"
    assert asuncion.month_start(october + 1) == parse_timestamp("2023-11-01T03:00:00Z")


def test_sales_either_side_of_a_jump_at_the_first_midnight_of_october():
    """A sale 1 s before 2023-10-01T04:00:00Z is September's (23:59:59 -04:00),
    one at it October's (01:00 -03:00). The evaluation of October (period
    July to September) is made at E = the jump + 24 h = 2023-10-02T04:00:00Z
    and counts the first; that of November (August to October), at
    2023-11-01T03:00:00Z + 24 h, counts both."""
    sc = Scenario(Policy(time_zone="America/Asuncion")).heartbeat("2023-09-30T12:00:00Z")
    sc.digital_sales("s", 1, "2023-10-01T03:59:59Z", prefix="september")
    sc.digital_sales("s", 1, "2023-10-01T04:00:00Z", prefix="october")
    assert sc.made(EVALUATIONS, lambda: sc.heartbeat("2023-10-02T03:59:59.999999Z")) == []
    (october,) = sc.made(EVALUATIONS, lambda: sc.heartbeat("2023-10-02T04:00:00Z"))
    assert (october["month"], october["period"]) == ("2023-10", {"start": "2023-07-01", "end": "2023-09-30"})
    assert october["sales"]["orders"] == 1
    assert sc.made(EVALUATIONS, lambda: sc.heartbeat("2023-11-02T02:59:59.999999Z")) == []
    (november,) = sc.made(EVALUATIONS, lambda: sc.heartbeat("2023-11-02T03:00:00Z"))
    assert (november["month"], november["sales"]["orders"]) == ("2023-11", 2)
