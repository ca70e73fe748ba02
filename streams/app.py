"""The Faust app: settings, topics, state persistence, web endpoints.

State lives in plain Python objects per partition (standards.engine). What
changed is written to the compacted `<APP_ID>-seller-state` topic just before
the input offsets are committed (Quix Streams' checkpoint idea applied to
Faust): a crash replays input onto state that already holds it, and the
rules' idempotent joins make that a no-op. On assignment the state is read
back from that topic before streams resume.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

import faust
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.exceptions import NotReady
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.tables import TableManager
from mode import Service
from mode.threads import WorkerThread

from standards.policy import load_policy

from . import already_sent, metrics
from .broker import topic_config
from .client_logs import quiet_repeated_client_errors
from .config import Settings
from .processor import APPLY_SLICE, APPLY_SLICE_WHILE_WRITING_STATE, REFRESH_SLICE, Processor, is_backlog
from .reading import read_from, read_topic
from .writer import BatchWriter
from .topics import (COMPACTED, INPUT_TOPIC_SET, INPUT_TOPICS, OUTPUT_TOPICS, check_partition_counts,
                     check_state_topic_config, state_topic_name)

log = logging.getLogger(__name__)
settings = Settings()
policy = load_policy(settings.policy_file)
metrics.export_policy(policy, settings.app_id)


class _AbandonedAtExit(WorkerThread):
    """The consumer's thread, which the process does not wait for at exit.
    mode stops waiting for it after `shutdown_timeout` and closes the
    worker; a thread still in a group join then gets its assignment later,
    and hands it to the main thread's method queue, stopped by then: it
    waits for ever (seen: a static member restarted after a crash, which
    Tansu holds in its join for seconds, stopped by SIGTERM meanwhile). Its
    consumer has nothing to commit: the main thread commits."""

    def __init__(self, service, **kwargs) -> None:
        super().__init__(service, **kwargs)
        self.daemon = True


class WorkerConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    # mode waits this long for the consumer's thread to end when the worker
    # stops (60 s by default): with the broker gone, the thread's consumer
    # keeps looking for the group coordinator, and a SIGTERM took 61 s.
    shutdown_timeout = 5.0
    Worker = _AbandonedAtExit

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        # Faust hard-codes fetch_max_wait_ms=1500. The broker may hold a fetch
        # that long even when records arrive meanwhile (Tansu does), and every
        # event then waits for it. Read by AIOKafkaConsumer.start() when it
        # creates its fetcher, which is after this.
        consumer._fetch_max_wait_ms = settings.fetch_max_wait_ms
        return consumer

    def _stopped_set(self) -> None:
        # After a crash (the worker stopping on an error: `_restore`) the
        # thread has ended and closed its loop, and mode's stop then failed
        # with a second traceback ("Event loop is closed").
        if not self.thread_loop.is_closed():
            super()._stopped_set()

    async def on_thread_stop(self) -> None:
        try:
            await super().on_thread_stop()
        except asyncio.CancelledError:
            # The consumer's stop awaits the fetches it has just cancelled,
            # and their CancelledError comes out of it (aio-libs/aiokafka#647;
            # seen with the broker gone, a fetch waiting to retry). It is not
            # this thread's: the rest of its stop runs. Before, the thread
            # ended there with a traceback, and mode waited 5 s for it.
            if asyncio.current_task().cancelling():
                raise


class StateFlushingConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, with two changes.

    Commits: the state and outputs of the events the offsets cover are
    written and acknowledged by the broker before the offsets are committed;
    they come less often while the worker works through a backlog, and at
    once when it has read the backlog to its end.

    Input records are applied in whole fetched batches (`_drain_messages`):
    instead of Faust's path per message (conductor, channel queue, stream,
    one future and one ack each), the records of an input topic partition go
    straight to `processor.handle_batch`, `APPLY_SLICE` at a time (more
    while a commit writes state), and are
    then marked acknowledged at once in Faust's offset bookkeeping
    (`_acked`), which the commit reads as before: only applied records are
    committed. Anything else that is fetched (table changelogs) still takes
    Faust's path. Rebalances: Faust stops the flow (`stop_flow`) and
    pauses the partitions before it commits and revokes, and resumes them
    only after recovery (`_restore`) and a seek to the committed offsets;
    a batch is applied only while the flow is active, in the generation it
    was fetched in, for a partition that is still active and has been
    restored (never onto the empty state of a restore that failed), and the
    checks and the application of a slice are one synchronous step.
    """

    @Service.task
    async def _commit_handler(self) -> None:  # replaces Faust's commit timer
        # Every COMMIT_INTERVAL, but only every BACKLOG_COMMIT_INTERVAL while
        # the worker works through a backlog: a commit recounts the changed
        # sellers' scorecards and writes every changed item, so the longer a
        # seller's events gather, the fewer cards and state records they make
        # (docs/design.md, "scorecards by monthly totals"). What a crash
        # applies again is longer, and the rules make it a no-op. The end of
        # a backlog wakes it: the commit it held back is then due at once,
        # and a worker that has caught up sends its cards and writes its
        # state without waiting for a timer.
        started = time.monotonic()
        while not self.should_stop:
            interval = settings.backlog_commit_interval if load.backlog else self.commit_interval
            wait = started + interval - time.monotonic()
            if wait > 0:
                load.backlog_ended.clear()
                await self.wait_first(load.backlog_ended, timeout=wait)
                continue
            started = time.monotonic()
            await self.commit()
            if processor.holds_transitions():  # with no input to commit too (a wall clock's deadlines)
                await _write_state_and_release()

    def _filter_committable_offsets(self, tps):
        offsets = super()._filter_committable_offsets(tps)
        if offsets:
            processor.offsets_taken()
        return offsets

    async def _commit_offsets(self, offsets, start_new_transaction: bool = True) -> bool:
        await _write_state_and_release()
        return await super()._commit_offsets(offsets, start_new_transaction)

    async def on_stop(self) -> None:
        await super().on_stop()  # the last commit, whose transitions were sent after it
        # Then the state without them, so that a next worker does not send
        # them again. Two writes when that commit had no offsets to commit
        # (and so wrote nothing): one that holds them (then sent), one without.
        try:
            for _ in range(2):
                if not processor.holds_transitions():
                    break
                await _write_state_and_release()
                await writer.acknowledged(app.producer._ensure_producer())  # what the release sent too
        except NotReady:  # the producer stopped first: a next worker sends them again
            log.warning("state written before the stop still holds transitions already sent")

    def _new_consumer_thread(self):
        return WorkerConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher) -> None:  # replaces Faust's loop of one message at a time
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                records, active = await self._wait_next_records(timeout=1.0)
                load.observe(records or {}, time.time())
                if not records:
                    self._note_read_to_the_end(fetched_nothing=True)
                if not records or self.should_stop:
                    await self.sleep(0)
                    continue
                if not self.flow_active:  # as Faust's getmany: fetched while stopped, so read again
                    try:
                        await self.perform_seek()
                    except Exception as error:
                        log.warning("seek to the committed offsets after a stop failed: %r", error)
                    continue
                generation = self.app.consumer_generation_id
                unyielded = 0  # records applied since the event loop last ran
                for tp, tp_records in records.items():
                    if tp.topic in INPUT_TOPIC_SET:
                        start, end = 0, len(tp_records)
                        while start < end and self._may_apply(tp, active, generation):
                            size = APPLY_SLICE_WHILE_WRITING_STATE if processor.writing_state else APPLY_SLICE
                            # at least one: a record delivered by Faust's path awaited, and the
                            # state write may have ended then, with more applied than its size
                            n = min(max(size - unyielded, 1), end - start)
                            self._apply(tp, tp_records if n == end else tp_records[start:start + n])
                            start += n
                            unyielded += n
                            if unyielded >= size:
                                unyielded = 0
                                await asyncio.sleep(0)  # timers, commits, web requests
                    else:
                        for record in tp_records:
                            if not self._may_apply(tp, active, generation):
                                break
                            await self._deliver(tp, record)
                if load.backlog and self._read_to_the_end():
                    load.caught_up()
                self._note_read_to_the_end(fetched_nothing=False)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as error:
            log.exception("Drain messages raised: %r", error)
            raise

    def _read_to_the_end(self) -> bool:
        """Whether every input partition assigned has been applied up to the
        high watermark of its last fetch: nothing more was there to read. A
        partition with none known (not fetched yet) has not. Its position is
        read from Faust's offset bookkeeping, which `_apply` keeps: the
        offsets applied since the last commit (ascending), else the
        committed offset. (Not Faust's read offset: after a seek it is the
        next offset to read, elsewhere the last one read.)"""
        if not self.flow_active:  # a rebalance under way: the consumer's thread may change the assignment
            return False
        return not self._partitions_behind()

    def _note_read_to_the_end(self, fetched_nothing: bool) -> None:
        """Tell the processor of the partitions whose input is applied up to
        its end: with the wall clock their clocks start following it
        (Processor.read_to_the_end); and of those applied up to the high
        watermark first seen after their restore: their already-sent windows
        close (Processor.windows_read). A fetch that waited a second and
        brought nothing says both of every partition."""
        if not self.flow_active:  # a rebalance under way: the consumer's thread may change the assignment
            return
        waiting = processor.waiting_for_the_end()
        if waiting:
            processor.read_to_the_end(waiting if fetched_nothing else waiting - self._partitions_behind())
        windows = processor.open_windows()
        if windows:
            processor.windows_read(windows.keys() if fetched_nothing else
                                   windows.keys() - self._partitions_behind(windows))

    def _partitions_behind(self, windows: Optional[dict] = None) -> set[int]:
        """The partitions with an input topic partition not yet applied up to
        the high watermark of its last fetch (see `_read_to_the_end`); of
        those with an already-sent window open (`windows`), not yet up to
        the first high watermark seen with that window open: whatever the
        worker before read was below it."""
        behind = set()
        for tp in self.assignment():
            if tp.topic in INPUT_TOPIC_SET and (windows is None or tp.partition in windows):
                highwater = self.highwater(tp)
                acked = self._acked.get(tp)
                position = acked[-1] + 1 if acked else self._committed_offset[tp] or 0
                if windows is not None:
                    applied = windows[tp.partition].input_applied(tp.topic, position, highwater)
                else:
                    applied = highwater is not None and position >= highwater
                if not applied:
                    behind.add(tp.partition)
        return behind

    def _may_apply(self, tp, active, generation) -> bool:
        return (self.flow_active and not self.should_stop and self.app.consumer_generation_id == generation
                and (active is None or tp in active or tp in self._buffered_partitions)
                and (tp.partition in processor.engines or tp.topic not in INPUT_TOPIC_SET))

    def _apply(self, tp, records) -> None:
        """Apply consecutive records of an input partition and mark them
        acknowledged, as Faust's stream would one by one."""
        read = self._read_offset[tp]
        if read is not None and records[0].offset < read:  # as Faust: skip what was read before
            records = [record for record in records if record.offset >= read]
            if not records:
                return
        processor.handle_batch(tp.topic, tp.partition, records)
        last = records[-1].offset
        first = records[0].offset
        if read is not None and first > read + 1:  # as Faust's gaps: offsets with no record are done
            first = read + 1
        committed = self._committed_offset[tp]
        if committed is not None and first < committed:
            first = committed
        acked = self._acked[tp]
        if acked and first <= acked[-1]:  # already marked (read again after a seek)
            first = acked[-1] + 1
        if first <= last:
            acked.extend(range(first, last + 1))
        self._read_offset[tp] = last
        monitor = self.app.monitor
        monitor.stream_inbound_time[tp] = time.monotonic()  # Faust's stall detector reads it
        monitor.track_tp_end_offset(tp, self.highwater(tp))

    async def _deliver(self, tp, record) -> None:
        """Faust's own path for one message (from its `_drain_messages`)."""
        offset = record.offset
        read = self._read_offset[tp]
        if read is None or offset >= read:
            if read and offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
                await self._add_gap(tp, read + 1, offset)
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            await self.wait_first(self.callback(self._to_message(tp, record)), self.suspend_flow.wait())
            self._read_offset[tp] = offset


