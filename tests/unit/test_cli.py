"""The command line: its help reaches what runs behind it; what it refuses, it names."""
import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from schemas.validate import decode_event, parse_timestamp
from standards.policy import Policy, load_policy
from streams import cli, demo
from streams.broker import free_port
from streams.topics import INPUT_TOPICS

CLI = Path(sys.executable).with_name("seller-standards")


def test_worker_help_lists_its_settings_as_read_and_fausts_worker_options():
    # `worker` passes its arguments to Faust's own worker command: so does --help,
    # after the settings, as the environment gives them (a secret only as set).
    env = {**os.environ, "PARTITIONS": "12", "KAFKA_SASL_PASSWORD": "hunter2", "CLOCK": "wall"}
    env.pop("POLICY_FILE", None)
    shown = subprocess.run([str(CLI), "worker", "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "--loglevel" in shown.stdout and "--web-port" in shown.stdout
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert ["PARTITIONS", "12"] in lines and ["CLOCK", "wall"] in lines and ["WEB_PORT", "6066"] in lines
    assert ["POLICY_FILE", "(not", "set)"] in lines and ["KAFKA_SASL_PASSWORD", "(set)"] in lines
    assert "hunter2" not in shown.stdout
    # every variable config.py reads is shown
    read = set(re.findall(r'_setting\("([A-Z_]+)"', (Path(cli.__file__).parent / "config.py").read_text()))
    assert len(read) == 25 and read <= {line[0] for line in lines if line}


def test_the_version_is_the_projects():
    project = tomllib.loads((Path(cli.__file__).parents[1] / "pyproject.toml").read_text())["project"]
    result = CliRunner().invoke(cli.main, ["--version"])
    assert result.exit_code == 0 and result.output == f"seller-standards, version {project['version']}\n"


@pytest.mark.parametrize("command, env, message", [
    ("backfill", {"POLICY_FILE": "{tmp}/policy.toml"}, "Error: policy file {tmp}/policy.toml: time_zone: "),
    ("worker", {"POLICY_FILE": "{tmp}/policy.toml"}, "Error: policy file {tmp}/policy.toml: time_zone: "),
    # The worker these start reads the policy too: checked before a broker starts.
    ("replay", {"POLICY_FILE": "{tmp}/policy.toml"}, "Error: policy file {tmp}/policy.toml: time_zone: "),
    ("demo", {"POLICY_FILE": "{tmp}/policy.toml"}, "Error: policy file {tmp}/policy.toml: time_zone: "),
    ("demo", {"WEB_PORT": "99999"}, "Error: WEB_PORT must be a port from 1 to 65535, got 99999"),
    ("backfill", {"PARTITIONS": "eight"}, "Error: PARTITIONS must be an integer, got 'eight'"),
    ("worker", {"COMMIT_INTERVAL": "0"}, "Error: COMMIT_INTERVAL must be more than 0 seconds, got 0.0"),
    ("worker", {"KAFKA_SSL_CAFILE": "{tmp}/policy.toml"}, "Error: KAFKA_SSL_CAFILE '{tmp}/policy.toml' holds no PEM "),
    ("worker", {"KAFKA_BOOTSTRAP": "kafka:abc"}, "Error: KAFKA_BOOTSTRAP must be host:port pairs separated by commas"),
    ("worker", {"APP_ID": "my app"}, "Error: APP_ID must be 1-200 letters, digits,"),
])
def test_a_bad_setting_or_policy_file_ends_the_command_with_what_to_fix(tmp_path, command, env, message):
    (tmp_path / "policy.toml").write_text('time_zone = "Mars/Olympus_Mons"\n')
    (tmp_path / "events.jsonl").write_text("")
    args = {"backfill": ["backfill", str(tmp_path / "events.jsonl"), "--evaluations", str(tmp_path / "out.jsonl")],
            "worker": ["worker"], "replay": ["replay", str(tmp_path / "events.jsonl")],
            "demo": ["demo", "--duration", "5"]}[command]
    env = {**os.environ, **{name: value.format(tmp=tmp_path) for name, value in env.items()}}
    shown = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, env=env)
    assert shown.returncode == 1
    assert message.format(tmp=tmp_path) in shown.stderr and "Traceback" not in shown.stderr, shown.stderr


def test_the_worker_makes_its_data_dir_with_its_parents_or_says_why_it_cannot(tmp_path):
    # The default, ./var/seller-standards, in a directory with no var/: Faust's own mkdir ended in a traceback.
    # It stops at Kafka, after its data directory.
    unreachable = {"KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "WEB_PORT": str(free_port())}
    nested = tmp_path / "var" / "seller-standards"
    shown = subprocess.run([str(CLI), "worker"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                           env={**os.environ, **unreachable, "DATA_DIR": "./var/seller-standards"})
    assert nested.is_dir() and "No such file or directory" not in shown.stderr, shown.stderr
    assert "Unable to bootstrap" in shown.stderr, shown.stderr

    (tmp_path / "a-file").write_text("")
    below_a_file = tmp_path / "a-file" / "data"
    shown = subprocess.run([str(CLI), "worker"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **unreachable, "DATA_DIR": str(below_a_file)})
    assert shown.returncode == 1
    assert f"Error: DATA_DIR {below_a_file} cannot be made: Not a directory" in shown.stderr, shown.stderr
    assert "Traceback" not in shown.stderr, shown.stderr


def test_a_worker_whose_web_port_is_taken_says_so_before_it_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shown = subprocess.run([str(CLI), "worker"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                               env={**os.environ, "WEB_BIND": "127.0.0.1", "WEB_PORT": str(port)})
    assert shown.returncode == 1
    assert f"Error: WEB_PORT {port} on WEB_BIND 127.0.0.1 cannot be used: Address already in use" in shown.stderr
    assert "Traceback" not in shown.stderr and "faust" not in shown.stderr.lower(), shown.stderr  # before Faust
    assert list(tmp_path.iterdir()) == []  # nor its data directory made


def test_the_broker_command_on_a_port_already_taken_says_so():
    # Before, the wait for the broker could take another Kafka on that port for its own,
    # and otherwise the broker exited silently: "RuntimeError: embedded broker exited with 0".
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shown = subprocess.run([str(CLI), "broker", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1
    assert (f"Error: port {port} on 127.0.0.1 cannot be used for the embedded broker: Address already in use"
            in shown.stderr) and "Traceback" not in shown.stderr, shown.stderr


def test_simulate_writes_valid_events_in_time_order_with_hourly_heartbeats_on_every_topic(tmp_path):
    out = tmp_path / "events.jsonl"
    args = [str(CLI), "simulate", str(out), "--sellers", "20", "--days", "2", "--start", "2026-01-01", "--seed", "3"]
    shown = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    lines = out.read_bytes().splitlines()
    events = [decode_event(line) for line in lines]  # every line valid: an invalid one raises
    topics = [orjson.loads(line)["_topic"] for line in lines]
    start, end = parse_timestamp("2026-01-01T00:00:00Z"), parse_timestamp("2026-01-03T00:00:00Z")
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    assert start <= events[0]["occurred_at"] and events[-1]["occurred_at"] < end
    # A heartbeat every hour after the start on each of the 5 topics: 48 in 2 days (the last 1 µs before the end).
    beats = [(t, e["occurred_at"]) for t, e in zip(topics, events) if e["type"] == "clock.heartbeat"]
    assert sorted(beats) == sorted((t, min(start + h * 3_600_000_000, end - 1)) for t in INPUT_TOPICS
                                   for h in range(1, 49))
    assert {e["seller_id"] for e in events} - {"heartbeat"} <= {f"seller-{s:05d}" for s in range(20)}
    assert len(events) > len(beats)  # and the sellers' own events
    assert f"{len(lines):,} events of 20 sellers from 2026-01-01T00:00:00Z to 2026-01-03T00:00:00Z" in shown.stderr
    assert not (tmp_path / "events.jsonl.part").exists()
    again = tmp_path / "again.jsonl"
    subprocess.run([*args[:2], str(again), *args[3:]], check=True, capture_output=True, timeout=120)
    assert again.read_bytes() == out.read_bytes()  # the same seed, the same events


@pytest.mark.parametrize("args, refused", [
    (["demo", "--sellers", "0"], "'--sellers': 0 is not in the range x>=1"),
    (["demo", "--speed", "0"], "'--speed': 0.0 is not in the range x>0"),
    (["demo", "--duration", "-5"], "'--duration': -5.0 is not in the range x>0"),
    (["simulate", "events.jsonl", "--days", "0"], "'--days': 0 is not in the range x>=1"),
    (["broker", "--port", "0"], "'--port': 0 is not in the range 1<=x<=65535"),
    (["evaluations", "--bootstrap", "127.0.0.1:9", "--idle", "0"], "'--idle': 0.0 is not in the range x>0"),
])
def test_an_option_out_of_its_range_is_refused_before_the_command_starts(tmp_path, args, refused):
    # Before, the demo ran on with 0 sellers or a clock that never moves.
    shown = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert shown.returncode == 2  # click's usage error
    assert f"Invalid value for {refused}" in shown.stderr, shown.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_output_file_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    (tmp_path / "events.jsonl").write_text("")
    missing = tmp_path / "missing" / "out.jsonl"
    shown = subprocess.run([str(CLI), "backfill", str(tmp_path / "events.jsonl"), "--evaluations", str(missing)],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 2  # click's usage error
    assert f"Invalid value for '--evaluations': {missing} cannot be written" in shown.stderr, shown.stderr
    assert "evaluation records" not in shown.stderr  # the backfill did not run


@pytest.mark.parametrize("args", [["evaluations"], ["backfill", "--from-topics", "--evaluations", "{tmp}/out.jsonl"]])
def test_a_kafka_that_cannot_be_reached_ends_the_command_with_that(tmp_path, args):
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    args = [arg.format(tmp=tmp_path) for arg in args] + ["--bootstrap", bootstrap]
    shown = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 1
    assert "Error: Kafka is unreachable" in shown.stderr and bootstrap.split(":")[1] in shown.stderr, shown.stderr
    assert "Traceback" not in shown.stderr and "Unclosed" not in shown.stderr, shown.stderr


def test_replay_to_a_kafka_creates_the_input_topics_with_the_replication_factor(tmp_path, monkeypatch):
    created = []

    async def create_topics(bootstrap, names, partitions, replication=1, **options):
        created.append((bootstrap, partitions, replication))
        raise RuntimeError("topics noted")  # the test ends before anything is published

    monkeypatch.setattr(cli, "create_topics", create_topics)
    monkeypatch.setenv("REPLICATION_FACTOR", "3")
    monkeypatch.setenv("PARTITIONS", "8")
    (tmp_path / "events.jsonl").write_text("")
    result = CliRunner().invoke(cli.replay, [str(tmp_path / "events.jsonl"), "--bootstrap", "kafka:9092"])
    assert str(result.exception) == "topics noted"
    assert created == [("kafka:9092", 8, 3)]


@pytest.mark.parametrize("args", [["replay", "{events}", "--bootstrap", "kafka:abc"],
                                  ["backfill", "--from-topics", "--bootstrap", "kafka:abc", "--evaluations", "{out}"],
                                  ["evaluations", "--bootstrap", "kafka:abc"]])
def test_a_bootstrap_option_kafka_clients_cannot_read_is_refused_before_any_work(tmp_path, args):
    (tmp_path / "events.jsonl").write_text("")
    args = [arg.format(events=tmp_path / "events.jsonl", out=tmp_path / "out.jsonl") for arg in args]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2 and not (tmp_path / "out.jsonl").exists()
    assert ("Invalid value for '--bootstrap': must be host:port pairs separated by commas "
            "(kafka-1:9092,kafka-2:9092; the port 9092 when left out), got 'kafka:abc'") in result.output


def test_the_demo_worker_runs_on_event_time_whatever_the_callers_clock(monkeypatch):
    class Broker:
        bootstrap = "127.0.0.1:9092"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    class Worker:
        pid = 1

        def poll(self):
            return 0  # already stopped: nothing to stop

    started = []

    def start_child(command, env, **kwargs):
        started.append(env)
        return Worker()

    async def nothing(*args, **kwargs):
        pass

    monkeypatch.setattr(demo, "EmbeddedBroker", Broker)
    monkeypatch.setattr(demo, "create_topics", nothing)
    monkeypatch.setattr(demo, "_run", nothing)
    monkeypatch.setattr(cli, "start_child", start_child)
    monkeypatch.setenv("CLOCK", "wall")
    demo.run_demo(sellers=10, speed=3600.0, duration=1.0)
    assert [env["CLOCK"] for env in started] == ["event"]


def test_policy_prints_the_numbers_a_worker_judges_with_and_their_fingerprint(tmp_path, monkeypatch):
    (tmp_path / "p.toml").write_text('time_zone = "Europe/Berlin"\n[case_rate]\nmax_order_total = "199.99"\n')
    monkeypatch.delenv("POLICY_FILE", raising=False)
    default = orjson.loads(CliRunner().invoke(cli.main, ["policy"]).output)
    assert default["fingerprint"] == Policy().fingerprint
    assert default["policy"]["message_response"] == {"window_hours": 48, "min_percent": "80"}  # SPEC 1
    for shown in (CliRunner().invoke(cli.main, ["policy", str(tmp_path / "p.toml")]),
                  CliRunner().invoke(cli.main, ["policy"], env={"POLICY_FILE": str(tmp_path / "p.toml")})):
        assert shown.exit_code == 0, shown.output
        file = orjson.loads(shown.output)
        assert file["fingerprint"] == load_policy(tmp_path / "p.toml").fingerprint != default["fingerprint"]
        assert (file["policy"]["time_zone"], file["policy"]["case_rate"]["max_order_total"]) == ("Europe/Berlin",
                                                                                                "199.99")
        assert file["policy"]["star_seller"] == default["policy"]["star_seller"]  # the rest as by default
    (tmp_path / "bad.toml").write_text("[case_rate]\nmax_casez = 3\n")
    refused = CliRunner().invoke(cli.main, ["policy", str(tmp_path / "bad.toml")])
    assert refused.exit_code == 1 and "case_rate.max_casez: unknown key" in refused.output
