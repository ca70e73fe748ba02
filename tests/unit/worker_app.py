"""Running code in a process of its own that imported the worker's app
(streams/app.py): its metrics registry and its settings are the process's,
apart from the tests' own."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_with_worker_app(script: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`script` run after `import asyncio, streams.app as worker`, with `env`
    added to the environment; what it printed and its exit status."""
    return subprocess.run([sys.executable, "-c", f"import asyncio, streams.app as worker\n{script}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
