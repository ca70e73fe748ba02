"""BatchWriter's hand-overs, with a producer whose batches leave only when
the test says so (as aiokafka's while the request before is in flight)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson

from standards.policy import Policy
from streams.processor import Processor
from streams.writer import ACKS_KEPT, BatchWriter

from scenario import Scenario


class HeldProducer:
    """send_batch waits until `gate` is set, and the partition's gate if it
    has one; every batch is acknowledged at once, at the offsets after the
    batches before it in its topic partition."""

    def __init__(self):
        self.sent: list[tuple[str, int, list]] = []
        self.gate = asyncio.Event()
        self.partition_gates: dict[int, asyncio.Event] = {}

    def create_batch(self):
        return _Batch()

    async def send_batch(self, batch, topic, partition):
        await self.gate.wait()
        if partition in self.partition_gates:
            await self.partition_gates[partition].wait()
        done = asyncio.get_running_loop().create_future()
        done.set_result(_acknowledged(sum(len(values) for t, p, values in self.sent if (t, p) == (topic, partition))))
        self.sent.append((topic, partition, batch.values))
        return done


def _acknowledged(offset: int) -> SimpleNamespace:
    """What aiokafka's send_batch future gives: a RecordMetadata whose offset is the batch's first."""
    return SimpleNamespace(offset=offset)


class _Batch:
    def __init__(self):
        self.values = []

    def append(self, key, value, timestamp):
        self.values.append(value)
        return object()  # room left

    def record_count(self):
        return len(self.values)


async def _hand_over_under_way(producer, topic: str, partition: int, value: bytes) -> BatchWriter:
    """A writer whose background hand-over of one record has begun."""
    writer = BatchWriter()
    writer.add(topic, partition, b"k", value)
    writer.send_soon(producer)
    await asyncio.sleep(0)
    return writer


def test_a_commit_does_not_wait_for_records_added_while_it_waits():
    async def scenario():
        producer = HeldProducer()
        writer = BatchWriter()
        writer.add("t", 0, b"k", b"1")
        commit = asyncio.create_task(writer.acknowledged(producer))
        await asyncio.sleep(0)  # the commit's round waits for the producer
        writer.add("t", 0, b"k", b"2")  # the worker goes on meanwhile
        producer.gate.set()
        await asyncio.wait_for(commit, 1)
        at_commit = list(producer.sent)
        writer.send_soon(producer)  # the next round takes the rest
        await asyncio.sleep(0.01)
        return at_commit, producer.sent

    at_commit, sent = asyncio.run(scenario())
    assert at_commit == [("t", 0, [b"1"])]
    assert sent == [("t", 0, [b"1"]), ("t", 0, [b"2"])]


def test_records_added_during_a_background_round_get_the_next_round_unasked():
    async def scenario():
        producer = HeldProducer()
        writer = await _hand_over_under_way(producer, "t", 1, b"a")
        writer.add("t", 1, b"k", b"b")
        writer.send_soon(producer)  # a round is running: nothing more now
        producer.gate.set()
        await asyncio.sleep(0.01)
        return producer.sent

    assert asyncio.run(scenario()) == [("t", 1, [b"a"]), ("t", 1, [b"b"])]


def test_a_commit_flush_hands_each_partition_over_before_it_ends():
    """The worker's commit: flush_in_slices with the worker's send_soon, then
    the commit's own round. What the flush wrote goes to the broker while the
    flush goes on, so the commit waits less for acknowledgements."""
    scenario = Scenario().digital_sales("s-0", 2, "2026-01-10T10:00:00Z", prefix="a")
    scenario.digital_sales("s-1", 2, "2026-01-10T10:00:00Z", prefix="b")

    async def commit():
        producer = HeldProducer()
        producer.gate.set()
        writer = BatchWriter()
        processor = Processor(Policy(), writer.add, "state")
        for topic, raw in scenario.sent:
            processor.handle(topic, int(orjson.loads(raw)["seller_id"][-1]), 0, None, raw)
        await processor.flush_in_slices(1, send=lambda: writer.send_soon(producer))
        during_flush = list(producer.sent)
        await writer.acknowledged(producer)
        return during_flush, producer.sent

    during_flush, sent = asyncio.run(commit())
    state_partitions = {partition for topic, partition, _ in during_flush if topic == "state"}
    assert state_partitions == {0, 1}
    assert during_flush == sent  # the commit's own round found nothing left


def test_a_partition_held_up_does_not_hold_up_the_others():
    """A commit's state records can take several produce requests in a
    partition: the scorecards of the others go meanwhile."""
    async def scenario():
        producer = HeldProducer()
        producer.gate.set()
        producer.partition_gates[0] = asyncio.Event()
        writer = await _hand_over_under_way(producer, "state", 0, b"s")
        writer.add("cards", 1, b"k", b"c")
        writer.send_soon(producer)
        await asyncio.sleep(0.01)
        return list(producer.sent)

    assert asyncio.run(scenario()) == [("cards", 1, [b"c"])]


def test_a_commit_waits_for_a_hand_over_under_way():
    async def scenario():
        producer = HeldProducer()
        writer = await _hand_over_under_way(producer, "t", 0, b"1")  # nothing is pending now
        commit = asyncio.create_task(writer.acknowledged(producer))
        await asyncio.sleep(0.01)
        waited = not commit.done()
        producer.gate.set()
        await asyncio.wait_for(commit, 1)
        return waited, producer.sent

    assert asyncio.run(scenario()) == (True, [("t", 0, [b"1"])])


def test_a_commit_fails_when_a_hand_over_under_way_fails():
    """Records lost by a background hand-over: no commit may cover them."""
    class FailingOnceProducer(HeldProducer):
        """Its first batch is refused once the gate opens."""

        def __init__(self):
            super().__init__()
            self.refused = False

        async def send_batch(self, batch, topic, partition):
            if not self.refused:
                await self.gate.wait()
                self.refused = True
                raise RuntimeError("the producer refused the batch")
            return await super().send_batch(batch, topic, partition)

    async def scenario():
        producer = FailingOnceProducer()
        writer = await _hand_over_under_way(producer, "t", 0, b"1")
        writer.add("t", 0, b"k", b"2")  # the commit's own hand-over goes after the failing one, and succeeds
        commit = asyncio.create_task(writer.acknowledged(producer))
        await asyncio.sleep(0)
        producer.gate.set()
        try:
            await asyncio.wait_for(commit, 1)
        except RuntimeError as error:
            return str(error)
        return "committed"

    assert asyncio.run(scenario()) == "the producer refused the batch"


class AckedByHandProducer(HeldProducer):
    """Batches leave at once; those of the topic partitions in `held` are
    acknowledged (or refused) only when the test says so."""

    def __init__(self, held):
        super().__init__()
        self.gate.set()
        self.acks = {tp: asyncio.get_running_loop().create_future() for tp in held}

    async def send_batch(self, batch, topic, partition):
        acknowledged = await super().send_batch(batch, topic, partition)
        return self.acks.get((topic, partition), acknowledged)


def _sent(producer) -> list:
    return [(topic, partition) for topic, partition, _ in producer.sent]


async def _alert_on_its_way() -> tuple[AckedByHandProducer, BatchWriter]:
    """A writer whose alert of partition 0 is handed over and not acknowledged."""
    producer = AckedByHandProducer(held=[("alerts", 0)])
    writer = BatchWriter(state_topic="state")
    writer.add("alerts", 0, b"s-0", b"alert")
    writer.send_soon(producer)
    await asyncio.sleep(0.01)
    return producer, writer


def test_state_goes_only_once_the_outputs_of_its_partition_before_it_are_acknowledged():
    """An alert on its way, then the state that says its item was warned:
    had the state been acknowledged first and the worker killed, the next
    worker would read the warning as sent and the alert would never come
    (found by killing workers during commits). The state of a partition
    with nothing unacknowledged goes at once."""
    async def scenario():
        producer, writer = await _alert_on_its_way()
        writer.add("state", 0, b"[0,\"s-0\"]", b"warned")
        writer.add("cards", 1, b"s-1", b"card")
        writer.add("state", 1, b"[1,\"s-1\"]", b"state")
        commit = asyncio.create_task(writer.acknowledged(producer))
        await asyncio.sleep(0.01)
        before_the_alert_is_acknowledged = _sent(producer)
        producer.acks[("alerts", 0)].set_result(_acknowledged(0))
        await asyncio.wait_for(commit, 1)
        return before_the_alert_is_acknowledged, _sent(producer)

    before, after = asyncio.run(scenario())
    assert ("state", 0) not in before
    assert before.index(("cards", 1)) < before.index(("state", 1))
    assert after[-1] == ("state", 0)


def test_state_is_not_sent_when_an_output_of_its_partition_is_refused():
    async def scenario():
        producer = AckedByHandProducer(held=[("alerts", 0)])
        writer = BatchWriter(state_topic="state")
        writer.add("alerts", 0, b"s-0", b"alert")
        writer.add("state", 0, b"[0,\"s-0\"]", b"warned")
        commit = asyncio.create_task(writer.acknowledged(producer))
        await asyncio.sleep(0.01)
        producer.acks[("alerts", 0)].set_exception(RuntimeError("the broker refused the alert"))
        try:
            await asyncio.wait_for(commit, 1)
        except RuntimeError as error:
            return str(error), _sent(producer)
        return "committed", _sent(producer)

    assert asyncio.run(scenario()) == ("the broker refused the alert", [("alerts", 0)])


def test_state_is_not_sent_after_a_refused_output_however_many_outputs_follow_it():
    """The acknowledgements kept for a partition's state are let go once
    done, but not one that was refused."""
    async def scenario():
        producer, writer = await _alert_on_its_way()
        producer.acks[("alerts", 0)].set_exception(RuntimeError("the broker refused the alert"))
        for n in range(2 * ACKS_KEPT):
            writer.add("cards", 0, b"s-0", b"card %d" % n)
            writer.send_soon(producer)
            await asyncio.sleep(0)
        writer.add("state", 0, b"[0,\"s-0\"]", b"warned")
        try:
            await asyncio.wait_for(writer.send(producer), 1)
        except RuntimeError as error:
            return str(error), ("state", 0) in _sent(producer)
        return "sent", ("state", 0) in _sent(producer)

    assert asyncio.run(scenario()) == ("the broker refused the alert", False)


def test_the_acknowledged_end_of_a_partition_is_the_offset_after_its_last_record_acknowledged():
    """Where records handed over later land (Processor's already-sent
    windows start there): two batches of 3 and 2 records end at 5; a
    refused batch moves nothing."""
    async def scenario():
        producer = AckedByHandProducer(held=[("alerts", 1)])
        writer = BatchWriter()
        for value in (b"1", b"2", b"3"):
            writer.add("alerts", 0, b"k", value)
        await writer.send(producer)
        writer.add("alerts", 0, b"k", b"4")
        writer.add("alerts", 0, b"k", b"5")
        writer.add("alerts", 1, b"k", b"6")
        await writer.send(producer)
        producer.acks[("alerts", 1)].set_exception(RuntimeError("refused"))
        await asyncio.sleep(0)
        return writer.acknowledged_ends

    assert asyncio.run(scenario()) == {("alerts", 0): 5}
