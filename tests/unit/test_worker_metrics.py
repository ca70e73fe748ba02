"""What the worker's /metrics shows: the default registry in a process that
imported the worker's app (which adds Faust's sensors to it), run apart from
the tests' own process."""
from __future__ import annotations

import tomllib

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.validate import INVALID_EVENT_CODES
from standards.judge import STANDARDS
from standards.policy import Policy, load_policy
from streams.topics import INPUT_TOPICS

from worker_app import ROOT, run_with_worker_app


def _worker_metrics(script: str = "", env: dict | None = None) -> dict[tuple[str, frozenset], float]:
    """(name, labels) -> value of every sample /metrics shows after `script`
    ran in a process that imported the worker's app as `worker` (with `env`
    added to the environment)."""
    shown = run_with_worker_app(f"{script}\nfrom prometheus_client import REGISTRY, generate_latest\n"
                                "print(generate_latest(REGISTRY).decode())", env)
    assert shown.returncode == 0, shown.stderr
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(shown.stdout) for sample in family.samples}


@pytest.fixture(scope="module")
def worker_samples() -> dict[tuple[str, frozenset], float]:
    """The samples before the worker processed anything."""
    return _worker_metrics()


def test_every_name_the_worker_exports_starts_with_seller_standards(worker_samples):
    names = {name for name, _ in worker_samples}
    assert {"seller_standards_process_cpu_seconds_total", "seller_standards_evaluations_total",
            "seller_standards_gc_pause_seconds_count"} <= names
    assert sorted(name for name in names if not name.startswith("seller_standards_")) == []


def test_the_release_the_worker_runs_is_exported(worker_samples):
    """As pyproject.toml names it, the one place the version is written."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert worker_samples[("seller_standards_build_info", frozenset({("version", project["version"])}))] == 1


def test_every_violation_dead_letter_input_topic_and_late_proof_series_is_exported_at_zero_from_the_start(
        worker_samples):
    expected = [("seller_standards_violations_total", frozenset({("standard", standard), ("change", change)}))
                for standard in STANDARDS for change in ("opened", "resolved")]
    expected += [("seller_standards_deadletters_total", frozenset({("reason", reason)}))
                 for reason in (*INVALID_EVENT_CODES, "processing_error")]
    expected += [(name, frozenset({("topic", topic)}))
                 for name in ("seller_standards_events_keyed_otherwise_total",
                              "seller_standards_events_after_evaluation_total") for topic in INPUT_TOPICS]
    expected += [("seller_standards_proofs_past_lateness_total", frozenset({("item", item)}))
                 for item in ("thread", "order")]
    expected.append(("seller_standards_split_sellers_total", frozenset()))
    assert [worker_samples.get(series) for series in expected] == [0.0] * len(expected)


def test_a_revocation_sets_the_assigned_partitions_to_zero():
    samples = _worker_metrics("worker.metrics.ASSIGNED_PARTITIONS.set(4)\n"
                              "asyncio.run(worker._revoked(worker.app, set()))")
    assert samples[("seller_standards_assigned_partitions", frozenset())] == 0


def test_gc_pauses_are_counted_per_generation_in_buckets_that_include_their_bound(monkeypatch):
    from prometheus_client import CollectorRegistry

    from streams import metrics

    registry = CollectorRegistry()
    pauses = metrics.GcPauses(metrics.gc_pause_histogram(registry))
    clock = iter([1.0, 1.25, 2.0, 2.5, 3.0, 3.0078125])  # perf_counter at each start and stop (exact in binary)
    monkeypatch.setattr(metrics.time, "perf_counter", lambda: next(clock))
    for generation in (0, 2, 0):  # 0.25 s, 0.5 s, 1/128 s
        pauses("start", {"generation": generation})
        pauses("stop", {"generation": generation, "collected": 0, "uncollectable": 0})

    def sample(suffix: str, generation: int, le: str = "") -> float:
        labels = {"generation": str(generation), **({"le": le} if le else {})}
        return registry.get_sample_value("seller_standards_gc_pause_seconds" + suffix, labels)

    assert [sample("_bucket", 0, le) for le in ("0.005", "0.01", "0.1", "0.25", "0.5", "+Inf")] == [0, 1, 1, 2, 2, 2]
    assert (sample("_count", 0), sample("_sum", 0)) == (2, 0.2578125)
    assert [sample("_bucket", 2, le) for le in ("0.25", "0.5", "+Inf")] == [0, 1, 1]
    assert (sample("_count", 1), sample("_sum", 1), sample("_count", 2), sample("_sum", 2)) == (0, 0, 1, 0.5)


def test_the_policy_the_worker_judges_with_is_exported_by_its_fingerprint(tmp_path):
    """Workers of one APP_ID must judge with one policy: the fingerprint is
    of the numbers, so a file that sets a default's own value gives the
    default's, and one that changes a number another."""
    (tmp_path / "same.toml").write_text("[message_response]\nmin_percent = 80\n")
    (tmp_path / "other.toml").write_text("[message_response]\nmin_percent = 85\n")

    def exported(env: dict) -> list[dict]:
        return [dict(labels) for (name, labels), value in _worker_metrics(env=env).items()
                if name == "seller_standards_policy_info" and value == 1]

    default = Policy().fingerprint
    assert exported({"APP_ID": "market-a"}) == [
        {"name": "service-standards", "fingerprint": default, "app_id": "market-a"}]
    assert exported({"APP_ID": "market-a", "POLICY_FILE": str(tmp_path / "same.toml")})[0]["fingerprint"] == default
    other = exported({"APP_ID": "market-a", "POLICY_FILE": str(tmp_path / "other.toml")})[0]["fingerprint"]
    assert other != default and other == load_policy(tmp_path / "other.toml").fingerprint
