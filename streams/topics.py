"""Topic names of SPEC sections 2 and 6."""
from schemas.validate import INPUT_TYPES, TOPIC_OF_TYPE
from standards.engine import ALERTS, BADGES, EVALUATIONS, SCORECARDS, VIOLATIONS

MESSAGES = "marketplace.messages"
ORDERS = "marketplace.orders"
SHIPMENTS = "marketplace.shipments"
REVIEWS = "marketplace.reviews"
REFUNDS = "marketplace.refunds"
INPUT_TOPICS = (MESSAGES, ORDERS, SHIPMENTS, REVIEWS, REFUNDS)
INPUT_TOPIC_SET = frozenset(INPUT_TOPICS)

DEADLETTER = "standards.deadletter"
OUTPUT_TOPICS = (SCORECARDS, VIOLATIONS, BADGES, EVALUATIONS, ALERTS, DEADLETTER)
COMPACTED = (SCORECARDS,)


def line_topic(named, event_type) -> str:
    """The input topic of an events file line (replay, backfill): its
    `_topic` (any JSON value) when that names an input topic, else its
    type's topic; messages for a heartbeat and for a missing or unknown type
    (the worker dead-letters what it cannot read)."""
    if isinstance(named, str) and named in INPUT_TOPIC_SET:
        return named
    return (TOPIC_OF_TYPE.get(event_type) if isinstance(event_type, str) else None) or MESSAGES


# line_topic of a line without `_topic`, for each type a valid line has: the
# backfill's lookup for every line (2 % of its instructions went to the call).
TOPIC_OF_UNNAMED_LINE = {event_type: line_topic(None, event_type) for event_type in INPUT_TYPES}
