"""What a long history costs the rules: the benchmark's workload generator
over many months, fed in process (no Kafka) to the worker's `Processor`, a
month of event time at a time, each month ending as a commit does
(scorecards recounted, state written). Prints, per month, the CPU time per
event and the sellers and items the state holds after it.

    python -m bench.history [--events 480000] [--sellers 20000] [--days 480]

The default keeps the benchmark's events per seller and month (300,000
events of 100,000 sellers over 60 days) over 16 months: what a worker
meets after a year and more of a marketplace's history (docs/design.md,
"Past orders and idle sellers").
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import time
from typing import Optional

from bench.in_process import apply_as_fetched, fetched
from bench.workload import generate
from schemas.validate import InvalidEvent, decode_event
from standards.calendar import DAY
from standards.policy import load_policy
from standards.seller import ITEM_CLASSES
from streams.gc_tuning import tune_gc
from streams.processor import Processor


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=480_000)
    p.add_argument("--sellers", type=int, default=20_000)
    p.add_argument("--days", type=float, default=480.0)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    workload = generate(args.events, args.sellers, args.days, args.partitions, seed=args.seed)
    processor = Processor(load_policy(None), lambda *record: None, "state")
    # The workload's invalid events (a few per thousand) are dead-lettered as
    # the worker does; a warning for each would bury the table.
    logging.getLogger("streams.processor").setLevel(logging.ERROR)
    tune_gc()
    gc.freeze()  # the workload, held whole, is not the worker's
    print("month  events  us/event  sellers  items (per seller)  past orders")
    for month, records in enumerate(_months(workload.records, args.partitions), 1):
        started = time.process_time()
        apply_as_fetched(processor, records)
        asyncio.run(processor.flush_in_slices(len(workload.records)))
        spent = time.process_time() - started
        sellers = [seller for engine in processor.engines.values() for seller in engine.sellers.values()]
        items = sum(len(getattr(seller, collection)) for seller in sellers for collection in ITEM_CLASSES)
        past = sum(len(seller.past_orders) for seller in sellers)
        events = sum(map(len, records.values()))
        print(f"{month:5d} {events:7,d} {spent / events * 1e6:9.1f} {len(sellers):8,d} {items:7,d} "
              f"({items / max(1, len(sellers)):.1f}) {past:12,d}", flush=True)


def _months(records: list, partitions: int):
    """The records, in their order, grouped per topic partition
    (`bench.in_process.fetched`), a month at a time: from a record's event
    time to the first record 30 days later."""
    month: list = []  # (offset, record)
    month_end = None
    for offset, record in enumerate(records):
        at = event_time(record[2])
        if at is not None and month_end is None:
            month_end = at + 30 * DAY
        if at is not None and at >= month_end and month:
            yield fetched(month, partitions)
            month, month_end = [], at + 30 * DAY
        month.append((offset, record))
    if month:
        yield fetched(month, partitions)


def event_time(value: bytes) -> Optional[int]:
    """A record's `occurred_at`; None for the workload's invalid events (dead letters)."""
    try:
        return decode_event(value)["occurred_at"]
    except InvalidEvent:
        return None


if __name__ == "__main__":
    main()
