"""BENCHMARKS.md and the printed summary, from the runner's results dict."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

NOTES = Path(__file__).resolve().parent / "NOTES.md"  # hand-written findings appended to BENCHMARKS.md
SHORT_RUN = 4.0  # seconds: two commit intervals; a shorter run's end is known only to a commit, so its rate is a lower bound


def _rate(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _cores(cores) -> str:
    if not cores:
        return "-"
    return " / ".join(f"{cores.get(name, 0):.2f}" for name in ("worker", "broker", "benchmark", "steal"))


def _us(x: Optional[float]) -> str:
    return f"{x:.1f} µs" if x is not None else "-"


def _ms(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 1000:,.0f} ms"


def gc_pauses(pauses: Optional[dict]) -> str:
    """A latency phase's garbage collections (workers.pauses): how many, in
    all, the longest at most."""
    if not pauses:
        return "-"
    return (f"{pauses['count']:,.0f}, {_ms(pauses['seconds'])} in all, each <= {_ms(pauses['longest_at_most'])}"
            if pauses["count"] else "none")


def _s(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.1f} s"


def _b(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:,.0f} B"


def _mib(x: Optional[float]) -> str:
    return "-" if not x else f"{x / 2**20:,.0f} MiB"


def latency_by_share(results: dict) -> dict[float, list[dict]]:
    """The latency phases of each offered share, in the order run (one per round)."""
    by_share: dict[float, list[dict]] = {}
    for run in results.get("latency", []):
        by_share.setdefault(run["share"], []).append(run)
    return by_share


def _median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _get(results: dict, key: str) -> Optional[float]:
    entry = results.get(key)
    return entry.get("median") if isinstance(entry, dict) else None


def ratios(results: dict) -> list[tuple[str, Optional[float], str]]:
    project = _get(results, "project")
    out = []

    def ratio(label, other_key, target=""):
        other = _get(results, other_key)
        value = project / other if project and other else None
        out.append((label, value, target))

    ratio("project / limit (aiokafka defaults)", "limit", ">= 0.15")
    ratio("project / limit (tuned fetch)", "limit-tuned", "")
    ratio("project / naive Faust (one table update per event)", "naive", ">= 3")
    ratio("project / naive Faust with no table", "naive-notable", "")
    ratio("project / peer (Quix Streams, RocksDB + changelog)", "peer", "")
    pair = _get(results, "project-pair")
    if pair and project:
        out.append(("project, two processes / one", pair / project, ""))
    if pair and _get(results, "limit"):
        out.append(("project, two processes / limit (aiokafka defaults)", pair / _get(results, "limit"), ""))
    backfill = _get(results, "backfill")
    if backfill and project:
        out.append(("backfill / project worker", backfill / project, ""))
    return out


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, met?)"""
    rows = []
    project, naive, limit = _get(results, "project"), _get(results, "naive"), _get(results, "limit")
    if project and naive:
        rows.append(("worker >= 3x naive Faust", f"{project / naive:.2f}x", _yes(project >= 3 * naive)))
    if project and limit:
        rows.append(("worker >= 15 % of the raw limit", f"{100 * project / limit:.1f} %", _yes(project >= 0.15 * limit)))
    p99s = [run["p99"] for run in latency_by_share(results).get(0.5, []) if run["p99"] is not None]
    if p99s:
        p99 = _median(p99s)
        shown = _ms(p99) + (f" (median of {', '.join(map(_ms, p99s))})" if len(p99s) > 1 else "")
        rows.append(("p99 publish-to-scorecard < 1 s at 50 %", shown, _yes(p99 < 1.0)))
    backfill = _get(results, "backfill")
    if backfill:
        rows.append(("backfill >= 100,000 events/s", _rate(backfill), _yes(backfill >= 100_000)))
    check = results.get("evaluations_check")
    if check:
        rows.append(("backfill: same evaluation records as the worker",
                     f"{check['differing']} differing of {check['backfill']:,}", _yes(check["differing"] == 0)))
    state = results.get("state")
    if state:
        objects = state.get("python_per_seller")
        rows.append(("<= 2 KB state per active seller", f"{state['bytes_per_seller']:,.0f} B serialized, "
                     f"{_b(objects)} as the worker's objects",
                     _yes(state["bytes_per_seller"] <= 2048 and (objects is None or objects <= 2048))))
        added = state.get("python_added_per_entity")
        rows.append(("<= 200 B per open entity", f"{state['bytes_per_entity']:,.0f} B serialized, "
                     f"{_b(added)} added to the worker's objects",
                     _yes(state["bytes_per_entity"] <= 200 and (added is None or added <= 200))))
    return rows


