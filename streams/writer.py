"""Output and state records, sent to Kafka as whole batches.

The processor knows each record's partition (a seller's outputs go to the
partition of its input, all topics having the same count), so records are
gathered per topic partition and handed to the producer as ready batches:
Faust's per-message send path (a future, a buffer entry and a coroutine per
record) cost more than the rules themselves.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Optional

from aiokafka import AIOKafkaProducer


class BatchWriter:
    def __init__(self):
        self._pending: dict[tuple[str, int], list] = defaultdict(list)
        self._unacknowledged: list[asyncio.Future] = []

    def add(self, topic: str, partition: int, key: Optional[bytes], value: Optional[bytes]) -> None:
        self._pending[(topic, partition)].append((key, value))

    async def send(self, producer: AIOKafkaProducer) -> None:
        """Hand every pending record to the producer (in order per partition)."""
        pending, self._pending = self._pending, defaultdict(list)
        for (topic, partition), records in pending.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:  # full
                    self._unacknowledged.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            self._unacknowledged.append(await producer.send_batch(batch, topic, partition=partition))

    async def acknowledged(self, producer: AIOKafkaProducer) -> None:
        """Send what is pending and wait until the broker acknowledged every
        record handed over so far."""
        await self.send(producer)
        while self._unacknowledged:
            futures, self._unacknowledged = self._unacknowledged, []
            await asyncio.gather(*futures)
