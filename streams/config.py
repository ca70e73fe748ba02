"""Settings, all from the environment (12-factor), with short defaults for
the embedded broker. See README "Configuration"."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    app_id: str = field(default_factory=lambda: _env("APP_ID", "seller-standards"))
    bootstrap: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    partitions: int = field(default_factory=lambda: int(_env("PARTITIONS", "8")))
    replication: int = field(default_factory=lambda: int(_env("REPLICATION_FACTOR", "1")))
    data_dir: str = field(default_factory=lambda: _env("DATA_DIR", "./var/seller-standards"))
    policy_file: str | None = field(default_factory=lambda: os.environ.get("POLICY_FILE") or None)
    # "event": the partition clock moves only with event time (replay,
    # backfill); "wall": the wall clock advances it too (live).
    clock: str = field(default_factory=lambda: _env("CLOCK", "event"))
    web_bind: str = field(default_factory=lambda: _env("WEB_BIND", "127.0.0.1"))
    web_port: int = field(default_factory=lambda: int(_env("WEB_PORT", "6066")))
    refresh_interval: float = field(default_factory=lambda: float(_env("SCORECARD_INTERVAL", "0.5")))
    commit_interval: float = field(default_factory=lambda: float(_env("COMMIT_INTERVAL", "2.0")))
    rebalance_timeout: float = field(default_factory=lambda: float(_env("BROKER_REBALANCE_TIMEOUT", "4.0")))
    session_timeout: float = field(default_factory=lambda: float(_env("BROKER_SESSION_TIMEOUT", "6.0")))
    heartbeat_interval: float = field(default_factory=lambda: float(_env("BROKER_HEARTBEAT_INTERVAL", "1.0")))

    def __post_init__(self):
        if self.clock not in ("event", "wall"):
            raise ValueError(f"CLOCK must be 'event' or 'wall', got {self.clock!r}")
        if self.partitions < 1:
            raise ValueError(f"PARTITIONS must be at least 1, got {self.partitions}")
