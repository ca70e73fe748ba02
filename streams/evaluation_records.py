"""The latest evaluation record per seller and month, sorted, in bounded memory.

`backfill` makes evaluation records as its partitions' clocks pass each
month; `replay` and `evaluations` read them from the evaluations topic,
where a record may come again (a redelivery, a worker that re-evaluated a
month after a restart). Both write the latest per (seller_id, month),
sorted by seller and month, keys sorted: a year of a million sellers is
some 12 million records of about 1 KB, which do not fit in memory.
"""
from __future__ import annotations

import heapq
import pickle
import tempfile
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator, Optional

# Records held in memory before they go to a sorted run on disk: about 1 KB
# each (so ~100 MB), and a run per this many records.
IN_MEMORY_RECORDS = 100_000
# Runs merged into one before there are more (each is an open file while merging).
MERGED_RUNS = 64
_BATCH = 1_000  # records per pickle of a run


class EvaluationRecords:
    """The latest evaluation record per (seller_id, month), added in any
    order; iterating gives them sorted by seller and month, as `replay
    --evaluations` writes them. Past `in_memory` held records, they are
    sorted into a run in a temporary file, so a backfill of months of history
    takes the memory of its sellers' state, not of every record it made (nor
    a read of the topic that of every record on it); iterating merges the
    runs, a later record of a key replacing an earlier one (as a later
    evaluation record does on the topic). `close` (or leaving a `with`
    block) removes the runs."""

    def __init__(self, in_memory: int = IN_MEMORY_RECORDS, merged_runs: int = MERGED_RUNS):
        self._in_memory = in_memory
        self._merged_runs = merged_runs
        self._held: dict[tuple[str, str], bytes] = {}
        self._runs: list[Path] = []
        self._written = 0  # runs written, for their names
        self._directory: Optional[tempfile.TemporaryDirectory] = None

    def add(self, seller_id: str, month: str, record: bytes) -> None:
        self._held[seller_id, month] = record
        if len(self._held) >= self._in_memory:
            self._write_run(sorted(self._held.items()))
            self._held = {}
            if len(self._runs) >= self._merged_runs:
                runs, self._runs = self._runs, []
                self._write_run(_latest(heapq.merge(*map(_read_run, runs), key=itemgetter(0))))
                for run in runs:
                    run.unlink()

    def _write_run(self, items: Iterable[tuple]) -> None:
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="seller-standards-evaluations-")
        path = Path(self._directory.name) / f"run-{self._written}"
        self._written += 1
        with path.open("wb") as file:
            batch = []
            for item in items:
                batch.append(item)
                if len(batch) == _BATCH:
                    pickle.dump(batch, file, pickle.HIGHEST_PROTOCOL)
                    batch = []
            if batch:
                pickle.dump(batch, file, pickle.HIGHEST_PROTOCOL)
            pickle.dump([], file)  # the end
        self._runs.append(path)

    def __iter__(self) -> Iterator[bytes]:
        """The records, sorted (the runs in the order they were written, then the held ones: the newest last)."""
        held = sorted(self._held.items())
        if not self._runs:  # (a key is held once)
            return iter([record for _, record in held])
        merged = heapq.merge(*map(_read_run, self._runs), held, key=itemgetter(0))
        return (record for _, record in _latest(merged))

    def close(self) -> None:
        """Remove the runs (the held records stay)."""
        if self._directory is not None:
            self._directory.cleanup()
            self._directory, self._runs = None, []

    def __enter__(self) -> "EvaluationRecords":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def _read_run(path: Path) -> Iterator[tuple]:
    with path.open("rb") as file:
        while batch := pickle.load(file):
            yield from batch


def _latest(items: Iterable[tuple]) -> Iterator[tuple]:
    """The last of each run of equal keys in sorted (key, record) items
    (heapq.merge keeps the order of its inputs among equal keys)."""
    last = None
    for item in items:
        if last is not None and last[0] != item[0]:
            yield last
        last = item
    if last is not None:
        yield last
