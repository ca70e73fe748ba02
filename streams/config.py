"""Settings, all from the environment (12-factor), with short defaults for
the embedded broker. See README "Configuration"."""
from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field, fields
from functools import cached_property


# The characters Kafka allows in a topic name.
_TOPIC_NAME_CHARACTERS = "[A-Za-z0-9._-]"
# A bootstrap server: a host (a name, an IPv4 address, or an IPv6 one in brackets), then optionally a port.
_BOOTSTRAP_SERVER = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]+))?")


def bootstrap_problem(servers: str) -> str | None:
    """Why Kafka clients cannot take `servers` as their bootstrap servers (None: they can)."""
    for server in servers.split(","):
        match = _BOOTSTRAP_SERVER.fullmatch(server)
        if match is None or (match["port"] is not None and not 1 <= int(match["port"]) <= 65535):
            return ("must be host:port pairs separated by commas (kafka-1:9092,kafka-2:9092; the port 9092 when "
                    f"left out), got {servers!r}")
    return None


class SettingsError(ValueError):
    """A setting that cannot be used; the message names its variable."""


def _read(name: str, default: str | None, kind: type):
    # An empty variable is unset for a setting without default (a path, a
    # name), a value to check for one with a default.
    text = os.environ.get(name, default) if default is not None else os.environ.get(name) or None
    if text is None or kind is str:
        return text
    if kind is bool:  # refused when unknown: `on` read as false would mean plaintext, silently
        flag = text.lower()
        if flag in ("1", "true", "yes"):
            return True
        if flag in ("0", "false", "no"):
            return False
        raise SettingsError(f"{name} must be true or false (1/0, yes/no), got {text!r}")
    try:
        return kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def _setting(name: str, default: str | None = None, kind: type = str, secret: bool = False):
    """A setting read from the environment variable `name` (its metadata,
    for `Settings.shown`); None when unset and without default."""
    return field(default_factory=lambda: _read(name, default, kind), repr=not secret,
                 metadata={"variable": name, "secret": secret})


# How long the broker may hold a fetch that has no records yet: the workers'
# default (FETCH_MAX_WAIT_MS) and the readers' (streams.reading).
FETCH_MAX_WAIT_MS = 50


