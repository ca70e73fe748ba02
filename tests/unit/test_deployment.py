"""The deployment files refer to each other correctly: docker-compose.yml,
Dockerfile, deploy/ (Prometheus, alert rules, Grafana provisioning) and
dashboards/. No Docker engine runs here, so this reads the files: mounted
host files exist, Prometheus scrapes the worker services on their WEB_PORT,
Grafana's provisioning finds the datasource and dashboards, and every metric
that a dashboard or an alert rule reads is one the worker exports."""
from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from prometheus_client import REGISTRY

import streams.metrics  # registers the worker's metrics
from standards.policy import Policy
from streams.topics import INPUT_TOPICS, OUTPUT_TOPICS

streams.metrics.export_policy(Policy(), "seller-standards")  # as the worker's app does: its info's keys

yaml = pytest.importorskip("yaml", reason="PyYAML is missing: it belongs to the `test` extra (pyyaml)")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
ALERTS = yaml.safe_load((ROOT / "deploy/alerts.yml").read_text())
RULES = [rule for group in ALERTS["groups"] for rule in group["rules"]]
DASHBOARD_FILES = sorted((ROOT / "dashboards").glob("*.json"))
DASHBOARDS = {path.name: json.loads(path.read_text()) for path in DASHBOARD_FILES}
PROMETHEUS_NAMES = {"up", "ALERTS", "ALERTS_FOR_STATE"}  # series Prometheus makes itself
TARGET_LABELS = {"job", "instance"}


def _dockerfile_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    return env


def _env(service: dict) -> dict[str, str]:
    """The service's environment: the image's ENV (for built services), then compose's."""
    env = _dockerfile_env() if "build" in service else {}
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def _workers() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if "build" in s and (s.get("command") or ["worker"])[0] == "worker"}


def _binds(service: dict) -> list[tuple[Path, str]]:
    """(host path, container path) of the service's bind mounts."""
    binds = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            binds.append(((ROOT / source).resolve(), target))
    return binds


def _container_file(service: dict, container_path: str) -> Path | None:
    """The host file a container path of `service` comes from (through a bind mount)."""
    path = PurePosixPath(container_path)
    for host, target in _binds(service):
        if path == PurePosixPath(target):
            return host
        if PurePosixPath(target) in path.parents:
            return host / path.relative_to(target)
    return None


def _panels(board: dict):
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # rows


def _dashboard_queries() -> list[str]:
    return [t["expr"] for board in DASHBOARDS.values() for p in _panels(board) for t in p.get("targets", [])]


def _queries() -> list[tuple[str, str]]:
    return [("dashboard", q) for q in _dashboard_queries()] + [(f"alert {r['alert']}", r["expr"]) for r in RULES]


def _exported() -> dict[str, set[str]]:
    """Series name -> label names of every metric streams.metrics registers
    (counters expose `_total`, histograms `_bucket`, `_count`, `_sum`, an
    info `_info` with its keys as labels)."""
    names = {}
    wrappers = {m._name: m for m in vars(streams.metrics).values() if hasattr(m, "_labelnames")}
    for family in REGISTRY.collect():
        if not family.name.startswith("seller_standards_"):
            continue
        labels = set(wrappers[family.name]._labelnames) if family.name in wrappers else set()
        if family.type == "counter":
            names[family.name + "_total"] = labels
        elif family.type == "histogram":
            names[family.name + "_bucket"] = labels | {"le"}
            names[family.name + "_count"] = names[family.name + "_sum"] = labels
        elif family.type == "info":
            names[family.name + "_info"] = labels | {key for sample in family.samples for key in sample.labels}
        else:
            names[family.name] = labels
    return names


# -- compose ---------------------------------------------------------------------


def test_every_mounted_host_file_and_the_build_context_exist():
    missing = [f"{name}: {host}" for name, service in SERVICES.items() for host, _ in _binds(service)
               if not host.exists()]
    assert not missing
    for service in SERVICES.values():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()


def test_named_volumes_are_declared_and_each_worker_has_its_own_state_volume():
    declared = set(COMPOSE.get("volumes") or {})
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])
            if not v.startswith((".", "/"))}
    assert used <= declared, used - declared
    state = []
    for name, worker in _workers().items():
        data_dir = _env(worker)["DATA_DIR"]
        (volume,) = [v.split(":")[0] for v in worker.get("volumes", []) if v.split(":")[1] == data_dir]
        assert volume in declared, name
        state.append(volume)
    assert len(state) == len(set(state)), f"workers share a data volume: {state}"


