"""On-time shipping, tracking, completed orders and sales (SPEC section 4),
as seen in the evaluation for April 2026 (period 2026-01-01 .. 2026-03-31,
instant E = 2026-04-02T00:00Z)."""
import pytest

from scenario import Scenario, judged

S, O = "s-1", "o-1"
P = "2026-02-10T10:00:00Z"  # placed
SB = "2026-02-12T23:59:59Z"  # ship-by


def shipping(sc: Scenario) -> tuple:
    """(on time, counted orders, on time with tracking)."""
    standard = sc.standard(S, "on_time_shipping")
    star = sc.criterion(S, "shipping")
    assert star["denominator"] == standard["denominator"]
    return standard["numerator"], standard["denominator"], star["numerator"]


def order(at=P, **kw):
    return lambda sc: sc.order(S, O, at, **{"ship_by": SB, **kw})


def ship(at, tracking="TRK1", label=False):
    return lambda sc: sc.ship(S, O, at, tracking=tracking, label=label)


def cancel(at):
    return lambda sc: sc.cancel(S, O, at)


# Steps in arrival order; expected (on time, counted, with tracking).
SHIPPING = {
    "shipped at exactly ship_by": ([order(), ship(SB)], (1, 1, 1)),
    "shipped 1 us late": ([order(), ship("2026-02-12T23:59:59.000001Z")], (0, 1, 0)),
    "shipped 1 s late": ([order(), ship("2026-02-13T00:00:00Z")], (0, 1, 0)),
    "shipped weeks late": ([order(), ship("2026-03-15T00:00:00Z")], (0, 1, 0)),
    "never shipped: late by the clock": ([order()], (0, 1, 0)),
    "digital excluded, even with a shipment": ([order(digital=True), ship("2026-02-11T00:00:00Z")], (0, 0, 0)),
    "cancelled before ship_by": ([order(), cancel("2026-02-11T00:00:00Z")], (0, 0, 0)),
    "cancelled after ship_by, unshipped": ([order(), cancel("2026-03-01T00:00:00Z")], (0, 0, 0)),
    "cancelled after an on-time shipment": ([order(), ship("2026-02-11T00:00:00Z"),
                                             cancel("2026-03-20T00:00:00Z")], (0, 0, 0)),
    "cancellation arrives before the order": ([cancel("2026-02-11T00:00:00Z"), order()], (0, 0, 0)),
    "shipment arrives before the order": ([ship("2026-02-11T00:00:00Z"), order()], (1, 1, 1)),
    "shipment without order.placed counts nowhere": ([ship("2026-02-11T00:00:00Z")], (0, 0, 0)),
    # the earliest placing (P, ship-by SB) decides; the later one (ship-by 02-20) arrives first
    "several order.placed: earliest wins": ([order("2026-02-11T10:00:00Z", ship_by="2026-02-20T00:00:00Z"),
                                             order(), ship("2026-02-15T00:00:00Z")], (0, 1, 0)),
    # same instant: the smaller event_id ("x-1", ship-by SB) is the earliest
    "several order.placed: tie broken by event_id": ([order(ship_by="2026-02-20T00:00:00Z", event_id="x-2"),
                                                      order(event_id="x-1"), ship("2026-02-15T00:00:00Z")],
                                                     (0, 1, 0)),
    "several order.placed: earliest is digital": ([order("2026-02-11T10:00:00Z"), order(digital=True),
                                                   ship("2026-02-11T12:00:00Z")], (0, 0, 0)),
    # 2026-04-01T01:00+02:00 is 2026-03-31T23:00Z: March, inside the period
    "ship_by attributed by its UTC day": ([order("2026-03-29T10:00:00Z", ship_by="2026-04-01T01:00:00+02:00"),
                                           ship("2026-03-30T10:00:00Z")], (1, 1, 1)),
    "ship_by in April: not in the period": ([order("2026-03-29T10:00:00Z", ship_by="2026-04-01T00:00:00Z"),
                                             ship("2026-03-30T10:00:00Z")], (0, 0, 0)),
    "tracking not required": ([order(tracking_required=False), ship("2026-02-11T00:00:00Z", None)], (1, 1, 1)),
    "non-empty tracking number": ([order(), ship("2026-02-11T00:00:00Z", "1Z999")], (1, 1, 1)),
    "label purchased, no number": ([order(), ship("2026-02-11T00:00:00Z", None, label=True)], (1, 1, 1)),
    "empty tracking number counts as none": ([order(), ship("2026-02-11T00:00:00Z", "")], (1, 1, 0)),
    "null tracking number": ([order(), ship("2026-02-11T00:00:00Z", None)], (1, 1, 0)),
    "first shipment decides tracking": ([order(), ship("2026-02-11T00:00:00Z", None),
                                         ship("2026-02-12T00:00:00Z", "TRK2")], (1, 1, 0)),
    "first by occurred_at, not by arrival": ([order(), ship("2026-02-12T00:00:00Z", "TRK2"),
                                              ship("2026-02-11T00:00:00Z", None)], (1, 1, 0)),
}


