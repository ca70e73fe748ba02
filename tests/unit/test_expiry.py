"""Item state is kept until the last evaluation that covers it (SPEC section 3)."""
from __future__ import annotations

from scenario import Scenario

S = "s-1"


def test_a_thread_counts_in_the_three_evaluations_that_cover_it_then_leaves_state():
    # Buyer message 2026-01-10T10:00Z, never answered: its 48 h deadline (Jan 12) is
    # attributed to January, so the evaluations of February, March and April cover it.
    # A spam mark on March 15 (weeks after the deadline, before April's E) removes it
    # from April's record only: February's and March's were made before it.
    sc = Scenario().digital_sales(S, 5, "2026-01-05T10:00:00Z").buyer(S, "t", "2026-01-10T10:00:00Z")
    sc.evaluate("2026-02").evaluate("2026-03")
    sc.spam(S, "t", "2026-03-15T00:00:00Z")
    sc.evaluate("2026-04")
    assert [sc.standard(S, "message_response", m)["denominator"] for m in ("2026-02", "2026-03", "2026-04")] == [1, 1, 0]
    # After April's evaluation nothing can cover January again: deadline Jan 12 plus the
    # 7 days of allowed lateness is still January, and January + 3 = April.
    assert "t" not in sc.engine.sellers[S].threads


def test_first_sale_survives_the_expiry_of_its_order():
    # The first sale, 2026-01-05, is kept 400 days (until 2027-02-09), plus 7 days of
    # lateness: February 2027, dropped after the evaluation of May 2027. A sale in
    # May 2027 then makes a June 2027 record whose first_sale_at is still 2026-01-05.
    sc = Scenario().order(S, "first", "2026-01-05T10:00:00Z", digital=True)
    sc.evaluate("2027-05")
    assert "first" not in sc.engine.sellers[S].orders
    sc.order(S, "later", "2027-05-10T10:00:00Z", digital=True).evaluate("2027-06")
    record = sc.record(S, "2027-06")
    assert record["sales"] == {"orders": 1, "amount": "60.00", "first_sale_at": "2026-01-05T10:00:00Z"}
    assert record["star_seller"]["criteria"]["tenure"]["holds"] is True
