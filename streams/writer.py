"""Output and state records, sent to Kafka as whole batches.

The processor knows each record's partition (a seller's outputs go to the
partition of its input, all topics having the same count), so records are
gathered per topic partition and handed to the producer as ready batches:
Faust's per-message send path (a future, a buffer entry and a coroutine per
record) cost more than the rules themselves.

The producer holds one batch per topic partition that is not yet on its way
to the broker, and `send_batch` waits until the one before has left. So the
records are handed over by one sender at a time (batches of two concurrent
senders could swap places in a partition, and a compacted topic would then
keep an older value), in rounds: a round hands over what was pending when it
began. The timer does not wait for that: `send_soon` starts a background
round, and another when it ends if records were added meanwhile. A commit
waits for one round of its own and for the acknowledgements of what was
handed over until then, not for records added while it waits: under steady
load a sender that looped until nothing was pending kept a commit waiting
for 15 s at 80 % of the worker's throughput (the offsets stayed
uncommitted all that time).
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Optional

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerClosed

log = logging.getLogger(__name__)


class BatchWriter:
    def __init__(self):
        self._pending: dict[tuple[str, int], list] = defaultdict(list)
        self._unacknowledged: list[asyncio.Future] = []
        self._lock: Optional[asyncio.Lock] = None  # made in the event loop that uses it
        self._sender: Optional[asyncio.Future] = None
        self._failed: Optional[BaseException] = None

    def add(self, topic: str, partition: int, key: Optional[bytes], value: Optional[bytes]) -> None:
        self._pending[(topic, partition)].append((key, value))

    async def send(self, producer: AIOKafkaProducer) -> None:
        """A round: hand the records pending now to the producer (in order
        per partition), after the round before has handed over its own."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            pending, self._pending = self._pending, defaultdict(list)
            for (topic, partition), records in pending.items():
                batch = producer.create_batch()
                for key, value in records:
                    if batch.append(key=key, value=value, timestamp=None) is None:  # full
                        self._unacknowledged.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                self._unacknowledged.append(await producer.send_batch(batch, topic, partition=partition))

    def send_soon(self, producer: AIOKafkaProducer) -> None:
        """A round in the background, unless a background round is running
        (records added meanwhile get the next one, started when it ends)."""
        if self._pending and (self._sender is None or self._sender.done()):
            self._sender = asyncio.ensure_future(self.send(producer))
            self._sender.add_done_callback(lambda sender: self._sent(sender, producer))

    def _sent(self, sender: asyncio.Future, producer: AIOKafkaProducer) -> None:
        if sender.cancelled():
            return
        error = sender.exception()
        if error is None:
            self.send_soon(producer)  # what was added while it ran
        elif not isinstance(error, ProducerClosed):  # closed: stopping
            log.error("sending output and state records failed: %r", error)
            self._failed = error  # records were lost: no commit may cover them

    async def acknowledged(self, producer: AIOKafkaProducer) -> None:
        """Send what is pending and wait until the broker acknowledged every
        record handed over until then (records added meanwhile are the next
        commit's)."""
        if self._failed is not None:
            raise self._failed
        await self.send(producer)
        futures, self._unacknowledged = self._unacknowledged, []
        await asyncio.gather(*futures)
