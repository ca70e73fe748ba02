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

if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell script's `&` starts a command

async def main():
    loop = asyncio.get_running_loop()
    answer = loop.create_future()

    def answer_comes():
        os.kill(os.getpid(), signal.SIG%s)
        answer.set_result("answer")

    async def client():
        try:
            await asyncio.sleep(3600)
        finally:
            await answer

    running = asyncio.create_task(client())
    loop.call_soon(answer_comes)
    await asyncio.sleep(3600)

with stop_signals_as_ctrl_c():
    try:
        run_stoppable(main())
    except KeyboardInterrupt:
        print("interrupted")
print("handler after the block:", signal.getsignal(signal.SIG%s) is signal.SIG_DFL)
"""


@pytest.mark.parametrize("ctrl_c", ["ignored", "default"])
@pytest.mark.parametrize("signame", ["TERM", "HUP"])
def test_a_stop_signal_in_a_loop_callback_ends_asyncio_code_as_ctrl_c_does(ctrl_c, signame):
    done = subprocess.run([sys.executable, "-c", _COMMAND % (signame, signame), ctrl_c],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout == "interrupted\nhandler after the block: True\n", done.stderr
    assert done.returncode == 0
