"""A stop signal (SIGTERM, SIGHUP) inside an EmbeddedBroker's block ends the
command as Ctrl-C does, also in the middle of asyncio code."""
from __future__ import annotations

import subprocess
import sys

import pytest

# The signal comes inside a loop callback that was to complete a request
# (as a transport's does), while a task's clean-up waits for that request's
# answer (as a Kafka client's close does). A KeyboardInterrupt raised in the
# callback would leave the answer unset and asyncio.run waiting for that
# clean-up for ever.
_COMMAND = """
import asyncio, os, signal, sys
from streams.broker import run_stoppable, stop_signals_as_ctrl_c

stop, ctrl_c, on_entry = getattr(signal, "SIG" + sys.argv[1]), sys.argv[2], sys.argv[3]
if ctrl_c == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell script's `&` starts a command
# Whatever this test was started with (under nohup, SIGHUP is ignored).
signal.signal(stop, signal.SIG_IGN if on_entry == "ignored" else signal.SIG_DFL)

async def main():
    loop = asyncio.get_running_loop()
    answer = loop.create_future()

    def answer_comes():
        os.kill(os.getpid(), stop)
        answer.set_result("answer")

    async def client():
        try:
            await asyncio.sleep(3600)
        finally:
            await answer

    running = asyncio.create_task(client())
    loop.call_soon(answer_comes)
    await asyncio.sleep(1)

with stop_signals_as_ctrl_c():
    try:
        run_stoppable(main())
        print("ran to its end")
    except KeyboardInterrupt:
        print("interrupted")
print("handler after the block:", {signal.SIG_DFL: "default", signal.SIG_IGN: "ignored"}.get(signal.getsignal(stop)))
"""


def _run(signame: str, ctrl_c: str, on_entry: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _COMMAND, signame, ctrl_c, on_entry],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("ctrl_c", ["ignored", "default"])
@pytest.mark.parametrize("signame", ["TERM", "HUP"])
def test_a_stop_signal_in_a_loop_callback_ends_asyncio_code_as_ctrl_c_does(ctrl_c, signame):
    done = _run(signame, ctrl_c, "default")
    assert done.stdout == "interrupted\nhandler after the block: default\n", done.stderr
    assert done.returncode == 0


def test_a_hangup_ignored_on_entry_as_under_nohup_stays_ignored():
    """`nohup seller-standards demo &` must outlive the terminal it was started from."""
    done = _run("HUP", "ignored", "ignored")
    assert done.stdout == "ran to its end\nhandler after the block: ignored\n", done.stderr
    assert done.returncode == 0
