"""The Kafka client's repeated errors, logged once per interval.

While the broker is unreachable, aiokafka logs the same few errors (a
refused connection, a failed metadata update, a fetch or a produce to a
node not ready) about 100 times a second in all: 2,650 lines in a 30 s
outage, which bury what else the worker logs. Each of its warning and
error messages (logger and format string) passes at most once per
interval; the next one that passes says how many were left out."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

CLIENT_LOGGERS = "aiokafka"
INTERVAL = 10.0  # seconds


class RepeatedMessages(logging.Filter):
    def __init__(self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()  # the consumer's thread and the main thread both log
        self._passed: dict[tuple[str, object], list] = {}  # (logger, message) -> [when it passed, left out since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # what a group join or a rebalance says, each time
            return True
        key = (record.name, record.msg)
        now = self.clock()
        with self._lock:
            passed = self._passed.get(key)
            if passed is not None and now - passed[0] < self.interval:
                passed[1] += 1
                return False
            self._passed[key] = [now, 0]
        if passed is not None and passed[1] and isinstance(record.msg, str):
            record.msg += f" ({passed[1]} more like it in the {now - passed[0]:.0f} s before left out)"
        return True


def quiet_repeated_client_errors(interval: float = INTERVAL) -> RepeatedMessages:
    """Filter every logger of the Kafka client there is now (its modules
    are imported with the app): a record is filtered once, at its logger,
    whatever handlers it then goes to."""
    repeated = RepeatedMessages(interval)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (name == CLIENT_LOGGERS or name.startswith(CLIENT_LOGGERS + ".")) and isinstance(logger, logging.Logger):
            logger.addFilter(repeated)
    return repeated