@pytest.mark.parametrize("steps, expected", SHIPPING.values(), ids=SHIPPING.keys())
def test_on_time_shipping(steps, expected):
    assert shipping(judged(S, steps)) == expected


def test_live_scorecard_pending_until_the_clock_passes_ship_by():
    sc = Scenario().order(S, O, P, ship_by=SB)

    def live():
        s = sc.scorecards[S]["standards"]["on_time_shipping"]
        return s["numerator"], s["denominator"]

    sc.heartbeat(SB)  # at ship-by, not past it: pending
    assert live() == (0, 0)
    sc.heartbeat("2026-02-13T00:00:00Z")
    assert live() == (0, 1)
    sc.ship(S, O, SB)  # an on-time shipment arriving late corrects it
    sc.heartbeat("2026-02-13T01:00:00Z")
    assert live() == (1, 1)


# Completed orders (the case-rate denominator): steps for order O, expected count.
COMPLETED = {
    "shipped in the period": ([order("2026-03-30T10:00:00Z"), ship("2026-03-31T23:00:00Z")], 1),
    "shipped in April before E": ([order("2026-03-30T10:00:00Z"), ship("2026-04-01T10:00:00Z")], 0),
    "placed before the period, shipped in it": ([order("2025-12-30T10:00:00Z"), ship("2026-01-02T00:00:00Z")], 1),
    # first shipment 2025-12-31: December, outside the period
    "first shipment day decides": ([order("2025-12-30T10:00:00Z"), ship("2026-01-02T00:00:00Z"),
                                    ship("2025-12-31T00:00:00Z")], 0),
    "digital, placed on the period's last second": ([order("2026-03-31T23:59:59Z", digital=True)], 1),
    "digital placed before the period, shipment ignored": ([order("2025-12-31T23:59:59Z", digital=True),
                                                            ship("2026-01-05T00:00:00Z")], 0),
    "cancelled after shipping": ([order("2026-02-01T10:00:00Z"), ship("2026-02-02T00:00:00Z"),
                                  cancel("2026-02-20T00:00:00Z")], 0),
    "shipment without order.placed": ([ship("2026-02-02T00:00:00Z")], 0),
    "physical, never shipped": ([order("2026-02-01T10:00:00Z")], 0),
}


@pytest.mark.parametrize("steps, expected", COMPLETED.values(), ids=COMPLETED.keys())
def test_completed_orders(steps, expected):
    sc = Scenario().review(S, "r-1", "2026-02-01T00:00:00Z")  # so that a record exists
    for step in steps:
        step(sc)
    sc.evaluate("2026-04")
    assert sc.standard(S, "case_rate")["denominator"] == expected


def test_sales_and_first_sale():
    sc = Scenario()
    sc.order(S, "o-1", "2026-02-01T10:00:00Z", total="60.00", digital=True)
    sc.order(S, "o-2", "2026-03-15T10:00:00Z", total="0.5", digital=True)
    sc.order(S, "o-3", "2026-02-03T10:00:00Z", total="100", digital=True)
    sc.cancel(S, "o-3", "2026-03-25T00:00:00Z")  # cancelled: no sale
    sc.order(S, "o-4", "2025-12-10T08:00:00Z", total="10.00", digital=True)  # first sale, before the period
    sc.order(S, "o-5", "2025-11-01T00:00:00Z", total="10.00", digital=True)
    sc.cancel(S, "o-5", "2025-11-02T00:00:00Z")  # earlier, but cancelled: not the first sale
    sc.order(S, "o-6", "2026-04-01T12:00:00Z", total="10.00", digital=True)  # after the period
    sc.evaluate("2026-04")
    record = sc.record(S)
    # 60.00 + 0.50 = 60.50
    assert record["sales"] == {"orders": 2, "amount": "60.50", "first_sale_at": "2025-12-10T08:00:00Z"}
    assert record["star_seller"]["criteria"]["volume"] == {"orders": 2, "amount": "60.50", "holds": False}
