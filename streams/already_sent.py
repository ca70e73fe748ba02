"""Outputs a worker sent before it stopped are not sent again by the next.

Records are sent before the state that says they were sent (streams/writer.py),
so a worker that stops between the two leaves outputs that the state of its
last commit does not know of. The next worker restores that state, applies
the events since the commit again, and would decide those outputs again;
the state it restores may also hold transitions (violations, badge
eligibility changes) that the stopped worker sent after writing it.

Each partition's state therefore says, with its clocks (`outputs_from`),
from which offset of each of its output partitions the outputs may be
unknown to it: the end of what the broker had acknowledged when the state
was taken, as outputs decided later land after that. A worker that restores
the partition reads each output partition from there to its end (its tail)
and does not send again:
- a held transition the tail ends with. The restored state holds a
  seller's changes of a standard or badge in the order they are sent, a
  partition's records land in the order they were handed over, and the
  stopped worker sent them only after that state was acknowledged: so what
  it sent of them is the first k held, and the last k of the tail's changes
  of that standard or badge of the seller, byte for byte (the records the
  stopped worker made from the same held records);
- an output with the identity of one in the tail: an alert per item,
  deadline and window, an evaluation or monthly badge record per seller and
  month, a day's progress per seller and day, a dead letter per input
  record (SPEC section 6: each once). A dead letter is known by the
  committed input offsets, not by the state: its tail starts where the
  dead letters stood when the commit before the last took its offsets
  (Processor.offsets_taken).

The window stays open until the partition's input has been applied up to
the high watermark first seen after the restore (the stopped worker read
nothing beyond it) and a commit has made what those events decide: by then
what the stopped worker decided has been decided again (and not sent) or
will not be.
Until then the state keeps `outputs_from` where the tail began, so that a
worker that stops again meanwhile reads that tail again.
"""
from __future__ import annotations

from typing import Optional

import orjson

from standards.engine import ALERTS, BADGES, EVALUATIONS, VIOLATIONS

from .output_json import dumps_sorted
from .topics import DEADLETTER

# The output topics read back at a restore (the scorecards, compacted, need not be)
TOPICS = (VIOLATIONS, BADGES, EVALUATIONS, ALERTS, DEADLETTER)
# The topics of held transitions, and the field naming what changed.
HELD = {VIOLATIONS: "standard", BADGES: "badge"}
ELIGIBILITY_CHANGED = "badge.eligibility_changed"


def identity(topic: str, record: dict) -> Optional[tuple]:
    """What an output is sent once of (SPEC section 6); None for a held
    transition or a scorecard."""
    if topic == ALERTS:
        item = record["item"]
        return topic, record["seller_id"], item["kind"], item["id"], record["deadline"], record.get("window_hours")
    if topic == EVALUATIONS:
        return topic, record["seller_id"], record["month"]
    if topic == BADGES:
        kind = record["type"]
        if kind == "badges.monthly":
            return kind, record["seller_id"], record["month"]
        if kind == "badges.daily_progress":
            return kind, record["seller_id"], record["day"]
        return None
    if topic == DEADLETTER:
        return topic, record.get("topic"), record.get("partition"), record.get("offset")
    return None


def _change_of(topic: str, record: dict) -> Optional[tuple]:
    """(topic, seller, standard or badge) of a held transition; None for another record."""
    if topic == VIOLATIONS or record.get("type") == ELIGIBILITY_CHANGED:
        return topic, record["seller_id"], record[HELD[topic]]
    return None


class AlreadySent:
    """A restored partition's window: what the tail holds, and where it began."""

    def __init__(self, start: dict[str, int], tail: dict[str, list[bytes]]):
        self.start = start  # topic -> offset: written as the state's outputs_from while the window is open
        self.input_read = False  # up to where the worker before could have read it (Processor.windows_read)
        self.input_ends: dict[str, int] = {}  # input topic -> the first high watermark seen with the window open
        self._sent: set[tuple] = set()
        self._changes: dict[tuple, list[bytes]] = {}  # per (topic, seller, standard or badge), in log order
        for topic, values in tail.items():
            for value in values:
                try:
                    record = orjson.loads(value)
                    key = identity(topic, record)
                    change = _change_of(topic, record) if key is None and topic in HELD else None
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue  # not a record of this worker's: nothing to compare with
                if key is not None:
                    self._sent.add(key)
                elif change is not None:
                    self._changes.setdefault(change, []).append(value)

    def held_not_sent(self, released: list[tuple[str, str, dict]]) -> list:
        """The held transitions released at the restore (topic, seller,
        record, in their order) that the tail does not end with."""
        held: dict[tuple, list[bytes]] = {}
        for topic, _, record in released:
            held.setdefault(_change_of(topic, record), []).append(dumps_sorted(record))
        skip = {}  # per change, how many of its first held were sent
        for change, values in held.items():
            tail = self._changes.get(change, [])
            skip[change] = next(k for k in range(min(len(tail), len(values)), -1, -1)
                                if tail[len(tail) - k:] == values[:k])
        not_sent = []
        for output in released:
            change = _change_of(output[0], output[2])
            if skip[change]:
                skip[change] -= 1
            else:
                not_sent.append(output)
        return not_sent

    def input_applied(self, topic: str, position: int, highwater: Optional[int]) -> bool:
        """Whether the window's partition of input `topic` is applied up to
        the high watermark first seen with the window open: `position` is
        the next offset to apply, `highwater` the latest fetch's (None: none
        fetched yet, so not applied). A later, higher one does not move that
        mark: the worker before read nothing beyond the first."""
        if highwater is None:
            return False
        return position >= self.input_ends.setdefault(topic, highwater)

    def sent(self, topic: str, record: dict) -> bool:
        """Whether an output with this one's identity is in the tail."""
        key = identity(topic, record)
        return key is not None and key in self._sent
