"""Child processes (the embedded broker, a worker) that end with this one,
however it ends."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

# argv: the parent's pid (0: none), then the command to exec. The parent-death
# signal is set in a process of its own before exec (preexec_fn is unsafe in a
# process with threads) and outlives the exec; a parent gone before it was set
# means no child is wanted.
_EXEC_WITH_PARENT_DEATH_SIGNAL = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
if parent:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):  # not Linux: no parent-death signal
        pass
    if os.getppid() != parent:
        sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def start_child(command: list[str], **popen_options) -> subprocess.Popen:
    """subprocess.Popen(command, **popen_options) that, started from the main
    thread, gets SIGTERM when this process ends, SIGKILL included (Linux's
    parent-death signal follows the thread that started the child, and the
    main thread ends with the process). The child's pid is the command's."""
    parent = os.getpid() if in_main_thread() else 0
    return subprocess.Popen([sys.executable, "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, str(parent), *command],
                            **popen_options)