class Transport(aiokafka_driver.Transport):
    Consumer = StateFlushingConsumer


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner (at a level of `warn` or
    above the spinner sets the root logger to DEBUG, and every debug call of
    Faust and aiokafka then builds a log record), and with the Kafka
    client's repeated errors logged once per 10 s (streams.client_logs)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        quiet_repeated_client_errors()


class _TableManager(TableManager):
    """Faust's, without the second it sleeps at its start for tables still
    to be added: the worker's one table is made as this module is imported,
    and every start and restart of a worker waited that second for nothing."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class StandardsApp(faust.App):
    def _new_transport(self):
        return Transport(self.conf.broker_consumer, self)


app = StandardsApp(
    settings.app_id,
    broker=f"kafka://{settings.bootstrap}",
    broker_credentials=settings.credentials(),
    datadir=settings.data_dir,
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication,
    table_standby_replicas=0,
    broker_commit_interval=settings.commit_interval,
    broker_rebalance_timeout=settings.rebalance_timeout,
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=settings.heartbeat_interval,
    consumer_group_instance_id=settings.group_instance_id,
    consumer_auto_offset_reset="earliest",
    web_bind=settings.web_bind,
    web_port=settings.web_port,
    web_host=settings.web_bind,
    producer_acks=-1,
    # Output and state batches (streams/writer.py) of up to 256 KiB instead of
    # 16 KiB: a produce request carries one batch per partition.
    producer_max_batch_size=256 * 1024,
    stream_wait_empty=True,
    Worker=Worker,
    TableManager=_TableManager,
)

# Created with PARTITIONS partitions when missing (Faust declares an internal
# topic before it subscribes to it): else the broker made them at the
# subscription, with its own default count (1 on Apache Kafka, 4 on Tansu),
# and the worker then stopped on them (_check_partition_counts).
input_topic = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions, internal=True)
output_topics = {
    name: app.topic(name, key_serializer="raw", value_serializer="raw", partitions=settings.partitions,
                    config={"cleanup.policy": "compact"} if name in COMPACTED else None)
    for name in OUTPUT_TOPICS
}
# /metrics: our metrics and Faust's own consumer, producer, table and
# rebalance sensors (prefixed seller_standards_faust_), in the default registry.
setup_prometheus_sensors(app, pattern="/metrics", name_prefix="seller_standards_faust")
state_topic = app.topic(state_topic_name(settings.app_id), key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions, config={"cleanup.policy": "compact"})
# A table that is never written: Faust runs its recovery callbacks after a
# rebalance and before it resumes the streams, which is when state is read.
# (Not a Faust table for the state itself: Faust's recovery reads a changelog
# only up to the end offsets the broker reports, and Tansu reports the base
# offset of the last batch, which left the newest state out; it also kept a
# second copy of everything in memory.)
recovery_gate = app.Table("recovery-gate", partitions=settings.partitions, key_type=bytes, value_type=bytes)


writer = BatchWriter(state_topic.get_topic_name())
processor = Processor(policy, writer.add, state_topic.get_topic_name(), wall_clock=settings.clock == "wall",
                      acknowledged_ends=writer.acknowledged_ends)
ready = {"recovered": False}


def _active_partitions() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic in INPUT_TOPICS}


@recovery_gate.on_recover
async def _restore() -> None:
    # Faust drops an error of a recovery callback and resumes the streams
    # anyway: the partitions not restored would then be applied to empty
    # state, which the next commit writes over the stored one. The worker
    # stops instead (a partition is applied only once restored:
    # StateFlushingConsumer._may_apply), and its next start restores again.
    try:
        await _restore_assigned()
    except Exception as error:
        if not app.should_stop:  # else a stop (a signal) cut it short: nothing is applied after it either
            await app.crash(error)


async def _restore_assigned() -> None:
    partitions = _active_partitions()
    started = time.monotonic()
    for topic in (state_topic, *output_topics.values()):  # records are sent as batches, not through Faust
        await topic.maybe_declare()
    await _check_partition_counts()
    await _check_state_topic()
    records = await read_topic(settings.bootstrap, state_topic.get_topic_name(), partitions=partitions,
                               options=settings.client_options())
    loaded = processor.load(partitions, records)
    # What the worker before sent that this state does not know of (streams/already_sent.py)
    tails, ends = await read_from(settings.bootstrap, {
        TopicPartition(topic, partition): engine.outputs_from.get(topic)
        for partition, engine in loaded.items() for topic in already_sent.TOPICS}, options=settings.client_options())
    processor.install({p: engine for p, engine in loaded.items() if p in _active_partitions()},
                      _per_partition(tails), _per_partition(ends))
    seconds = time.monotonic() - started
    log.info("ready in %.2f s: %d changelog records, %d bytes, read for partitions %s",
             seconds, len(records), sum(len(v or b"") for _, v in records), sorted(partitions))
    metrics.RESTORE_SECONDS.set(seconds)
    metrics.RESTORED_RECORDS.set(len(records))
    ready["recovered"] = True
    metrics.READY.set(1)
    metrics.ASSIGNED_PARTITIONS.set(len(partitions))


def _per_partition(by_tp: dict[TopicPartition, Any]) -> dict[int, dict[str, Any]]:
    grouped: dict[int, dict[str, Any]] = {}
    for tp, value in by_tp.items():
        grouped.setdefault(tp.partition, {})[tp.topic] = value
    return grouped


async def _check_partition_counts() -> None:
    """Every topic the worker reads or writes has PARTITIONS partitions,
    checked at each assignment: topics made by others may have another
    count, and a topic may be given partitions while workers run (before,
    such a worker waited for ever for state partitions that do not exist,
    and logged nothing)."""
    names = (*INPUT_TOPICS, *OUTPUT_TOPICS, state_topic.get_topic_name())
    metadata = await app.producer._ensure_producer().client.fetch_all_metadata()
    check_partition_counts({name: metadata.partitions_for_topic(name) for name in names}, settings.partitions)


async def _check_state_topic() -> None:
    """The state topic keeps every seller's latest records for ever, checked
    at each assignment: a topic made by others (a platform's own topic
    tooling, where brokers make none on demand) may have Kafka's default
    `cleanup.policy=delete`, which drops them after 7 days, and a restart
    after that restored sellers without them, silently. A broker that does
    not let the worker read the settings leaves them unchecked, with a
    warning."""
    name = state_topic.get_topic_name()
    try:
        config = await topic_config(settings.bootstrap, name, settings.client_options())
    except KafkaError as error:
        log.warning("the settings of %s could not be read (%r): its cleanup.policy is not checked", name, error)
        return
    check_state_topic_config(name, config)


@app.on_partitions_revoked.connect
async def _revoked(app, revoked, **kwargs) -> None:
    processor.revoke({tp.partition for tp in revoked if tp.topic in INPUT_TOPICS})
    ready["recovered"] = False
    metrics.READY.set(0)
    metrics.ASSIGNED_PARTITIONS.set(0)
    metrics.REBALANCES.inc()
    metrics.CONSUMER_LAG.clear()


# One write at a time: the commit tick's write runs outside Faust's commits
# (one at a time among themselves), and a release after one write's
# acknowledgements must not send what a write begun meanwhile holds.
_state_write = asyncio.Lock()


async def _write_state_and_release() -> None:
    """Write the changed state, wait until the broker has it and every
    record before it, then send the violations and badge changes it holds
    (PartitionEngine.release)."""
    async with _state_write:
        await processor.flush_in_slices(REFRESH_SLICE, send=_send_soon)
        await writer.acknowledged(app.producer._ensure_producer())
        processor.release()
        _send_soon()


def _send_soon() -> None:
    # In the background: the producer takes a partition's next batch only
    # once the one before is on its way, and the timer must not wait for that.
    try:
        producer = app.producer._ensure_producer()  # Faust has no public handle on its aiokafka producer
    except NotReady:  # stopped: the commit on the way out sent what is left
        return
    writer.send_soon(producer)


class Load:
    """Whether the worker works through a backlog (see BACKLOG_SECONDS),
    which the processor holds for its engines (Processor.set_backlog)."""

    def __init__(self) -> None:
        self.backlog_ended = asyncio.Event()  # set when a backlog ends (the commit handler waits on it)

    @property
    def backlog(self) -> bool:
        return processor.backlog  # False until a fetch brings records BACKLOG_SECONDS old

    def observe(self, fetched: dict, now: float) -> None:
        """What a fetch says (records per partition); one that brought
        nothing (a second went by without a record) says caught up, and so
        does a backlog's fetch once the worker has applied it to the end
        (`caught_up`, from the consumer)."""
        backlog = is_backlog(fetched, now, BACKLOG_SECONDS)
        if self.backlog and not backlog:
            self.caught_up()
        elif backlog and not self.backlog:
            processor.set_backlog(True)

    def caught_up(self) -> None:
        """No backlog any more: fresh records came, or the worker has read
        and applied everything there was."""
        processor.set_backlog(False)
        self.backlog_ended.set()


# Scorecards are recomputed every SCORECARD_INTERVAL (0.1 s), and only by the
# commits (every BACKLOG_COMMIT_INTERVAL) while the worker works through a
# backlog, so that a seller's events coalesce into one recount: a backlog's
# cards are behind by the lag anyway, and coalescing cuts a replay's cards by
# a quarter and the worker's CPU by about a fifth. A backlog is a fetch whose
# newest record of some partition is BACKLOG_SECONDS old or more by its Kafka
# timestamp (a replay, a restart, a long stop), not a short stall, which a
# live worker under load has now and then and whose cards would then wait for
# the commit. (Not the lag to the high watermark: on Tansu it stayed under
# 20,000 records through most of a 300,000-record replay.) It ends with a
# fetch of fresh records, one that waited a second and brought nothing, or as
# soon as the worker has applied every input partition up to the high
# watermark of its last fetch: old records read as they come (a producer that
# sets old timestamps) are then no backlog, and a replay's last commit
# follows its last record at once instead of a second or two later.
# A live worker no longer recounts less often when it is busy (it did every
# 0.5 s once a fetch brought 500 records of a partition or it used 80 % of a
# core): a commit's pause made it busy, the next recount then gathered five
# times the sellers and, 100-250 ms long, held the input back in turn
# (measured at 17,000 events/s, half the worker's throughput: p99
# publish-to-scorecard 0.9-1.2 s against 0.6-1.0 s, median 0.7, recounting
# every 0.1 s, and no worse at 27,000 events/s: docs/design.md).
BACKLOG_SECONDS = 5.0
load = Load()


@app.task
async def _refresh_scorecards() -> None:
    # Not a Faust timer: one that runs longer than its interval logs a warning
    # each time, and a recount under load often takes longer than 0.1 s.
    while not app.should_stop:
        await app.sleep(settings.refresh_interval)
        if not load.backlog:
            await _recount()
        _update_lag()


async def _recount() -> None:
    # In slices: when many sellers changed (every one at a month change),
    # events keep flowing meanwhile.
    processor.advance_wall_clock()
    await processor.refresh_in_slices(REFRESH_SLICE, send=_send_soon)
    processor.update_gauges()


def _update_lag() -> None:
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})  # Faust keeps no public view of it
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp) if tp.topic in INPUT_TOPICS else None
        if highwater is not None and committed.get(tp) is not None:  # both known once fetched and committed
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - committed[tp]))


@app.page("/healthz")
async def _healthz(web, request):
    return web.json({"status": "ok"})


@app.page("/ready")
async def _ready(web, request):
    status = 200 if ready["recovered"] else 503
    return web.json({"ready": ready["recovered"], "partitions": sorted(processor.engines)}, status=status)


import agents.intake  # noqa: E402,F401  registers the agent with the app