def time_breakdown(results: dict) -> list[str]:
    """Where the worker's CPU goes: its rules alone, in process, against
    what the worker used per event; and the budget the 15 % target leaves."""
    worker = (results.get("project") or {}).get("cpu_per_event")
    phases = (results.get("in_process") or {}).get("median")
    if not (worker and phases):
        return []
    rules = sum(phases.values())
    out = ["## Where the worker's time goes", "",
           "The worker's rules alone: its `Processor` in the benchmark's process over the same records, with no "
           "Kafka, no Faust and no event loop (`bench.project.processor_phases`), driven as the worker drives it "
           "through a backlog: each topic partition's records in order, in slices of `APPLY_SLICE`, the "
           "partitions in turn, then the recount and the state that the commit after the backlog makes. "
           f"{_medians(len(results['in_process']['runs']))}, in the rounds above.", "",
           "| | CPU per event |", "| --- | ---: |",
           f"| this project's worker, ready to the final commit | {_us(worker)} |",
           f"| its rules alone: applying the events (decoding, dead letters, the rules, evaluations made before a "
           f"seller's next event) | {_us(phases['apply'])} |",
           f"| its rules alone: the recount (scorecards, daily badge progress, the evaluations not made yet) "
           f"| {_us(phases['recount'])} |",
           f"| its rules alone: the state records, and the violations and badge changes sent after them "
           f"| {_us(phases['state'])} |",
           f"| its rules alone, in all (the sum of the three above) | {_us(rules)} |",
           f"| the rest: fetching and producing (aiokafka), Faust, the event loop | {_us(worker - rules)} |"]
    for key, label in (("limit", "the limit: aiokafka consumer + orjson decode + dict count"),
                       ("peer", "peer: Quix Streams, a count per seller")):
        cpu = (results.get(key) or {}).get("cpu_per_event")
        if cpu:
            out.append(f"| {label} | {_us(cpu)} |")
    limit = _get(results, "limit")
    if limit:
        out += ["", f"15 % of the limit is {_rate(0.15 * limit)} events/s: {_us(1e6 / (0.15 * limit))} per event "
                "for a worker that keeps a core busy."]
    return out + [""]