def test_two_worker_replicas_form_one_group_with_distinct_host_ports():
    workers = _workers()
    assert len(workers) == 2, sorted(workers)
    envs = [_env(w) for w in workers.values()]
    assert len({e["APP_ID"] for e in envs}) == 1  # one consumer group: they share the partitions
    assert len({e["PARTITIONS"] for e in envs}) == 1
    assert all(e["CLOCK"] == "wall" for e in envs)
    assert all(e["WEB_BIND"] == "0.0.0.0" for e in envs)  # reachable by Prometheus
    host_ports = [p.split(":")[0] for w in workers.values() for p in w.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))
    for worker, env in zip(workers.values(), envs):
        for port in worker.get("ports", []):
            assert port.split(":")[1] == env["WEB_PORT"]


def test_workers_and_simulator_reach_kafka_on_its_advertised_listener():
    advertised = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    listener = re.search(r"PLAINTEXT://([\w.-]+:\d+)", advertised).group(1)
    assert listener.split(":")[0] in SERVICES
    for worker in _workers().values():
        assert _env(worker)["KAFKA_BOOTSTRAP"] == listener
    assert f"--bootstrap {listener}" in SERVICES["simulator"]["command"][0]


def test_topic_creation_covers_every_topic_with_the_workers_partition_count():
    script = SERVICES["topics"]["command"][0]
    for topic in INPUT_TOPICS + OUTPUT_TOPICS:
        assert topic in script
    partitions = {_env(w)["PARTITIONS"] for w in _workers().values()}
    assert set(re.findall(r"--partitions (\d+)", script)) == partitions
    assert _env(SERVICES["simulator"])["PARTITIONS"] in partitions  # replay's closing heartbeats


def test_simulator_runs_the_image_and_replays_a_generated_file():
    simulator = SERVICES["simulator"]
    assert simulator["image"] == next(iter(_workers().values()))["image"]
    script = simulator["command"][0]
    assert "seller-standards simulate" in script and "seller-standards replay" in script
    assert "$" not in script.replace("$$", "")  # compose would interpolate it


def test_images_are_pinned():
    for name, service in SERVICES.items():
        if "build" not in service:
            image = service["image"]
            assert ":" in image and not image.endswith((":latest", ":main")), name
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.search(r":\d+\.\d+\.\d+", base), base


