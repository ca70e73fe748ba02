"""Output and state records, sent to Kafka as whole batches.

The processor knows each record's partition (a seller's outputs go to the
partition of its input, all topics having the same count), so records are
gathered per topic partition and handed to the producer as ready batches:
Faust's per-message send path (a future, a buffer entry and a coroutine per
record) cost more than the rules themselves.

The producer holds one batch per topic partition that is not yet on its way
to the broker, and `send_batch` waits until the one before has left. So a
topic partition's records are handed over by one sender at a time (batches
of two concurrent senders could swap places in a partition, and a compacted
topic would then keep an older value), in the order they were added; the
partitions go independently. The timer does not wait for that: `send_soon`
starts a background hand-over for each partition with records and none
under way, and another when it ends if records were added meanwhile. A
commit hands over what is pending and waits for the hand-overs under way,
then for the acknowledgements of everything handed over until then, not
for records added while it waits: under steady load a sender that looped
until nothing was pending kept a commit waiting for 15 s at 80 % of the
worker's throughput (the offsets stayed uncommitted all that time).

Partitions go independently because one round for all of them made every
record wait for the slowest: at 50 % of the worker's throughput a commit's
state records (up to 70,000, several batches per partition, each waiting a
produce request's round trip: aiokafka has one request in flight to a
broker) held a round for 1-5 s, and the scorecards added meanwhile waited
for the next round (p99 publish-to-scorecard 2-7 s with events applied
within 1 s).

State goes after the outputs of its partition: a state record of partition
p is handed over only once every output record of partition p added before
it is acknowledged. State says what was sent (an item warned about, the
card last sent, the months evaluated); durable before the record itself,
a crash left the record unsent for good, as the next worker reads that it
was sent (found by a test killing workers during commits: alerts whose
warning the state held were never sent). The outputs come first in the
commit's flush, so the state mostly waits for nothing.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Optional

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerClosed

log = logging.getLogger(__name__)
# A partition's output acknowledgements are kept for its next state records,
# and those already in are let go once this many gather (a partition may
# have outputs, dead letters, and no state to write for a long time); those
# refused are kept.
ACKS_KEPT = 64


class BatchWriter:
    def __init__(self, state_topic: Optional[str] = None):
        self.state_topic = state_topic  # its records go after the outputs of their partition
        self._pending: dict[tuple[str, int], list] = defaultdict(list)
        self._unacknowledged: list[asyncio.Future] = []
        self._output_acks: dict[int, list[asyncio.Future]] = defaultdict(list)  # per partition number
        self._last: dict[tuple[str, int], asyncio.Future] = {}  # each partition's latest hand-over
        self._failed: Optional[BaseException] = None
        # (topic, partition) -> the offset after its last record acknowledged:
        # every record handed over later lands at or after it (Processor's
        # already-sent windows start there).
        self.acknowledged_ends: dict[tuple[str, int], int] = {}

    def add(self, topic: str, partition: int, key: Optional[bytes], value: Optional[bytes]) -> None:
        self._pending[(topic, partition)].append((key, value))

    def _hand_over_pending(self, producer: AIOKafkaProducer, tp: tuple[str, int], background: bool) -> None:
        """Take the partition's pending records now and hand them over once
        its hand-over before has ended: in the order they were added. In the
        background, the records added meanwhile go next."""
        records = self._pending.pop(tp)
        outputs_before = self._outputs_handed_over(producer, tp[1], background) if tp[0] == self.state_topic else []
        hand_over = self._last[tp] = asyncio.ensure_future(
            self._hand_over(producer, tp, records, self._last.get(tp), outputs_before))
        hand_over.add_done_callback(lambda done: self._handed_over(done, producer, tp, background))

    def _outputs_handed_over(self, producer: AIOKafkaProducer, partition: int, background: bool) -> list:
        """Hand over the pending outputs of `partition`; the latest hand-over
        of each of its output topics, which the state waits for."""
        for tp in [tp for tp in self._pending if tp[1] == partition and tp[0] != self.state_topic]:
            self._hand_over_pending(producer, tp, background)
        return [hand_over for tp, hand_over in self._last.items()
                if tp[1] == partition and tp[0] != self.state_topic and not hand_over.done()]

    async def _hand_over(self, producer: AIOKafkaProducer, tp: tuple[str, int], records: list,
                         before: Optional[asyncio.Future], outputs_before: list) -> None:
        if before is not None and not before.done():
            await asyncio.wait([before])  # its failure is its own
        topic, partition = tp
        if topic == self.state_topic:
            await asyncio.gather(*outputs_before)  # a failure fails the state too: it must not go
            await asyncio.gather(*self._output_acks[partition])
        output_acks = self._output_acks[partition] if self.state_topic not in (None, topic) else None
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                await self._send_batch(producer, batch, tp, output_acks)
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        await self._send_batch(producer, batch, tp, output_acks)

    async def _send_batch(self, producer: AIOKafkaProducer, batch, tp: tuple[str, int],
                          output_acks: Optional[list]) -> None:
        count = batch.record_count()
        acknowledged = await producer.send_batch(batch, tp[0], partition=tp[1])
        acknowledged.add_done_callback(lambda done: self._acknowledged_end(done, tp, count))
        self._unacknowledged.append(acknowledged)
        if output_acks is not None:
            if len(output_acks) >= ACKS_KEPT:  # a refused one stays: no state may go after it
                output_acks[:] = [ack for ack in output_acks
                                  if not ack.done() or ack.cancelled() or ack.exception() is not None]
            output_acks.append(acknowledged)

    def _acknowledged_end(self, acknowledged: asyncio.Future, tp: tuple[str, int], count: int) -> None:
        if acknowledged.cancelled() or acknowledged.exception() is not None:
            return
        end = acknowledged.result().offset + count
        if end > self.acknowledged_ends.get(tp, -1):
            self.acknowledged_ends[tp] = end

    def _handed_over(self, hand_over: asyncio.Future, producer: AIOKafkaProducer, tp: tuple[str, int],
                     background: bool) -> None:
        if hand_over.cancelled():
            return
        error = hand_over.exception()
        if error is None:
            if background and self._last.get(tp) is hand_over and tp in self._pending:  # added while it ran
                self._hand_over_pending(producer, tp, background)
        elif not isinstance(error, ProducerClosed):  # closed: stopping
            log.error("sending output and state records failed: %r", error)
            self._failed = error  # records were lost: no commit may cover them

    async def send(self, producer: AIOKafkaProducer) -> None:
        """Hand over every record pending now and wait until every hand-over
        under way has ended, the partitions concurrently."""
        for tp in list(self._pending):
            if tp in self._pending:  # not handed over already, before a state partition
                self._hand_over_pending(producer, tp, background=False)
        under_way = [hand_over for hand_over in self._last.values() if not hand_over.done()]
        if under_way:
            await asyncio.gather(*under_way)

    def send_soon(self, producer: AIOKafkaProducer) -> None:
        """In the background, hand over the records of each partition with
        none under way (records added meanwhile go once it has ended)."""
        for tp in list(self._pending):
            last = self._last.get(tp)
            if tp in self._pending and (last is None or last.done()):
                self._hand_over_pending(producer, tp, background=True)

    async def acknowledged(self, producer: AIOKafkaProducer) -> None:
        """Send what is pending and wait until the broker acknowledged every
        record handed over until then (records added meanwhile are the next
        commit's)."""
        if self._failed is None:
            await self.send(producer)
        if self._failed is not None:  # also one under way that failed meanwhile
            raise self._failed
        futures, self._unacknowledged = self._unacknowledged, []
        await asyncio.gather(*futures)
