"""The Kafka client's repeated errors pass once per interval (streams.client_logs)."""
from __future__ import annotations

import logging

from aiokafka import client
from aiokafka.consumer import fetcher
from aiokafka.producer import sender

from streams.client_logs import RepeatedMessages, quiet_repeated_client_errors


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _logger(name: str, repeated: RepeatedMessages) -> tuple[logging.Logger, _Records]:
    logger = logging.getLogger(name)
    logger.propagate = False
    records = _Records()
    logger.handlers = [records]
    logger.filters = [repeated]
    return logger, records


def test_a_message_passes_once_per_interval_and_then_says_how_many_were_left_out():
    now = [0.0]
    repeated = RepeatedMessages(10.0, clock=lambda: now[0])
    logger, records = _logger("aiokafka.test-repeated", repeated)
    for t in (0.0, 1.0, 2.5, 9.9):  # one passes, three are left out
        now[0] = t
        logger.error("Unable connect to node with id %s: %s", 1, "refused")
    now[0] = 10.0  # 10 s after the one that passed
    logger.error("Unable connect to node with id %s: %s", 2, "refused")
    now[0] = 12.0
    logger.error("Unable connect to node with id %s: %s", 2, "refused")
    now[0] = 25.0  # the last passed at 10.0, one left out since
    logger.error("Unable connect to node with id %s: %s", 3, "refused")
    assert records.lines == [
        "Unable connect to node with id 1: refused",
        "Unable connect to node with id 2: refused (3 more like it in the 10 s before left out)",
        "Unable connect to node with id 3: refused (1 more like it in the 15 s before left out)",
    ]


def test_other_messages_and_loggers_pass_on_their_own():
    now = [0.0]
    repeated = RepeatedMessages(10.0, clock=lambda: now[0])
    conn, conn_records = _logger("aiokafka.test-a", repeated)
    fetcher, fetcher_records = _logger("aiokafka.test-b", repeated)
    conn.error("Unable connect to node with id %s: %s", 1, "refused")
    conn.error("Unable to update metadata from %s", [1])
    fetcher.error("Unable connect to node with id %s: %s", 1, "refused")  # another logger, same text
    conn.error("Unable to update metadata from %s", [1])
    assert conn_records.lines == ["Unable connect to node with id 1: refused", "Unable to update metadata from [1]"]
    assert fetcher_records.lines == ["Unable connect to node with id 1: refused"]


def test_information_passes_each_time():
    repeated = RepeatedMessages(10.0, clock=lambda: 0.0)
    logger, records = _logger("aiokafka.test-info", repeated)
    logger.setLevel(logging.INFO)
    for generation in (1, 2):
        logger.info("Joined group %r (generation %s)", "g", generation)
    assert records.lines == ["Joined group 'g' (generation 1)", "Joined group 'g' (generation 2)"]


def test_installed_on_the_clients_loggers_and_not_on_others():
    repeated = quiet_repeated_client_errors()
    try:
        # the loggers of the refused connections and metadata updates (aiokafka.client logs as
        # "aiokafka"), of the failed fetches and of the failed produce requests
        assert all(repeated in module.log.filters for module in (client, fetcher, sender))
        assert repeated not in logging.getLogger("faust").filters
        assert repeated not in logging.getLogger("streams.app").filters
    finally:
        for logger in logging.root.manager.loggerDict.values():
            if isinstance(logger, logging.Logger) and repeated in logger.filters:
                logger.removeFilter(repeated)
