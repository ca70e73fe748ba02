"""The benchmark's workload, which its runner holds whole through every phase."""
from __future__ import annotations

import tracemalloc

from bench.history import _months, event_time
from bench.workload import generate
from standards.calendar import DAY


def test_a_workload_held_whole_takes_about_its_bytes():
    # A record is a topic, a key of about 14 bytes and an event's JSON of
    # about 270: with the tuple, well under 1 KB. orjson 3.13's results each
    # hold a 4 KiB buffer: kept as orjson made them, records took 5 KB each.
    tracemalloc.start()
    try:
        workload = generate(5_000, 1_000, 10.0, 8, seed=3)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    records = len(workload.records) + len(workload.tail)
    assert records > 4_000
    assert held < 1_000 * records


def test_the_history_run_takes_every_record_once_in_order_a_month_at_a_time():
    # bench.history: 90 days of events, each topic partition's in their
    # order, in months that end before the first event 30 days of event
    # time after the month's first.
    workload = generate(6_000, 500, 90.0, 8, seed=3)
    months = list(_months(workload.records, 8))
    assert len(months) >= 3
    assert sorted(record.offset for month in months for batch in month.values() for record in batch) == list(
        range(len(workload.records)))
    for month in months:
        assert all([record.offset for record in batch] == sorted(record.offset for record in batch)
                   for batch in month.values())
        times = [t for _, t in sorted((record.offset, event_time(record.value))
                                      for batch in month.values() for record in batch) if t is not None]
        assert max(times) < times[0] + 30 * DAY
