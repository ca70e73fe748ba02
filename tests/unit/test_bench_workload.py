"""The benchmark's workload, which its runner holds whole through every phase."""
from __future__ import annotations

import tracemalloc

from bench.workload import generate


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