def test_every_requirement_is_pinned_at_a_version_pyproject_allows():
    """constraints.txt pins every requirement of the project and its extras,
    each at a version the requirement allows, and `make` and the image
    install with it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, pinned = line.split("==")
            pins[canonicalize_name(name)] = pinned
    for requirement in map(Requirement, wanted):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in constraints.txt"
        assert requirement.specifier.contains(pinned, prereleases=True), (str(requirement), pinned)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt -e '\.\[test,embedded,fast\]'", makefile)
    assert re.search(r"^RUN pip install .*-c constraints\.txt '\.\[fast\]'", (ROOT / "Dockerfile").read_text(), re.M)


def test_dockerfile_runs_as_non_root_and_exposes_the_web_port():
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^EXPOSE (\d+)", text, re.M).group(1) == _dockerfile_env()["WEB_PORT"]
    assert _dockerfile_env()["DATA_DIR"] in text.split("USER")[-2]  # made and owned before USER


# -- Prometheus -----------------------------------------------------------------------


def test_prometheus_scrapes_every_worker_service_on_its_web_port():
    (job,) = PROMETHEUS["scrape_configs"]
    targets = [t for c in job["static_configs"] for t in c["targets"]]
    expected = sorted(f"{name}:{_env(w)['WEB_PORT']}" for name, w in _workers().items())
    assert sorted(targets) == expected
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_prometheus_service_mounts_its_config_and_the_tested_alert_rules():
    service = SERVICES["prometheus"]
    assert _container_file(service, "/etc/prometheus/prometheus.yml") == ROOT / "deploy/prometheus.yml"
    rule_files = [_container_file(service, str(PurePosixPath("/etc/prometheus") / f))
                  for f in PROMETHEUS["rule_files"]]
    assert rule_files == [ROOT / "deploy/alerts.yml"]
    tests = yaml.safe_load((ROOT / "deploy/alerts.test.yml").read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for t in tests["tests"] for case in t.get("alert_rule_test", [])}
    assert tested == {r["alert"] for r in RULES}


def test_job_selectors_name_the_scrape_job():
    (job,) = PROMETHEUS["scrape_configs"]
    for where, query in _queries():
        for name in re.findall(r'job="([^"]+)"', query):
            assert name == job["job_name"], where


def test_every_alert_has_a_severity_summary_and_description():
    for rule in RULES:
        assert rule["labels"]["severity"] in ("page", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


# -- Grafana ----------------------------------------------------------------------------


def _grafana_provisioning() -> Path:
    return _container_file(SERVICES["grafana"], "/etc/grafana/provisioning")


def test_grafana_datasource_points_at_the_prometheus_service():
    (datasource,) = yaml.safe_load(
        (_grafana_provisioning() / "datasources/prometheus.yml").read_text())["datasources"]
    host, port = re.fullmatch(r"http://([\w.-]+):(\d+)", datasource["url"]).groups()
    assert host in SERVICES and host == "prometheus"
    assert any(p.split(":")[-1] == port for p in SERVICES["prometheus"]["ports"])


def test_grafana_loads_the_dashboards_directory():
    grafana = SERVICES["grafana"]
    providers = [p for f in (_grafana_provisioning() / "dashboards").glob("*.yml")
                 for p in yaml.safe_load(f.read_text())["providers"]]
    assert providers
    for provider in providers:
        assert _container_file(grafana, provider["options"]["path"]) == ROOT / "dashboards"
    home = _env(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    assert home is None or _container_file(grafana, home).is_file()


def test_dashboards_use_the_provisioned_datasource():
    (datasource,) = yaml.safe_load(
        (_grafana_provisioning() / "datasources/prometheus.yml").read_text())["datasources"]
    assert DASHBOARDS
    for name, board in DASHBOARDS.items():
        for panel in _panels(board):
            refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
            for ref in refs:
                if ref is not None:
                    assert ref == {"type": "prometheus", "uid": datasource["uid"]}, (name, panel["title"])
            if panel["type"] == "alertlist":
                assert panel["options"]["datasource"] == datasource["name"]
    assert len({b["uid"] for b in DASHBOARDS.values()}) == len(DASHBOARDS)


def test_dashboard_json_is_what_scripts_dashboards_py_writes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    generator = importlib.import_module("dashboards")
    assert generator.render() == {p.name: p.read_text() for p in DASHBOARD_FILES}, \
        "run python scripts/dashboards.py"


# -- metric names -------------------------------------------------------------------------


def test_worker_metrics_are_registered_and_have_no_seller_label():
    exported = _exported()
    assert len(exported) >= 12
    assert not [name for name, labels in exported.items() if "seller" in " ".join(labels)]


@pytest.mark.parametrize("where,query", _queries())
def test_every_metric_a_dashboard_or_alert_reads_is_exported_with_those_labels(where, query):
    exported = _exported()
    for name, matchers in re.findall(r"\b(seller_standards_\w+)(?:\{([^}]*)\})?", query):
        assert name in exported, f"{where}: {name} is not in streams/metrics.py"
        for label in re.findall(r"(\w+)\s*[=!~]+", matchers):
            assert label in exported[name] | TARGET_LABELS, f"{where}: {name} has no label {label}"
    # any other series name: one Prometheus makes itself
    stripped = re.sub(r'"[^"]*"|\[[^\]]*\]|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', "", query)
    for name in re.findall(r"\b([A-Za-z_:][\w:]*)\s*(?:\{|$|\)|\s)", stripped):
        if not name.startswith("seller_standards_") and not _is_promql_word(name):
            assert name in PROMETHEUS_NAMES, f"{where}: unknown series {name}"
    everything = set().union(*exported.values()) | TARGET_LABELS | {"le", "alertname", "alertstate"}
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", query):
        for label in re.findall(r"\w+", group):
            assert label in everything, f"{where}: no metric has a label {label}"


def test_histogram_buckets_named_in_queries_exist():
    buckets = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets.setdefault(sample.name, set()).add(sample.labels["le"])
    for where, query in _queries():
        for name, le in re.findall(r'(seller_standards_\w+_bucket)\{[^}]*le="([^"]+)"', query):
            assert le in buckets[name], f"{where}: {name} has no bucket le={le}"


_PROMQL_WORDS = {"sum", "min", "max", "avg", "count", "rate", "irate", "increase", "delta", "deriv",
                 "histogram_quantile", "vector", "scalar", "time", "timestamp", "abs", "and", "or", "unless",
                 "offset", "bool", "topk", "bottomk", "quantile", "count_over_time", "max_over_time",
                 "min_over_time", "avg_over_time", "changes", "resets", "absent", "clamp_min", "clamp_max",
                 "label_replace", "predict_linear", "sort", "sort_desc", "stddev", "group"}


def _is_promql_word(word: str) -> bool:
    return word in _PROMQL_WORDS or word.replace(".", "").isdigit()
