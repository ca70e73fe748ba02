"""The embedded broker and worker do not outlive the command that started them."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from schemas.validate import parse_timestamp
from streams.broker import free_port
from streams.simulate import simulate


def _children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone, also while its stat was being read
        return False
    return state != "Z"  # a zombie has exited


def _kill(pid: int) -> None:
    """Clean-up after a failed test: kill what is left (it may go meanwhile)."""
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _from_a_terminal() -> None:
    # Whatever this test was started with (under nohup, SIGHUP is ignored, and a child inherits that).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _ignore_ctrl_c() -> None:
    _from_a_terminal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell script's `&` starts a command


def _nohup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _broker_command(started) -> tuple[subprocess.Popen, int]:
    """`seller-standards broker` answering on its port: (the command, its broker)."""
    port = free_port()
    command = subprocess.Popen([sys.executable, "-m", "streams.cli", "broker", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=started)
    try:
        assert "embedded broker on" in command.stdout.readline()  # it answers on the port
        (broker,) = _children(command.pid)
    except BaseException:
        command.kill()
        raise
    return command, broker


def _stops_with_its_broker(command: subprocess.Popen, broker: int, signum: int, returncode: int) -> None:
    os.kill(command.pid, signum)
    assert command.wait(20) == returncode
    errors = command.stderr.read()  # no connection errors while it waited for the broker to listen
    assert "Unable connect" not in errors and "Traceback" not in errors, errors
    deadline = time.monotonic() + 10
    while _alive(broker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(broker)


@pytest.mark.parametrize(("signum", "returncode", "started"), [
    (signal.SIGTERM, 0, _from_a_terminal), (signal.SIGHUP, 0, _from_a_terminal),
    (signal.SIGKILL, -signal.SIGKILL, _from_a_terminal), (signal.SIGTERM, 0, _ignore_ctrl_c)],
    ids=["SIGTERM", "SIGHUP", "SIGKILL", "SIGTERM-with-ctrl-c-ignored"])
def test_a_signal_to_the_broker_command_stops_the_broker_too(signum, returncode, started):
    # SIGHUP: the terminal that ran it closed. SIGTERM and SIGHUP unwind the
    # command as a Ctrl-C does (exit 0), also in a command started with
    # Ctrl-C ignored; after a SIGKILL the broker gets its parent-death signal.
    command, broker = _broker_command(started)
    try:
        _stops_with_its_broker(command, broker, signum, returncode)
    finally:
        if command.poll() is None:
            command.kill()
        _kill(broker)


def test_the_broker_command_under_nohup_outlives_a_hangup():
    """`nohup seller-standards broker &`: the terminal closing leaves it
    running (it took SIGHUP for a Ctrl-C even so); SIGTERM still stops it."""
    command, broker = _broker_command(_nohup)
    try:
        os.kill(command.pid, signal.SIGHUP)
        time.sleep(2)
        assert command.poll() is None and _alive(broker)
        _stops_with_its_broker(command, broker, signal.SIGTERM, 0)
    finally:
        if command.poll() is None:
            command.kill()
        _kill(broker)


def _replay_under_way(tmp_path, started=None) -> tuple[subprocess.Popen, int, int]:
    """`replay` without --bootstrap, mid-run: (the command, its broker, its worker)."""
    events = tmp_path / "events.jsonl"
    start = parse_timestamp("2026-01-01T00:00:00Z")
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in simulate(100, start, days=90, seed=1)))
    command = subprocess.Popen([sys.executable, "-m", "streams.cli", "replay", str(events)],
                               stderr=subprocess.PIPE, text=True, preexec_fn=started)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(children) < 2 and time.monotonic() < deadline:  # the broker, then the worker
            children = _children(command.pid)
            time.sleep(0.1)
        assert len(children) == 2 and command.poll() is None  # mid-replay
        (broker,) = [pid for pid in children if "tansu" in Path(f"/proc/{pid}/cmdline").read_text()]
        (worker,) = children - {broker}
    except BaseException:
        command.kill()
        for child in children:
            _kill(child)
        raise
    return command, broker, worker


def _gone_at(pids: set[int], timeout: float) -> dict[int, float]:
    """When each of `pids` was first seen gone (those gone within `timeout`)."""
    gone_at: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(gone_at) < len(pids) and time.monotonic() < deadline:
        now = time.monotonic()  # several may go between two looks: then they count as gone together
        gone_at.update((pid, now) for pid in pids if pid not in gone_at and not _alive(pid))
        time.sleep(0.01)
    return gone_at


@pytest.mark.parametrize("started", [None, _ignore_ctrl_c], ids=["", "with-ctrl-c-ignored"])
def test_sigterm_to_replay_stops_its_worker_and_its_broker(tmp_path, started):
    command, broker, worker = _replay_under_way(tmp_path, started)
    try:
        os.kill(command.pid, signal.SIGTERM)
        gone_at = _gone_at({broker, worker}, 60)
        assert set(gone_at) == {broker, worker}
        assert gone_at[worker] <= gone_at[broker]  # the worker stops (and commits) while its broker still runs
        assert command.wait(10) == 1  # click's "Aborted!", as after Ctrl-C
    finally:
        if command.poll() is None:
            command.kill()
        for child in (broker, worker):
            _kill(child)


def test_sigkill_to_the_demo_stops_its_worker_and_its_broker_too():
    # No clean-up runs in the killed command: both children get their parent-death signal.
    # (A worker killed while still starting stops by itself once its broker is gone; one
    # that is processing keeps trying to reach it: so the demo runs until cards come.)
    command = subprocess.Popen([sys.executable, "-m", "streams.cli", "demo", "--duration", "120"],
                               stdout=subprocess.PIPE, text=True)
    children: set[int] = set()
    try:
        for line in command.stdout:
            if re.search(r"\| sellers [1-9]", line):  # the summary counts the worker's scorecards
                break
        children = _children(command.pid)
        assert len(children) == 2 and command.poll() is None
        os.kill(command.pid, signal.SIGKILL)
        assert command.wait(10) == -signal.SIGKILL
        assert set(_gone_at(children, 60)) == children
    finally:
        if command.poll() is None:
            command.kill()
        for child in children:
            _kill(child)


def test_the_demo_ends_with_its_workers_log_when_its_worker_stops():
    # A worker that cannot run (here: WEB_BIND an address this machine does not have) must not
    # leave the demo printing numbers that stand still.
    env = {**os.environ, "WEB_BIND": "203.0.113.1"}
    shown = subprocess.run([sys.executable, "-m", "streams.cli", "demo", "--duration", "60"], capture_output=True,
                           text=True, timeout=120, env=env)
    assert shown.returncode == 1
    assert "Error: the worker stopped (exit status 1); the end of its log:" in shown.stderr
    assert "203.0.113.1" in shown.stderr
