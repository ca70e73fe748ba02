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

    # The worker's rules alone, in process, over the same records: the
    # sellers the worker holds, the same evaluation records as the backfill
    # (SPEC 6.1: one per seller and month with activity) and the same invalid
    # events dead-lettered.
    rules = results["in_process"]["runs"][0]
    assert rules["events"] == accounted["loaded"]
    assert rules["sellers"] == results["project"]["runs"][-1]["sellers_in_state"] > 0  # as the worker holds
    assert rules["outputs"]["standards.evaluations"] == results["backfill"]["evaluations"]
    assert rules["outputs"].get("standards.deadletter", 0) == results["backfill"]["invalid"]
    # A process's CPU time from ready to the final commit: some, and no more than its cores could give.
    run = results["project"]["runs"][0]
    assert 0 < run["cpu_seconds"] <= run["committed_seconds"] * results["machine"]["cores"]

    check = results["evaluations_check"]
    assert check["backfill"] == results["backfill"]["evaluations"] > 0
    assert check["worker"] == check["backfill"]
    assert check["differing"] == 0
