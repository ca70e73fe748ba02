"""Profiles: py-spy on a worker process (sampling, --nonblocking), cProfile
on the in-process backfill; summaries by function and by package."""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

OURS = ("streams/", "standards/", "schemas/", "agents/")
LIBRARIES = ("faust", "mode", "aiokafka", "orjson", "prometheus_client", "aiohttp", "fastjsonschema", "yarl",
             "kafka", "click", "multidict", "croniter", "venusian", "opentracing", "terminaltables")


def py_spy() -> Optional[str]:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, rate: int = 100) -> Optional[subprocess.Popen]:
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
                             "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def package(frame: str) -> str:
    """Which code a frame 'function (path:line)' belongs to."""
    path = frame.rpartition("(")[2].rstrip(")")
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    for marker in ("/work/main/",):
        if marker in path:
            path = path.split(marker, 1)[1]
    if path.startswith(OURS):
        return "ours"
    top = path.split("/", 1)[0]
    if top in LIBRARIES:
        return "mode" if top == "mode" else top
    if path.startswith("<frozen") or "/" not in path or "/lib/python3" in path or top in ("asyncio", "json",
                                                                                        "concurrent", "logging"):
        return "stdlib"
    return "other"


def _short(frame: str) -> str:
    name, _, where = frame.rpartition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def _strip_line(frame: str) -> str:
    """The same function whatever line was sampled."""
    name, _, where = frame.rpartition(" (")
    return f"{name} ({where.rpartition(':')[0]})"


def summarize_raw(path: Path, top: int = 30) -> dict:
    """py-spy raw (collapsed stacks): self and inclusive shares per function,
    self share per package."""
    self_counts: Counter = Counter()
    inclusive: Counter = Counter()
    packages: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_strip_line(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        self_counts[frames[-1]] += n
        packages[package(frames[-1])] += n
        for f in set(frames):
            inclusive[f] += n
    share = lambda c: [(_short(f), n / total) for f, n in c.most_common(top)] if total else []
    ours_inclusive = Counter({f: n for f, n in inclusive.items() if package(f) == "ours"})
    faust_inclusive = Counter({f: n for f, n in inclusive.items() if package(f) in ("faust", "mode")})
    return {"samples": total, "self": share(self_counts), "inclusive_ours": share(ours_inclusive),
            "inclusive_faust": share(faust_inclusive),
            "packages": [(p, n / total) for p, n in packages.most_common()] if total else []}


def profile_backfill(lines: list, partitions: int, top: int = 25) -> dict:
    from .project import listed_backfill

    profiler = cProfile.Profile()
    profiler.enable()
    listed_backfill(lines, partitions)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = []
    for (file, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        rows.append((f"{name} ({_rel(file)}:{line})", nc, tt, ct))
    by_self = sorted(rows, key=lambda r: -r[2])[:top]
    ours = [r for r in rows if any(p in r[0] for p in ("streams/", "standards/", "schemas/"))
            and "site-packages" not in r[0]]
    by_cum = sorted(ours, key=lambda r: -r[3])[:top]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return {"total_seconds": total, "events": len(lines), "self": by_self, "cumulative_ours": by_cum,
            "text": text.getvalue()}


def _rel(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", os.getcwd() + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
