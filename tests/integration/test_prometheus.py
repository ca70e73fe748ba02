"""Alert rules and dashboards against a real Prometheus (Debian's `prometheus`
package: `prometheus` and `promtool` on PATH; scripts/install-test-deps.sh
installs it). Skipped, with the reason, where it is missing.

- promtool validates deploy/alerts.yml and runs its unit tests.
- A Prometheus server on a loopback port scrapes a worker that processed a
  simulated replay, loads deploy/alerts.yml, and answers every dashboard
  query with at least one series and every alert expression without error.
"""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from schemas.validate import parse_timestamp
from standards.calendar import DAY
from streams import replay
from streams.broker import EmbeddedBroker, create_topics, free_port
from streams.cli import start_worker, stop_worker
from streams.simulate import simulate
from streams.topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS

yaml = pytest.importorskip("yaml", reason="PyYAML is missing: it belongs to the `test` extra (pyyaml)")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = ROOT / "dashboards"
SCRAPE_SECONDS = 1


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"`{name}` is not on PATH: these tests need Debian's `prometheus` package "
                    "(run scripts/install-test-deps.sh as root, or apt-get install prometheus)")
    return path


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard title / panel title, PromQL) of every panel target."""
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{board['title']} / {panel['title']}", target["expr"]))
    return queries


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_and_unit_tests_the_alert_rules_and_checks_the_config():
    promtool = _binary("promtool")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"],
                 ["check", "config", "prometheus.yml"]):  # the compose stack's config and its rule files
        run = subprocess.run([promtool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"promtool {' '.join(args)}:\n{run.stdout}\n{run.stderr}"


def _events(first: Path, second: Path) -> None:
    """A workload that moves every metric: 40 simulated sellers over 35 days
    from 2026-01-01 (January is evaluated on Feb 2), two invalid records, and
    a seller whose message_response violation opens (`first`: a thread left
    unanswered past 48 h) and resolves (`second`: the reply, sent in time,
    arrives late); and in `second`, an order placed before February's
    evaluation was made."""
    start = parse_timestamp("2026-01-01T00:00:00Z")
    lines = [orjson.dumps(e) for e in simulate(40, start, days=35, seed=11, heartbeat_every=DAY // 4)]
    lines.append(b"not json at all")
    lines.append(orjson.dumps({"event_id": "bad-rating", "type": "review.posted", "seller_id": "seller-00001",
                               "occurred_at": "2026-02-01T10:00:00Z", "review_id": "r", "order_id": "o",
                               "rating": 6}))
    seller = {"seller_id": "seller-late-reply"}
    for i in range(5):  # 5 sales: the standards are judged
        lines.append(orjson.dumps({**seller, "event_id": f"late-o{i}", "type": "order.placed",
                                   "occurred_at": f"2026-02-06T1{i}:00:00Z", "order_id": f"o{i}", "total": "10.00",
                                   "currency": "EUR", "ship_by": "2026-03-01T00:00:00Z", "digital": True,
                                   "purchase_protected": False, "tracking_required": False}))
    lines.append(orjson.dumps({**seller, "event_id": "late-m1", "type": "message.sent",
                               "occurred_at": "2026-02-07T10:00:00Z", "thread_id": "t", "message_id": "m1",
                               "sender_role": "buyer"}))
    # replay.publish ends the file with this heartbeat on every partition of every topic
    lines.append(orjson.dumps({"seller_id": "heartbeat", "event_id": "late-hb", "type": "clock.heartbeat",
                               "occurred_at": "2026-02-09T12:00:00Z"}))
    first.write_bytes(b"\n".join(lines) + b"\n")
    second.write_bytes(orjson.dumps({**seller, "event_id": "late-m2", "type": "message.sent",
                                     "occurred_at": "2026-02-09T09:00:00Z", "thread_id": "t",
                                     "message_id": "m2", "sender_role": "seller"}) + b"\n"
                       # placed before February's evaluation instant (2026-02-02T00:00Z), which the
                       # clock passed with the first file: one event after its evaluation
                       + orjson.dumps({"seller_id": "seller-late-order", "event_id": "late-o", "type": "order.placed",
                                       "occurred_at": "2026-02-01T12:00:00Z", "order_id": "o", "total": "10.00",
                                       "currency": "EUR", "ship_by": "2026-02-03T00:00:00Z", "digital": True,
                                       "purchase_protected": False, "tracking_required": False}) + b"\n")


def _get_json(url: str, timeout: float = 10) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # Prometheus answers 400/422 with a JSON error body
        return json.loads(error.read())


class Prometheus:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def query(self, expr: str) -> dict:
        return _get_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))

    def value(self, expr: str) -> float | None:
        result = self.query(expr).get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else None


@contextmanager
def running_prometheus(tmp: Path, worker_port: int):
    """A Prometheus server with deploy/prometheus.yml's job, pointed at the
    worker, scraping and evaluating deploy/alerts.yml every second."""
    binary = _binary("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=f"{SCRAPE_SECONDS}s", evaluation_interval=f"{SCRAPE_SECONDS}s",
                            scrape_timeout=f"{SCRAPE_SECONDS}s")
    config["rule_files"] = [str(DEPLOY / "alerts.yml")]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(tmp / "prometheus.log", "wb")
    process = subprocess.Popen(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Prometheus(port)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError("prometheus exited:\n" + (tmp / "prometheus.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus not ready in 20 s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} in {timeout:.0f} s")
        time.sleep(0.25)


def _worker_total(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_dashboard_queries_and_alert_rules_against_prometheus_scraping_a_worker(tmp_path):
    _binary("prometheus")  # skip before starting anything
    events = [tmp_path / "events.jsonl", tmp_path / "late-reply.jsonl"]
    _events(*events)
    worker_port = free_port()
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 2, compacted=COMPACTED))
        with open(tmp_path / "worker.log", "wb") as worker_log:
            worker = start_worker(broker.bootstrap, "prometheus-test", str(tmp_path / "worker"),
                                  {"PARTITIONS": "2", "WEB_PORT": str(worker_port)}, log_file=worker_log)
            try:
                with running_prometheus(tmp_path, worker_port) as prometheus:
                    for path in events:  # the second after the first is processed and committed
                        ends = asyncio.run(replay.publish(path, broker.bootstrap, 2))
                        asyncio.run(replay.wait_processed(broker.bootstrap, "prometheus-test", ends, 60,
                                                          alive=lambda: worker.poll() is None))
                    processed = _worker_total(worker_port, "seller_standards_events_total")
                    # Prometheus has scraped the final counts, then twice more
                    # (rate() and increase() need two samples).
                    _wait(lambda: prometheus.value("sum(seller_standards_events_total)") == processed, 15,
                          f"Prometheus did not scrape the worker's {processed:.0f} processed events")
                    time.sleep(2.5 * SCRAPE_SECONDS)
                    _check(prometheus)
            finally:
                stop_worker(worker)


def _check(prometheus: Prometheus) -> None:
    targets = prometheus.query("up")["data"]["result"]
    assert [t["value"][1] for t in targets] == ["1"], targets
    after_evaluation = {r["metric"]["topic"]: float(r["value"][1]) for r in
                        prometheus.query("seller_standards_events_after_evaluation_total")["data"]["result"]}
    assert after_evaluation == {topic: 1.0 if topic == "marketplace.orders" else 0.0 for topic in INPUT_TOPICS}

    failures = []
    queries = dashboard_queries()
    assert len(queries) >= 15, queries
    for where, expr in queries:
        answer = prometheus.query(expr)
        if answer.get("status") != "success":
            failures.append(f"{where}: {expr}: {answer.get('error')}")
        elif not answer["data"]["result"]:
            failures.append(f"{where}: {expr}: no series")

    rules = alert_rules()
    for rule in rules:
        answer = prometheus.query(rule["expr"])
        if answer.get("status") != "success":
            failures.append(f"alert {rule['alert']}: {answer.get('error')}")
    # the metrics the rules read are there (a misspelt name would just never fire)
    used = sorted({name for rule in rules for name in re.findall(r"seller_standards_\w+", rule["expr"])})
    present = {r["metric"]["__name__"] for r in
               prometheus.query(f'count by (__name__) ({{__name__=~"{"|".join(used)}"}})')["data"]["result"]}
    failures += [f"alert rules read {name}: no series" for name in used if name not in present]
    assert not failures, "\n".join(failures)

    # Prometheus loaded every rule of deploy/alerts.yml and evaluates it without error.
    def evaluated():
        loaded = {r["name"]: r for g in _get_json(f"{prometheus.url}/api/v1/rules")["data"]["groups"]
                  for r in g["rules"]}
        return loaded if all(r.get("lastEvaluation", "0001").startswith("20") for r in loaded.values()) else None

    loaded = _wait(evaluated, 10, "alert rules not evaluated")
    assert sorted(loaded) == sorted(rule["alert"] for rule in rules)
    assert {name: (r["health"], r.get("lastError", "")) for name, r in loaded.items()} == \
        {rule["alert"]: ("ok", "") for rule in rules}
