"""`seller-standards`: worker, broker, replay, backfill, evaluations, policy, simulate, demo."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import click
import orjson
from aiokafka.errors import KafkaConnectionError
from tqdm import tqdm

from schemas.validate import format_timestamp

from .broker import BrokerError, EmbeddedBroker, create_topics, free_port, run_stoppable, why_port_unusable
from .child import start_child
from .config import Settings, SettingsError, bootstrap_problem
from .evaluation_records import EvaluationRecords
from .gc_tuning import tune_gc
from .reading import MissingTopics, WaitTimeout
from .replay import EventsFileError
from .topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS, PartitionCountError


class _Commands(click.Group):
    """A setting or policy file that cannot be used, a Kafka that cannot be
    reached, an embedded broker that cannot start (its port taken), an
    events file cut short, a wait on it that ran out of time, topics to
    read that the Kafka does not have, or topics of partition counts
    that cannot go together end the command with its message (naming the
    variable or key, what was waited for, or the topics) and exit status 1,
    not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KafkaConnectionError as exc:
            raise click.ClickException(f"Kafka is unreachable: {exc}") from None
        except (WaitTimeout, MissingTopics, PartitionCountError, BrokerError, EventsFileError) as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:
            from standards.policy import PolicyError  # pydantic: only when something went wrong

            if isinstance(exc, (SettingsError, PolicyError)):
                raise click.ClickException(str(exc)) from None
            raise


