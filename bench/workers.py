"""Stream-processor workers as subprocesses: spawn, wait until ready, measure
sustained throughput, peak RSS; scrape the project worker's /metrics."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families

from streams.broker import free_port
from streams.child import start_child
from streams.cli import start_worker

from .kafka import Progress

ROOT = Path(__file__).resolve().parent.parent
SPAWNED: list = []  # every worker started, to stop them all on the way out


def stop_all() -> None:
    for worker in SPAWNED:
        worker.stop()


@dataclass
class Worker:
    kind: str
    app_id: str
    data_dir: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    launched: float  # perf_counter
    ready_file: Optional[Path] = None
    rss_samples: list = field(default_factory=list)

    def alive(self) -> bool:
        return self.process.poll() is None

    def sample_rss(self) -> None:
        try:
            self.rss_samples.append(psutil.Process(self.process.pid).memory_info().rss)
        except psutil.Error:
            pass

    def peak_rss(self) -> Optional[int]:
        """VmHWM (the kernel's peak resident set), else the sampled maximum."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return max(self.rss_samples) if self.rss_samples else None

    def rss(self) -> Optional[int]:
        try:
            return psutil.Process(self.process.pid).memory_info().rss
        except psutil.Error:
            return None

    def cpu_seconds(self) -> Optional[float]:
        """The CPU time the process has used so far (user and system, every thread)."""
        try:
            used = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return None
        return used.user + used.system

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.send_signal(signal.SIGKILL)
            else:
                self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def spawn(kind: str, bootstrap: str, workdir: Path, partitions: int, app_id: Optional[str] = None,
          data_dir: Optional[Path] = None, extra_env: Optional[dict] = None, tag: str = "") -> Worker:
    app_id = app_id or f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    data_dir = data_dir or workdir / app_id
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / f"{app_id}{tag}.log"
    log_file = open(log_path, "ab")
    env = {"PARTITIONS": str(partitions), "WEB_PORT": str(port),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           **(extra_env or {})}
    ready_file = None
    launched = time.perf_counter()
    if kind == "project":
        process = start_worker(bootstrap, app_id, str(data_dir), extra_env=env, log_file=log_file)
    else:
        env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "APP_ID": app_id, "DATA_DIR": str(data_dir), **env}
        if kind in ("naive", "naive-notable"):
            env["NAIVE_TABLE"] = "0" if kind == "naive-notable" else "1"
            cmd = [sys.executable, "-m", "bench.naive_faust", "worker", "-l", "warn"]
        elif kind == "peer":
            ready_file = data_dir / "first-message"
            ready_file.unlink(missing_ok=True)
            env["READY_FILE"] = str(ready_file)
            cmd = [sys.executable, "-m", "bench.peer_quix"]
        else:
            raise ValueError(kind)
        # as the project's worker: it ends with the benchmark, however that ends
        process = start_child(cmd, env=env, cwd=str(ROOT), stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    worker = Worker(kind, app_id, data_dir, port, process, log_path, launched, ready_file)
    SPAWNED.append(worker)
    return worker


async def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.get(url) as response:
            return response.status, await response.read()


async def wait_ready(worker: Worker, timeout: float = 120.0) -> float:
    """perf_counter time at which the worker became ready: /ready answered 200
    (project, naive Faust), or (peer) the wall time of its first processed message."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not worker.alive():
            raise RuntimeError(f"{worker.kind} worker exited with {worker.process.returncode}:\n{worker.log_tail()}")
        if worker.ready_file is not None:
            if worker.ready_file.exists():
                text = worker.ready_file.read_text().strip()
                if text:
                    return time.perf_counter() - (time.time() - float(text))
        else:
            try:
                status, _ = await http_get(f"http://127.0.0.1:{worker.port}/ready", timeout=1.0)
                if status == 200:
                    return time.perf_counter()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass
        worker.sample_rss()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{worker.kind} worker not ready in {timeout:.0f} s:\n{worker.log_tail()}")


@dataclass
class Run:
    kind: str
    events: int
    startup: float  # launch to ready
    committed_seconds: float  # ready to committed offsets at the end offsets
    peak_rss: Optional[int]
    ready_rss: Optional[int]
    seconds: float = 0.0  # ready to the estimated end of processing (see estimate_end)
    cpu_seconds: Optional[float] = None  # the CPU the group used from ready to the committed end

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def committed_rate(self) -> float:
        return self.events / self.committed_seconds if self.committed_seconds > 0 else float("nan")


def estimate_end(ready: float, samples: list, target: int, done_at: float) -> float:
    """When processing ended, from the committed-offset samples: the final
    commit comes up to one commit interval after the last event, so extrapolate
    from the last commit before it at the rate seen until then. Falls back to
    the final commit when there was no earlier one."""
    before = [(t, n) for t, n in samples if 0 < n < target and t > ready]
    if not before:
        return done_at
    t_prev, n_prev = before[-1]
    rate = n_prev / (t_prev - ready)
    return min(done_at, t_prev + (target - n_prev) / rate)


async def measure(group: list[Worker], bootstrap: str, ends: dict, timeout: float) -> Run:
    """Sustained throughput of freshly started workers of one group (one
    worker, or several started together) over the loaded topics, from the
    first one ready: a rebalance when a later one joins is in the time.
    Start-up runs to the last one ready; memory is the group's sum."""
    readies = await asyncio.gather(*(wait_ready(worker) for worker in group))
    ready = min(readies)
    ready_rss = _total(worker.rss() for worker in group)
    ready_cpu = _total(worker.cpu_seconds() for worker in group)
    samples: list = []

    def sample_rss() -> None:
        for worker in group:
            worker.sample_rss()

    async with Progress(bootstrap, group[0].app_id) as progress:
        done = await progress.wait(ends, timeout, lambda: all(worker.alive() for worker in group),
                                   on_sample=sample_rss, samples=samples)
    done_cpu = _total(worker.cpu_seconds() for worker in group)
    total = sum(ends.values())
    end = estimate_end(ready, samples, total, done)
    return Run(group[0].kind, total, max(readies) - group[0].launched, done - ready,
               _total(worker.peak_rss() for worker in group), ready_rss, end - ready,
               None if ready_cpu is None or done_cpu is None else done_cpu - ready_cpu)


def _total(values) -> Optional[float]:
    values = list(values)
    return None if None in values else sum(values)


def _samples(text: str):
    """The samples of a Prometheus text exposition (prometheus_client's parser)."""
    return (sample for family in text_string_to_metric_families(text) for sample in family.samples)


def parse_metrics(text: str) -> dict[str, float]:
    """Sum of every sample per sample name (labels summed)."""
    sums: dict[str, float] = {}
    for sample in _samples(text):
        sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


async def scrape_text(worker: Worker) -> str:
    try:
        status, body = await http_get(f"http://127.0.0.1:{worker.port}/metrics", timeout=10.0)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return ""
    return body.decode() if status == 200 else ""


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of a Prometheus histogram (labels other than le summed)."""
    buckets: dict[float, float] = {}
    for sample in _samples(text):
        if sample.name == name + "_bucket":
            bound = float(sample.labels["le"])  # "+Inf" too
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def histogram_delta(before: str, after: str, name: str) -> dict[float, float]:
    a, b = histogram(before, name), histogram(after, name)
    return {le: b[le] - a.get(le, 0.0) for le in b}


def quantile(buckets: dict[float, float], q: float) -> Optional[float]:
    """Prometheus-style histogram_quantile: linear within the bucket."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / max(count - below, 1e-9))
        lower, below = bound, count
    return lower


def pauses(before: str, after: str, name: str) -> Optional[dict]:
    """Of a histogram of pauses between two expositions (labels summed):
    how many, their total seconds, and the bound of the smallest bucket that
    holds them all (the longest was at most that); None when not exposed."""
    buckets = histogram_delta(before, after, name)
    if not buckets:
        return None
    count = buckets[float("inf")]
    seconds = parse_metrics(after).get(name + "_sum", 0.0) - parse_metrics(before).get(name + "_sum", 0.0)
    longest = min(bound for bound, n in buckets.items() if n == count) if count else 0.0
    return {"count": count, "seconds": seconds, "longest_at_most": longest}


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """Samples of a counter summed per value of one label."""
    out: dict[str, float] = {}
    for sample in _samples(text):
        if sample.name == name and label in sample.labels:
            value = sample.labels[label]
            out[value] = out.get(value, 0.0) + sample.value
    return out
