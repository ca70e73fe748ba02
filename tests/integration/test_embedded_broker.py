"""The embedded broker does not outlive the command that started it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streams.broker import free_port


def _children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited


def test_sigterm_to_the_broker_command_stops_the_broker_too():
    port = free_port()
    command = subprocess.Popen([sys.executable, "-m", "streams.cli", "broker", "--port", str(port)],
                               stdout=subprocess.PIPE, text=True)
    broker = None
    try:
        assert "embedded broker on" in command.stdout.readline()  # it answers on the port
        (broker,) = _children(command.pid)
        os.kill(command.pid, signal.SIGTERM)
        assert command.wait(20) == 0  # unwound as for Ctrl-C, not killed by the signal
        deadline = time.monotonic() + 10
        while _alive(broker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(broker)
    finally:
        if command.poll() is None:
            command.kill()
        if broker is not None and _alive(broker):
            os.kill(broker, signal.SIGKILL)
