"""The Faust app: settings, topics, state persistence, web endpoints.

State lives in plain Python objects per partition (standards.engine). What
changed is written to the compacted `<APP_ID>-seller-state` topic just before
the input offsets are committed (Quix Streams' checkpoint idea applied to
Faust): a crash replays input onto state that already holds it, and the
rules' idempotent joins make that a no-op. On assignment the state is read
back from that topic before streams resume.
"""
from __future__ import annotations

import logging
import time

import faust
from aiokafka.errors import ProducerClosed
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.sensors.prometheus import setup_prometheus_sensors

from standards.policy import load_policy

from . import metrics
from .config import Settings
from .processor import Processor
from .reading import read_topic
from .writer import BatchWriter
from .topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS

log = logging.getLogger(__name__)
settings = Settings()
policy = load_policy(settings.policy_file)


class StateFlushingConsumer(aiokafka_driver.Consumer):
    async def _commit_offsets(self, offsets, start_new_transaction: bool = True) -> bool:
        # State and outputs of the events these offsets cover are written and
        # acknowledged by the broker before the offsets are committed.
        processor.flush()
        await writer.acknowledged(app.producer._ensure_producer())
        return await super()._commit_offsets(offsets, start_new_transaction)


class Transport(aiokafka_driver.Transport):
    Consumer = StateFlushingConsumer


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
    consumer_auto_offset_reset="earliest",
    web_bind=settings.web_bind,
    web_port=settings.web_port,
    web_host=settings.web_bind,
    producer_acks=-1,
    stream_wait_empty=True,
)

input_topic = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions)
output_topics = {
    name: app.topic(name, key_serializer="raw", value_serializer="raw", partitions=settings.partitions,
                    config={"cleanup.policy": "compact"} if name in COMPACTED else None)
    for name in OUTPUT_TOPICS
}
# /metrics: our metrics and Faust's own consumer, producer, table and
# rebalance sensors (prefixed seller_standards_faust_), in the default registry.
setup_prometheus_sensors(app, pattern="/metrics", name_prefix="seller_standards_faust")
state_topic = app.topic(f"{settings.app_id}-seller-state", key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions, config={"cleanup.policy": "compact"})
# A table that is never written: Faust runs its recovery callbacks after a
# rebalance and before it resumes the streams, which is when state is read.
# (Not a Faust table for the state itself: Faust's recovery reads a changelog
# only up to the end offsets the broker reports, and Tansu reports the base
# offset of the last batch, which left the newest state out; it also kept a
# second copy of everything in memory.)
recovery_gate = app.Table("recovery-gate", partitions=settings.partitions, key_type=bytes, value_type=bytes)


writer = BatchWriter()
processor = Processor(policy, writer.add, state_topic.get_topic_name(), wall_clock=settings.clock == "wall")
ready = {"recovered": False}


def _active_partitions() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic in INPUT_TOPICS}


@recovery_gate.on_recover
async def _restore() -> None:
    partitions = _active_partitions()
    started = time.monotonic()
    for topic in (state_topic, *output_topics.values()):  # records are sent as batches, not through Faust
        await topic.maybe_declare()
    records = await read_topic(settings.bootstrap, state_topic.get_topic_name(), partitions=partitions,
                               options=settings.client_options())
    processor.restore(partitions, records)
    log.info("ready in %.2f s: %d changelog records, %d bytes, read for partitions %s",
             time.monotonic() - started, len(records), sum(len(v or b"") for _, v in records), sorted(partitions))
    ready["recovered"] = True
    metrics.READY.set(1)
    metrics.ASSIGNED_PARTITIONS.set(len(partitions))


@app.on_partitions_revoked.connect
async def _revoked(app, revoked, **kwargs) -> None:
    processor.revoke({tp.partition for tp in revoked if tp.topic in INPUT_TOPICS})
    ready["recovered"] = False
    metrics.READY.set(0)
    metrics.REBALANCES.inc()
    metrics.CONSUMER_LAG.clear()


@app.timer(settings.refresh_interval)
async def _tick() -> None:
    processor.tick()
    try:
        await writer.send(app.producer._ensure_producer())  # Faust has no public handle on its aiokafka producer
    except ProducerClosed:  # stopping: the commit on the way out sends what is left
        pass
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

