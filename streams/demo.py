"""`seller-standards demo`: embedded broker, a worker, a simulated
marketplace with time running fast, and a live summary of the outputs."""
from __future__ import annotations

import tempfile
import time
from collections import Counter
from typing import Callable

import click
import orjson
from aiokafka import AIOKafkaProducer

from schemas.validate import format_timestamp, parse_timestamp
from standards.calendar import DAY
from standards.engine import BADGES, EVALUATIONS, SCORECARDS, VIOLATIONS

from .broker import EmbeddedBroker, create_topics, run_stoppable
from .reading import started_reader
from .simulate import simulate
from .topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS

START = parse_timestamp("2026-01-01T00:00:00Z")
SHORT_NAMES = {"message_response": "message", "on_time_shipping": "shipping", "review_rating": "reviews",
               "case_rate": "cases"}


class Summary:
    def __init__(self):
        self.status: dict[str, dict[str, str]] = {}
        self.star: set[str] = set()
        self.violations = Counter()
        self.evaluations = 0

    def take(self, topic: str, value: bytes) -> None:
        record = orjson.loads(value)
        if topic == SCORECARDS:
            seller = record["seller_id"]
            self.status[seller] = {k: v["status"] for k, v in record["standards"].items()}
            (self.star.add if record["star_seller"]["eligible"] else self.star.discard)(seller)
        elif topic == VIOLATIONS:
            self.violations[record["type"]] += 1
        elif topic == EVALUATIONS:
            self.evaluations += 1

    def line(self, sim_time: int, published: int) -> str:
        """The columns LEGEND names."""
        statuses = []
        for standard, label in SHORT_NAMES.items():
            counts = Counter(s[standard] for s in self.status.values())
            statuses.append(f"{label} {counts['met']}/{counts['not_met']}")
        stamp = format_timestamp(sim_time)
        opened, resolved = self.violations["violation.opened"], self.violations["violation.resolved"]
        return " | ".join([
            f"{stamp[:10]} {stamp[11:13]}h", f"events {published:,}", f"sellers {len(self.status)}",
            "met/not met: " + " ".join(statuses), f"star {len(self.star)}",
            f"violations +{opened}/-{resolved} (open {opened - resolved})",
            f"evaluations {self.evaluations}",
        ])


LEGEND = ("each line: simulated time | events published | sellers with a scorecard | per standard, sellers "
          "met/not met in the period to date (this month and the two before; the others are not_enough_data "
          "or not_applicable) | Star Sellers | violations opened/resolved so far (open: standards not met now) "
          "| monthly evaluation records so far")


class WorkerStopped(Exception):
    pass


async def _run(bootstrap: str, partitions: int, sellers: int, speed: float, duration: float | None,
               worker_alive: Callable[[], bool]) -> None:
    events = list(simulate(sellers, START, days=400, heartbeat_every=3600 * 1_000_000))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    consumer = await started_reader(bootstrap, None, SCORECARDS, VIOLATIONS, BADGES, EVALUATIONS)
    summary = Summary()
    began = time.monotonic()
    printed = 0.0
    published = 0
    try:
        for event in events:
            sim_time = parse_timestamp(event["occurred_at"])
            while START + (time.monotonic() - began) * speed * 1_000_000 < sim_time:
                batch = await consumer.getmany(timeout_ms=100)
                for tp, messages in batch.items():
                    for m in messages:
                        summary.take(tp.topic, m.value)
                if time.monotonic() - printed >= 2:
                    if not worker_alive():  # else the numbers would stand still with no word why
                        raise WorkerStopped
                    printed = time.monotonic()
                    print(summary.line(sim_time, published), flush=True)
                if duration and time.monotonic() - began > duration:
                    return
            topic = event.pop("_topic")
            value = orjson.dumps(event)
            if event["type"] == "clock.heartbeat":  # the clock of every partition moves
                for partition in range(partitions):
                    await producer.send(topic, value, partition=partition)
            else:
                await producer.send(topic, value, key=event["seller_id"].encode())
            published += 1
        print(f"simulation ended at {format_timestamp(START + 400 * DAY)}", flush=True)
    finally:
        await consumer.stop()
        await producer.stop()


def run_demo(sellers: int, speed: float, duration: float | None, partitions: int = 4) -> None:
    from .cli import running_worker, worker_log_end

    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as data_dir:
        run_stoppable(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, partitions, compacted=COMPACTED))
        with running_worker(broker.bootstrap, "seller-standards-demo", data_dir,
                            {"PARTITIONS": str(partitions)}) as worker:
            print(f"embedded broker on {broker.bootstrap}; worker pid {worker.pid}; {sellers} sellers, "
                  f"{speed / 3600:g} simulated hours per second. Ctrl-C stops.\n{LEGEND}", flush=True)
            try:
                run_stoppable(_run(broker.bootstrap, partitions, sellers, speed, duration,
                                   lambda: worker.poll() is None))
            except KeyboardInterrupt:
                print("\nstopping", flush=True)
            except WorkerStopped:
                raise click.ClickException(f"the worker stopped (exit status {worker.returncode}); "
                                           f"the end of its log:\n{worker_log_end(data_dir)}") from None
