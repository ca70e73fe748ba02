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
keep an older value), and the timer does not wait for that: `send_soon`
starts a background sender that hands over whatever is pending, records
added meanwhile included.
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
        """Hand every pending record to the producer (in order per partition),
        including records added while this waits for the producer."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while self._pending:
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
        """`send` in the background, unless a background send is running (it
        takes the records added meanwhile too)."""
        if self._pending and (self._sender is None or self._sender.done()):
            self._sender = asyncio.ensure_future(self.send(producer))
            self._sender.add_done_callback(self._sent)

    def _sent(self, sender: asyncio.Future) -> None:
        if sender.cancelled():
            return
        error = sender.exception()
        if error is not None and not isinstance(error, ProducerClosed):  # closed: stopping
            log.error("sending output and state records failed: %r", error)
            self._failed = error  # records were lost: no commit may cover them

    async def acknowledged(self, producer: AIOKafkaProducer) -> None:
        """Send what is pending and wait until the broker acknowledged every
        record handed over so far."""
        if self._failed is not None:
            raise self._failed
        await self.send(producer)
        while self._unacknowledged:
            futures, self._unacknowledged = self._unacknowledged, []
            await asyncio.gather(*futures)