@dataclass(frozen=True)
class Settings:
    app_id: str = _setting("APP_ID", "seller-standards")
    bootstrap: str = _setting("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    partitions: int = _setting("PARTITIONS", "8", int)
    replication: int = _setting("REPLICATION_FACTOR", "1", int)
    data_dir: str = _setting("DATA_DIR", "./var/seller-standards")
    policy_file: str | None = _setting("POLICY_FILE")
    # "event": the partition clock moves only with event time (replay,
    # backfill); "wall": the wall clock advances it too (live).
    clock: str = _setting("CLOCK", "event")
    web_bind: str = _setting("WEB_BIND", "127.0.0.1")
    web_port: int = _setting("WEB_PORT", "6066", int)
    refresh_interval: float = _setting("SCORECARD_INTERVAL", "0.1", float)
    commit_interval: float = _setting("COMMIT_INTERVAL", "2.0", float)
    # While the worker works through a backlog (streams.app.BACKLOG_SECONDS).
    backlog_commit_interval: float = _setting("BACKLOG_COMMIT_INTERVAL", "30.0", float)
    rebalance_timeout: float = _setting("BROKER_REBALANCE_TIMEOUT", "4.0", float)
    session_timeout: float = _setting("BROKER_SESSION_TIMEOUT", "6.0", float)
    heartbeat_interval: float = _setting("BROKER_HEARTBEAT_INTERVAL", "1.0", float)
    # Static group membership (KIP-345): a worker restarted under the same
    # name takes its partitions back without waiting for its old session.
    group_instance_id: str | None = _setting("GROUP_INSTANCE_ID")
    # How long the broker may hold a fetch that has no data yet (Faust's own
    # value, 1500 ms, is what every event waits on a broker that does not
    # answer early when records arrive).
    fetch_max_wait_ms: int = _setting("FETCH_MAX_WAIT_MS", str(FETCH_MAX_WAIT_MS), int)

    # Kafka security: none, TLS (KAFKA_SSL_*), SASL PLAIN or SCRAM (KAFKA_SASL_*).
    sasl_mechanism: str | None = _setting("KAFKA_SASL_MECHANISM")
    sasl_username: str | None = _setting("KAFKA_SASL_USERNAME")
    sasl_password: str | None = _setting("KAFKA_SASL_PASSWORD", secret=True)
    ssl: bool = _setting("KAFKA_SSL", "false", bool)
    ssl_cafile: str | None = _setting("KAFKA_SSL_CAFILE")
    ssl_certfile: str | None = _setting("KAFKA_SSL_CERTFILE")
    ssl_keyfile: str | None = _setting("KAFKA_SSL_KEYFILE")
    ssl_key_password: str | None = _setting("KAFKA_SSL_KEY_PASSWORD", secret=True)

    def shown(self) -> list[tuple[str, str]]:
        """(variable, value as read) of every setting, a secret one only as
        set or not: what `worker --help` prints."""
        rows = []
        for setting in fields(self):
            value = getattr(self, setting.name)
            if setting.metadata["secret"]:
                value = "(set)" if value else "(not set)"
            rows.append((setting.metadata["variable"], "(not set)" if value is None else str(value)))
        return rows

    def credentials(self):
        """Faust credentials from the KAFKA_SSL*/KAFKA_SASL* settings (None: plaintext)."""
        import faust

        context = self.ssl_context
        if self.sasl_mechanism:
            return faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                         mechanism=self.sasl_mechanism, ssl_context=context)
        return faust.SSLCredentials(context) if context is not None else None

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS to the brokers from the KAFKA_SSL* settings (None: plaintext),
        made when a command first needs it, before it connects (the worker:
        as its app is made): a file that cannot be used stops the command
        there, naming the variable, not at each connection in OpenSSL's words
        only. The embedded broker's commands never make it (plaintext)."""
        if not (self.ssl or self.ssl_cafile or self.ssl_certfile):
            return None
        for variable, path in (("KAFKA_SSL_CAFILE", self.ssl_cafile), ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
                               ("KAFKA_SSL_KEYFILE", self.ssl_keyfile)):
            try:
                if path is not None:
                    open(path, "rb").close()
            except OSError as exc:
                raise SettingsError(f"{variable} {path!r} cannot be read: {exc.strerror}") from None
        try:
            context = ssl.create_default_context(cafile=self.ssl_cafile)
        except ssl.SSLError as exc:
            raise SettingsError(f"KAFKA_SSL_CAFILE {self.ssl_cafile!r} holds no PEM certificate ({exc})") from None
        if self.ssl_certfile:
            key = (f"KAFKA_SSL_KEYFILE {self.ssl_keyfile!r}" if self.ssl_keyfile
                   else "the private key it should hold (KAFKA_SSL_KEYFILE is not set)")
            # Without a password, "": an encrypted key is refused, not asked for at a terminal.
            password = self.ssl_key_password or ""
            private_key = ("its private key, encrypted with KAFKA_SSL_KEY_PASSWORD" if password
                           else "its unencrypted private key (an encrypted one needs KAFKA_SSL_KEY_PASSWORD)")
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password=password)
            except ssl.SSLError as exc:
                raise SettingsError(f"KAFKA_SSL_CERTFILE {self.ssl_certfile!r} and {key} are not a PEM client "
                                    f"certificate and {private_key} ({exc})") from None
        return context

    def client_options(self) -> dict:
        """The same security as keyword arguments of aiokafka clients."""
        from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

        return dict(credentials_to_aiokafka_auth(self.credentials()))

    def __post_init__(self):
        # APP_ID starts the names of the topics the workers make (<APP_ID>-seller-state, Faust's
        # <APP_ID>-__assignor-__leader): a topic name's characters, and room for the rest of it.
        if not re.fullmatch(_TOPIC_NAME_CHARACTERS + "{1,200}", self.app_id):
            raise SettingsError("APP_ID must be 1-200 letters, digits, '.', '_' or '-' (it starts topic names), "
                                f"got {self.app_id!r}")
        # The rule of Kafka's own clients for a group.instance.id (JoinGroupRequest.validateGroupInstanceId:
        # a topic name's), which aiokafka does not check.
        if self.group_instance_id is not None and (self.group_instance_id in (".", "..") or not re.fullmatch(
                _TOPIC_NAME_CHARACTERS + "{1,249}", self.group_instance_id)):
            raise SettingsError("GROUP_INSTANCE_ID must be 1-249 letters, digits, '.', '_' or '-' (not '.' or '..'), "
                                f"got {self.group_instance_id!r}")
        if problem := bootstrap_problem(self.bootstrap):
            raise SettingsError(f"KAFKA_BOOTSTRAP {problem}")
        if self.clock not in ("event", "wall"):
            raise SettingsError(f"CLOCK must be 'event' or 'wall', got {self.clock!r}")
        if self.sasl_mechanism not in (None, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise SettingsError("KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, "
                                f"got {self.sasl_mechanism!r}")
        if self.sasl_mechanism and not (self.sasl_username and self.sasl_password):
            raise SettingsError("KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.ssl_keyfile and not self.ssl_certfile:  # a key is only used with its certificate
            raise SettingsError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the client certificate of that key)")
        if self.ssl_key_password and not self.ssl_certfile:
            raise SettingsError("KAFKA_SSL_KEY_PASSWORD needs KAFKA_SSL_CERTFILE (the client certificate whose key "
                                "it decrypts)")
        if self.partitions < 1:
            raise SettingsError(f"PARTITIONS must be at least 1, got {self.partitions}")
        if self.replication < 1:
            raise SettingsError(f"REPLICATION_FACTOR must be at least 1, got {self.replication}")
        # Port 0 (any free port) is refused too: Faust does, and Prometheus
        # could not find the port chosen.
        if not 1 <= self.web_port <= 65535:
            raise SettingsError(f"WEB_PORT must be a port from 1 to 65535, got {self.web_port}")
        for name, seconds in (("SCORECARD_INTERVAL", self.refresh_interval), ("COMMIT_INTERVAL", self.commit_interval),
                              ("BACKLOG_COMMIT_INTERVAL", self.backlog_commit_interval),
                              ("BROKER_REBALANCE_TIMEOUT", self.rebalance_timeout),
                              ("BROKER_SESSION_TIMEOUT", self.session_timeout),
                              ("BROKER_HEARTBEAT_INTERVAL", self.heartbeat_interval)):
            if not seconds > 0:
                raise SettingsError(f"{name} must be more than 0 seconds, got {seconds}")
        if self.heartbeat_interval >= self.session_timeout:  # the group would drop the worker between heartbeats
            raise SettingsError(f"BROKER_HEARTBEAT_INTERVAL must be shorter than BROKER_SESSION_TIMEOUT "
                                f"({self.session_timeout} s), got {self.heartbeat_interval}")
        if self.fetch_max_wait_ms < 0:
            raise SettingsError(f"FETCH_MAX_WAIT_MS must be at least 0, got {self.fetch_max_wait_ms}")
