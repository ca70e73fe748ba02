"""`python -m bench` end to end on a small workload: the numbers BENCHMARKS.md
reports are only worth reading if the runner still drives the worker and the
backfill through their current interfaces, and if both account for every event
and agree on every evaluation record."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_worker_and_backfill_agree(tmp_path):
    results_path = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--events", "20000", "--sellers", "3000",
         "--skip", "limit,naive,peer,latency,restart,rocksdb", "--no-write",
         "--workdir", str(tmp_path / "work"), "--json", str(results_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(results_path.read_text())

    accounted = results["project"]["accounted"]
    assert accounted["loaded"] == results["workload"]["events"]
    assert accounted["unaccounted"] == 0
    # Both paths refuse the same invalid events: the worker to its dead-letter topic.
    assert accounted["dead_letters"] == results["backfill"]["invalid"]

    # Two workers in one group share the partitions, each holding its own.
    first, second = results["project-pair"]["runs"][0]["partitions"]
    assert sorted(first + second) == list(range(results["args"]["partitions"])) and first and second

    check = results["evaluations_check"]
    assert check["backfill"] == results["backfill"]["evaluations"] > 0
    assert check["worker"] == check["backfill"]
    assert check["differing"] == 0