@click.group(cls=_Commands)
@click.version_option(package_name="seller-standards", prog_name="seller-standards")
def main() -> None:
    """Seller customer-service standards on Kafka."""
    tune_gc()


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})  # --help goes to Faust's worker
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Faust worker (options as `faust worker`; settings from the environment)."""
    if "--help" in ctx.args:  # what Faust's help cannot say: the settings this worker would run with
        shown = Settings().shown()
        click.echo("Runs a worker of the Faust app. Settings come from the environment (README,\n"
                   "Configuration); as read now:\n")
        width = max(len(variable) for variable, _ in shown)
        for variable, value in shown:
            click.echo(f"  {variable:<{width}}  {value}")
        click.echo("\nFaust's worker command, which takes the options:\n")
    try:  # the `fast` extra; Faust uses it only when told (-L uvloop) before it is imported
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from . import metrics

    metrics.track_gc_pauses()
    from .app import app, settings  # reads the settings and the policy file: what it cannot use stops here

    if "--help" not in ctx.args:
        _check_web_port_and_data_dir(settings)
    sys.argv = [sys.argv[0], "worker", *ctx.args]
    app.main()


def _check_web_port_and_data_dir(settings: Settings) -> None:
    """What Faust would end in a traceback on, said before it starts: the
    web port, which a second worker on the same host takes by default, and
    the data directory, which it makes without its parents."""
    why = why_port_unusable(settings.web_bind, settings.web_port)
    if why is not None:
        raise click.ClickException(
            f"WEB_PORT {settings.web_port} on WEB_BIND {settings.web_bind} cannot be used: {why} "
            "(another worker on this host? give each its own WEB_PORT)")
    try:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"DATA_DIR {settings.data_dir} cannot be made: {exc.strerror}") from None


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=9092, show_default=True,
              help="The port it listens on (Kafka protocol).")
def broker(port: int) -> None:
    """Run the embedded Kafka-protocol broker in the foreground."""
    with EmbeddedBroker(port) as running:
        try:  # from its first line on, a Ctrl-C, SIGTERM or SIGHUP is the way to stop it
            click.echo(f"embedded broker on {running.bootstrap} (Ctrl-C stops it)")
            running.process.wait()
        except KeyboardInterrupt:
            pass


def start_worker(bootstrap: str, app_id: str, data_dir: str, extra_env: dict | None = None,
                 log_file=None, log_level: str = "warn") -> subprocess.Popen:
    """A worker on the embedded broker at `bootstrap`, with the caller's
    environment less its Kafka security settings: that broker has neither
    TLS nor SASL (a shell set up for a real cluster left the demo's worker
    retrying its connection for ever, the demo showing no seller)."""
    env = {**{name: value for name, value in os.environ.items() if not name.startswith(("KAFKA_SSL", "KAFKA_SASL"))},
           "KAFKA_BOOTSTRAP": bootstrap, "APP_ID": app_id, "DATA_DIR": data_dir,
           "WEB_PORT": str(free_port()), **(extra_env or {})}
    return start_child([sys.executable, "-m", "streams.cli", "worker", "-l", log_level],
                       env=env, stdout=log_file or subprocess.DEVNULL,
                       stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def running_worker(bootstrap: str, app_id: str, data_dir: str,
                   extra_env: dict | None = None) -> Iterator[subprocess.Popen]:
    """A worker logging to DATA_DIR/worker.log (`worker_log_end`), stopped
    however the block ends (an error, Ctrl-C, SIGTERM, SIGHUP): it must not
    outlive its broker. It runs by event time unless `extra_env` says
    otherwise, whatever CLOCK the caller's environment sets: the commands
    that start it (replay, demo) publish their events after it started, and
    the wall clock would move its partitions past them."""
    with open(Path(data_dir) / "worker.log", "wb") as log_file:
        process = start_worker(bootstrap, app_id, data_dir, {"CLOCK": "event", **(extra_env or {})},
                               log_file=log_file)
        try:
            yield process
        finally:
            stop_worker(process)


def worker_log_end(data_dir: str) -> str:
    """The last lines of the log of the worker `running_worker` started there."""
    return (Path(data_dir) / "worker.log").read_text(errors="replace")[-4000:]


def _writable(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """An output file is checked before the work that fills it."""
    if path is not None and not (path.parent.is_dir() and os.access(path.parent, os.W_OK)
                                 and (not path.exists() or os.access(path, os.W_OK))):
        raise click.BadParameter(f"{path} cannot be written: its directory must exist and be writable")
    return path


def _output_option(*decls: str, **extra):
    return click.option(*decls, type=click.Path(dir_okay=False, path_type=Path), callback=_writable, **extra)


def _bootstrap_servers(ctx: click.Context, param: click.Parameter, servers: str | None) -> str | None:
    if servers is not None and (problem := bootstrap_problem(servers)):
        raise click.BadParameter(problem)
    return servers


def _bootstrap_option(**extra):
    return click.option("--bootstrap", callback=_bootstrap_servers, **extra)


def _evaluations_option(**extra):
    return _output_option("--evaluations", "evaluations_out",
                          help="Write the monthly evaluation records here (JSON lines).", **extra)


@main.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_bootstrap_option(help="A running Kafka (and worker); default: embedded broker and worker.")
@_evaluations_option()
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=1800.0, show_default=True,
              help="Seconds to wait for the worker to process every published event.")
def replay(events: Path, bootstrap: str | None, evaluations_out: Path | None, timeout: float) -> None:
    """Publish EVENTS (JSON lines) keyed by seller_id and collect the results."""
    from . import replay as replaying

    settings = Settings()
    partitions = settings.partitions
    if bootstrap:
        options = settings.client_options()
        asyncio.run(create_topics(bootstrap, INPUT_TOPICS, partitions, settings.replication, options=options))
        ends = asyncio.run(replaying.publish(events, bootstrap, partitions, options))
        if evaluations_out:
            asyncio.run(replaying.wait_processed(bootstrap, settings.app_id, ends, timeout, options=options))
            with EvaluationRecords() as records:
                _write(evaluations_out, asyncio.run(replaying.evaluations(bootstrap, records, options=options)))
        return
    _check_policy(settings)
    with EmbeddedBroker() as embedded, tempfile.TemporaryDirectory() as data_dir, EvaluationRecords() as records:
        run_stoppable(create_topics(embedded.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, partitions,
                                    compacted=COMPACTED))
        app_id = f"seller-standards-replay-{uuid.uuid4().hex[:8]}"
        try:
            with running_worker(embedded.bootstrap, app_id, data_dir) as process:
                ends = run_stoppable(replaying.publish(events, embedded.bootstrap, partitions))
                run_stoppable(replaying.wait_processed(embedded.bootstrap, app_id, ends, timeout,
                                                       alive=lambda: process.poll() is None))
                run_stoppable(replaying.evaluations(embedded.bootstrap, records))
        except Exception:  # the worker has stopped by now: its log ends with its last lines
            click.echo(worker_log_end(data_dir), err=True)
            raise
        written = _write(evaluations_out, records) if evaluations_out else sum(1 for _ in records)
        click.echo(f"{written} evaluation records", err=True)


def _write(path: Path, lines: Iterable[bytes]) -> int:
    """Write the lines, each ended by a newline; how many."""
    written = 0
    with path.open("wb") as file:
        for line in lines:
            file.write(line + b"\n")
            written += 1
    return written


@contextmanager
def _dead_letter_writer(path: Path | None):
    """A backfill's `dead_letter`: each invalid line to `path` as it is
    found, as the worker's dead letters but for the line's number in place
    of topic, partition and offset (None: no file)."""
    if path is None:
        yield None
        return
    from .output_json import dead_letter_record

    with path.open("wb") as file:
        def dead_letter(number: int, raw: bytes, invalid) -> None:
            file.write(dead_letter_record(raw, invalid.code, invalid.reason, line=number) + b"\n")

        yield dead_letter


@main.command()
@click.argument("events", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from-topics", is_flag=True,
              help="Instead of EVENTS, read the input topics of a Kafka (--bootstrap) to their end.")
@_bootstrap_option(help="The Kafka of --from-topics; default: KAFKA_BOOTSTRAP.")
@_evaluations_option(required=True)
@_output_option("--dead-letters", "dead_letters_out",
                help="Write each invalid line of EVENTS here (JSON lines: line, code, reason, original_base64).")
def backfill(events: Path | None, from_topics: bool, bootstrap: str | None, evaluations_out: Path,
             dead_letters_out: Path | None) -> None:
    """Run the rules over EVENTS (or the input topics) in this process: the
    records a worker makes from a replay of EVENTS (or from those topics)."""
    from standards.policy import load_policy

    from .backfill import backfill as run_backfill, backfill_records, read_input_topics
    from .replay import event_lines

    if (events is not None) == from_topics:
        raise click.UsageError("give either EVENTS or --from-topics")
    if bootstrap and not from_topics:
        raise click.UsageError("--bootstrap goes with --from-topics")
    if dead_letters_out and from_topics:
        raise click.UsageError("--dead-letters goes with EVENTS (the worker's are on standards.deadletter)")
    settings = Settings()
    policy = load_policy(settings.policy_file)
    with EvaluationRecords() as records:  # sorted runs past IN_MEMORY_RECORDS go to a temporary directory
        if from_topics:
            read = read_input_topics(bootstrap or settings.bootstrap, settings.client_options())
            _, dead_letters = backfill_records(tqdm(read, desc="backfill", unit="ev", mininterval=1.0), policy,
                                               records)
        else:
            with _dead_letter_writer(dead_letters_out) as dead_letter:
                _, dead_letters = run_backfill(event_lines(events, "backfill"), settings.partitions, policy,
                                               dead_letter, records)
        written = _write(evaluations_out, records)
    click.echo(f"{written} evaluation records, {dead_letters} invalid events", err=True)


@main.command()
@click.argument("policy_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy(policy_file: Path | None) -> None:
    """The policy a worker judges with under POLICY_FILE (default: the
    POLICY_FILE variable; neither: the default policy), checked as a worker
    checks it: its fingerprint, as the workers export it in
    seller_standards_policy_info, and every number, defaults included."""
    from standards.policy import load_policy

    judged = load_policy(policy_file or Settings().policy_file)
    click.echo(orjson.dumps({"fingerprint": judged.fingerprint, "policy": judged.model_dump(mode="json")},
                            option=orjson.OPT_INDENT_2).decode())


@main.command()
@_bootstrap_option(required=True, help="The Kafka (HOST:PORT) whose standards.evaluations topic is read.")
@click.option("--idle", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="Stop when no record came for this many seconds.")
def evaluations(bootstrap: str, idle: float) -> None:
    """Print the latest evaluation record per seller and month (sorted JSON lines)."""
    from . import replay as replaying

    with EvaluationRecords() as records:
        for line in asyncio.run(replaying.evaluations(bootstrap, records, idle, Settings().client_options())):
            click.echo(line.decode())


@main.command()
@click.argument("events", type=click.Path(dir_okay=False, path_type=Path), callback=_writable)
@click.option("--sellers", type=click.IntRange(min=1), default=300, show_default=True, help="Simulated sellers.")
@click.option("--days", type=click.IntRange(min=1), default=60, show_default=True, help="Days of events.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The first day, YYYY-MM-DD (UTC midnight); default: DAYS days before now.")
@click.option("--seed", type=int, default=7, show_default=True, help="Another seed: other sellers' habits and events.")
def simulate(events: Path, sellers: int, days: int, start: datetime | None, seed: int) -> None:
    """Write a simulated marketplace's events to EVENTS (JSON lines in time
    order, each naming its topic in `_topic`, hourly heartbeats on every
    topic), for `replay` or `backfill`. The file appears whole or not at all.
    The events are sorted in memory: about 1 KB each (200 sellers over 60
    days are some 48,000 events)."""
    from .simulate import DAY, simulate as simulated

    start_s = int(start.replace(tzinfo=timezone.utc).timestamp()) if start else int(time.time()) - days * 86_400
    start_us = start_s * 1_000_000
    part = events.with_name(events.name + ".part")
    written = _write(part, (orjson.dumps(event) for event in simulated(sellers, start_us, days, seed)))
    part.replace(events)
    click.echo(f"{written:,} events of {sellers:,} sellers from {format_timestamp(start_us)} "
               f"to {format_timestamp(start_us + days * DAY)} written to {events}", err=True)


@main.command()
@click.option("--sellers", type=click.IntRange(min=1), default=300, show_default=True, help="Simulated sellers.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=14400.0, show_default=True,
              help="Simulated seconds per wall second.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many wall seconds.")
def demo(sellers: int, speed: float, duration: float | None) -> None:
    """Embedded broker, a worker, a simulated marketplace, a live summary."""
    from .demo import run_demo

    _check_policy(Settings())
    run_demo(sellers, speed, duration)


def _check_policy(settings: Settings) -> None:
    """The worker a command starts reads the settings and the policy file:
    what it cannot use stops the command before a broker starts."""
    from standards.policy import load_policy

    load_policy(settings.policy_file)


if __name__ == "__main__":
    main()
