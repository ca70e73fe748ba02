"""Topic names of SPEC sections 2 and 6."""
from standards.engine import ALERTS, BADGES, EVALUATIONS, SCORECARDS, VIOLATIONS

MESSAGES = "marketplace.messages"
ORDERS = "marketplace.orders"
SHIPMENTS = "marketplace.shipments"
REVIEWS = "marketplace.reviews"
REFUNDS = "marketplace.refunds"
INPUT_TOPICS = (MESSAGES, ORDERS, SHIPMENTS, REVIEWS, REFUNDS)

DEADLETTER = "standards.deadletter"
OUTPUT_TOPICS = (SCORECARDS, VIOLATIONS, BADGES, EVALUATIONS, ALERTS, DEADLETTER)
COMPACTED = (SCORECARDS,)