def _medians(runs: int) -> str:
    return "One run" if runs == 1 else f"Medians of {runs} runs"


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def reproduce_command(command: str) -> str:
    """The run's command without the options that only say where files go."""
    import shlex

    words, out, skip = shlex.split(command), [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("--workdir", "--output", "--json"):
            skip = True
            continue
        if word.startswith(("--workdir=", "--output=", "--json=")) or word == "--no-write":
            continue
        out.append(word)
    return " ".join(shlex.quote(w) for w in out)


ENTRY_POINTS = ("<module>", "worker (streams/cli.py)", "Command.", "Worker.execute_from_commandline", "App.main")


def summary(results: dict) -> str:
    lines = ["", "== seller-standards benchmark =="]
    for key, label in (("limit", "limit (raw aiokafka + orjson)"), ("limit-tuned", "limit, tuned fetch"),
                       ("naive", "naive Faust, table update per event"), ("naive-notable", "naive Faust, no table"),
                       ("peer", "peer: Quix Streams"), ("project", "project worker (memory://)"),
                       ("project-pair", "project worker, two processes"),
                       ("backfill", "backfill (in process)")):
        if _get(results, key):
            lines.append(f"  {label:42s} {_rate(_get(results, key)):>10s} events/s")
    lines.append("ratios:")
    for label, value, target in ratios(results):
        if value is not None:
            lines.append(f"  {label:52s} {value:8.3f} {('target ' + target) if target else ''}")
    for share, runs in latency_by_share(results).items():
        lines.append(f"  latency at {share:.0%}: p50 {_ms(_median(run['p50'] for run in runs))}, "
                     f"p99 {_ms(_median(run['p99'] for run in runs))} (p99 {', '.join(_ms(run['p99']) for run in runs)})")
    lines.append(f"run took {results.get('seconds', 0) / 60:.1f} min")
    return "\n".join(lines)


def render(results: dict) -> str:
    m = results["machine"]
    w = results["workload"]
    out = ["# Benchmarks", "",
           "Generated by `bench/` (`python -m bench --help`); every throughput is the median of "
           f"{results['args']['reps']} repetitions on a freshly started worker, same broker, same data; "
           "the repetitions run in rounds (the limit, the backfill, the worker's rules in process, then each worker "
           "once per round), so that the "
           "machine's drift over minutes weighs on every system alike; the latency phases run as many rounds, "
           "each on a broker of its own.", "",
           "## Reproduce", "", "```sh", "pip install -c constraints.txt -e '.[bench]'", reproduce_command(results["command"]), "```", "",
           "Run it with the interpreter named under Machine: how that is built moves every rate (bench/HISTORY.md).", "",
           "## Machine", "",
           f"- {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, {m['system']}, Python {m['python']}"
           + (f" ({m['interpreter']})" if m.get("interpreter") else ""),
           "- " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
           f"- broker: the embedded Tansu (memory storage), {results['args']['partitions']} partitions per topic; "
           "broker, worker and load generator share the cores",
           f"- other processes used {results.get('background_cores', 0):.2f} cores on average during the run "
           f"(load average {results.get('load_average_at_start', [0])[0]:.2f} at its start)"
           + (" — **the machine was shared: numbers are noisy**" if results.get("background_cores", 0) > 0.2 else ""),
           f"- the hypervisor took {results.get('steal_cores', 0):.2f} cores on average (steal time: the virtual "
           "machine's cores given to other guests)"
           + (" — **numbers are noisy**" if results.get("steal_cores", 0) > 0.1 else ""),
           # A results file from before the date was kept: the day it is rendered.
           f"- run on {m.get('date') or time.strftime('%Y-%m-%d')} at commit {m.get('commit', '?')}; "
           f"the whole run took {results.get('seconds', 0) / 60:.1f} min", "",
           "## Workload", "", "```", w["description"], "```", "",
           f"Loaded in {_s(results['load']['seconds'])} ({_rate(results['load']['rate'])} events/s, "
           "keyed by seller_id, default partitioner).", "",
           "## Throughput", "",
           "| system | events/s (median) | runs | to the final commit | start to ready | peak RSS | CPU per event |",
           "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    rows = (("limit", "limit: aiokafka consumer + orjson decode + dict count (default fetch settings)"),
            ("limit-tuned", "limit, tuned fetch (4 MiB/partition)"),
            ("naive", "naive: Faust agent, one table update per event"),
            ("naive-notable", "Faust agent, no table"),
            ("peer", "peer: Quix Streams, per-seller count in RocksDB with changelog"),
            ("project", "**this project's worker** (memory://, all four standards)"),
            ("project-pair", "this project's worker, two processes in one group (half the partitions each; "
                             "RSS of the two added)"))
    for key, label in rows:
        entry = results.get(key)
        if not entry:
            continue
        runs = entry.get("runs", [])
        starts = _median([r["startup"] for r in runs]) if runs else None
        rss = _median([r["peak_rss"] for r in runs]) if runs else None
        committed = entry.get("committed_median")
        short = any(r.get("seconds", 99) < SHORT_RUN for r in runs)
        out.append(f"| {label} | {'>= ' if short else ''}{_rate(entry['median'])} | "
                   f"{', '.join(_rate(r) for r in entry['rates'])} | "
                   f"{_rate(committed) if committed else '-'} | {_s(starts)} | {_mib(rss)} | "
                   f"{_us(entry.get('cpu_per_event'))} |")
    if results.get("backfill"):
        b = results["backfill"]
        out.append(f"| backfill (`streams.backfill.backfill`, in process, no Kafka) | {_rate(b['median'])} | "
                   f"{', '.join(_rate(r) for r in b['rates'])} | - | - | - | - |")
    out += ["", "Workers: throughput = events / (time from ready to the end of processing). \"Ready\" is /ready "
            "answering 200 (project, naive Faust) or the first processed message (Quix), so start-up (imports, "
            "group join, changelog topic creation, recovery) is left out and shown apart. The end is read from the "
            "group's committed offsets (polled every 0.1 s, against end offsets taken from the producer's "
            "acknowledgements). Naive Faust and Quix commit every 2 s, so their final commit comes up to 2 s "
            "after the last event; their end is extrapolated from the last commit before the final one at the "
            "rate seen until then. \"To the final commit\" is the conservative figure without that correction. "
            f"This project's worker commits every {results.get('backlog_commit_interval', 30.0):g} s while it works "
            "through a backlog (`BACKLOG_COMMIT_INTERVAL`), so a run shorter than that has no commit before its "
            "final one, which comes once it has read every record (the backlog then ends) and "
            "recounts and writes every seller: its rate is then the conservative figure, final commit included. "
            "A rate marked >= "
            f"comes from runs shorter than {SHORT_RUN:.0f} s (no commit before the final one): a lower bound; "
            "a larger `--events` measures it better. Two processes: two workers started together in one "
            f"consumer group, which gives each half of the {results['args']['partitions']} partitions; timed from "
            "the first one ready "
            "(a rebalance when the second joins later is in the time), start to ready is to the second one. "
            "They share the machine's cores with the broker; the targets are of one process. CPU per event: "
            "the CPU time of the worker's process (every thread; the two processes' added) from ready to the "
            "final commit, over the events; the limit's is that of its consumer, which runs alone in the "
            "benchmark's process.", "",
            *time_breakdown(results),
            "## Ratios", "", "| ratio | value | target |", "| --- | ---: | --- |"]
    for label, value, target in ratios(results):
        if value is not None:
            out.append(f"| {label} | {value:.3f} | {target} |")
    acc = results.get("project", {}).get("accounted")
    if acc:
        out += ["", f"Every event accounted for by the last project run: {acc['processed']:,.0f} processed + "
                f"{acc['dead_letters']:,.0f} dead letters of {acc['loaded']:,} loaded "
                f"({acc['unaccounted']:,.0f} unaccounted)."]
        last = results["project"]["runs"][-1]
        loaded = max(acc["loaded"], 1)
        topics = last.get("outputs_by_topic") or {}
        detail = (" (" + ", ".join(f"{t.split('.')[-1]} {n / loaded:.2f}" for t, n in
                                   sorted(topics.items(), key=lambda kv: -kv[1])) + " per event)") if topics else ""
        out.append(f"It wrote {last['outputs']:,.0f} output records ({last['outputs'] / loaded:.2f} per input "
                   f"event{detail}) and {last['state_writes']:,.0f} state records "
                   f"({last['state_writes'] / loaded:.2f} per event) and holds {last['sellers_in_state']:,.0f} "
                   "sellers.")
    if results.get("latency"):
        out += ["", "## Latency, publish to scorecard", "",
                "| round | offered load | events/s sent | scorecards matched | p50 | p99 | p50 received | p99 received |"
                " input to processed p50 / p99 | the worker's garbage collections | cores: worker / broker / benchmark /"
                " stolen | caught up |",
                "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        base = _rate(results.get("latency_base") or _get(results, "project"))
        for run in results["latency"]:
            out.append(f"| {run.get('round', 1)} | {run['share']:.0%} of {base}/s | {_rate(run['achieved_rate'])} | "
                       f"{run['cards']:,} | {_ms(run['p50'])} | {_ms(run['p99'])} | {_ms(run['recv_p50'])} | "
                       f"{_ms(run['recv_p99'])} | {_ms(run.get('processing_p50'))} / {_ms(run.get('processing_p99'))} | "
                       f"{gc_pauses(run.get('gc'))} | "
                       f"{_cores(run.get('cores'))} | {'yes' if run['caught_up'] else '**no**'} |")
        out += ["", "Events of the same mix and seller skew are sent at a fixed rate with `_sent_at` (a field the "
                "contract ignores) and `occurred_at` moving with the wall clock; each record on "
                "`standards.scorecards` is matched to the latest event of its seller sent before the record's "
                "Kafka timestamp and not matched already (a card with no new event came from the clock). "
                "Latency = record timestamp - send time; \"received\" = when the benchmark's consumer got it. "
                f"{results['args']['latency_seconds']:.0f} s measured per rate after 3 s of warm-up; the rates "
                "run in rounds (each share once per round, one round per repetition), each round on a broker of its "
                "own, loaded with the workload and read to its end by a fresh worker first (the embedded broker's "
                "CPU per fetch grows with a topic's length), and the target reads the median of the 50 % phases' "
                "p99. "
                "\"Input to processed\" is the worker's own `seller_standards_processing_latency_seconds` "
                "histogram over the same interval (input record timestamp to the event applied; bucket-interpolated); "
                "its garbage collections are read from `seller_standards_gc_pause_seconds` over the same interval "
                "(every generation; the longest by its histogram bucket). "
                "Cores: CPU seconds per second of each process over the whole phase (warm-up, measurement, "
                f"catch-up), on a machine with {results.get('machine', {}).get('cores', '?')} cores: the benchmark "
                "process generates the load and reads the scorecards; \"stolen\" is the time the hypervisor gave "
                "the machine's cores to others (the kernel's steal time)."]
    if results.get("state"):
        st = results["state"]
        out += ["", "## State", "",
                f"- {st['sellers']:,} sellers in the state topic `{st.get('topic', '-')}` ({st['layout']} records, latest value "
                f"per key), {st['entities']:,} open entities (threads, orders, reviews, cases), "
                f"{st.get('gone_ids', 0):,} ids of items that left state (counted with the sellers, not as "
                f"entities), {st['changelog_keys']:,} keys.",
                f"- serialized (key + value, as in the state topic): {st['bytes_per_seller']:,.0f} B per seller "
                f"(header and items), {st['bytes_per_entity']:,.0f} B per open entity",
                f"- as the worker's Python objects (the same records restored by `streams.processor.Processor`, "
                f"measured with tracemalloc): {_b(st.get('python_per_seller'))} per seller with everything "
                f"counted against the sellers; an open entity adds {_b(st.get('python_added_per_entity'))} "
                "(the state restored without the item records, against with them: the item's id and stored form, "
                "packed in its collection's buckets, its share of them, and what a seller has only with items: "
                "collections, live monthly totals, deadlines to wake up at)"]
        runs = results.get("project", {}).get("runs", [])
        if runs and runs[-1].get("peak_rss") and runs[-1].get("ready_rss"):
            grown = runs[-1]["peak_rss"] - runs[-1]["ready_rss"]
            out.append(f"- worker RSS: {_mib(runs[-1]['ready_rss'])} when ready, peak {_mib(runs[-1]['peak_rss'])} "
                       f"({grown / max(st['sellers'], 1):,.0f} B of growth per seller, buffers included)")
    for key, label in (("restart", "default (state read back from the changelog)"),
                       ("restart-static", "default, static membership (`GROUP_INSTANCE_ID`, a group of its own)")):
        if results.get(key):
            if "## Restart" not in out:
                out += ["", "## Restart", "",
                        "A caught-up worker is stopped (SIGKILL; the last one SIGTERM), new events are published "
                        "while it is down, and it is started again with the same APP_ID and DATA_DIR (and "
                        "GROUP_INSTANCE_ID: a member restarted under its name takes its place in the group at "
                        "once; on Tansu every join of a named member takes 3 s longer).", "",
                        "| store | signal | events while down | launch to /ready | launch to /ready with every partition "
                        "| /ready to caught up | RSS when ready |",
                        "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
            for r in results[key]:
                out.append(f"| {label} | {r['signal']} | {r['tail_events']:,} | {_s(r['to_ready'])} | "
                           f"{_s(r.get('to_all_partitions'))} | {_s(r['to_caught_up'])} | {_mib(r['rss_ready'])} |")
    if results.get("rocksdb_note"):
        out += ["", f"RocksDB: {results['rocksdb_note']}."]
    rows = targets(results)
    if rows:
        out += ["", "## Targets of issue 6", "", "| target | measured | met |", "| --- | --- | --- |"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    out += profile_sections(results)
    if NOTES.exists():
        out += ["", NOTES.read_text().strip()]
    return "\n".join(out) + "\n"


def profile_sections(results: dict) -> list[str]:
    out = []
    for key, label in (("profile_project", "this project's worker"), ("profile_naive", "the naive Faust agent")):
        p = results.get(key)
        if not p or not p.get("samples"):
            continue
        if "## Profiles" not in out:
            out += ["", "## Profiles", "",
                    "`python -m bench --profile`: py-spy (100 Hz, --nonblocking, raw stacks in the work directory) "
                    "on one extra worker from ready to caught up; cProfile on one backfill. Shares are of the "
                    "samples of busy threads."]
        out += ["", f"### py-spy: {label} ({p['samples']:,} samples, {_rate(p['rate_under_profiler'])} events/s "
                "under the profiler)", "",
                "Self time by package: " + ", ".join(f"{name} {100 * share:.1f} %" for name, share in p["packages"][:8]),
                "", "| self | function |", "| ---: | --- |"]
        out += [f"| {100 * share:.1f} % | `{name}` |" for name, share in p["self"][:15]]
        for key, title in (("inclusive_ours", "our function"), ("inclusive_faust", "Faust / mode function")):
            rows = [(name, share) for name, share in p.get(key, []) if not name.startswith(ENTRY_POINTS)]
            if rows:
                out += ["", f"| inclusive | {title} |", "| ---: | --- |"]
                out += [f"| {100 * share:.1f} % | `{name}` |" for name, share in rows[:15]]
    b = results.get("profile_backfill")
    if b:
        out += ["", f"### cProfile: backfill ({b['events']:,} events, {b['total_seconds']:.1f} s under the profiler)",
                "", "| self s | calls | function |", "| ---: | ---: | --- |"]
        out += [f"| {tt:.2f} | {nc:,} | `{name}` |" for name, nc, tt, ct in b["self"][:15]]
        out += ["", "| cumulative s | calls | our function |", "| ---: | ---: | --- |"]
        out += [f"| {ct:.2f} | {nc:,} | `{name}` |" for name, nc, tt, ct in b["cumulative_ours"][:15]]
    return out


if __name__ == "__main__":
    # Re-render BENCHMARKS.md from a run's results.json (e.g. after editing bench/NOTES.md).
    import json
    import sys

    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
    target.write_text(render(json.loads(source.read_text())))
    print(f"wrote {target}")
