"""When the worker counts its input as a backlog (its recounts then wait for
the commits: streams/app.py)."""
from streams.processor import Record, is_backlog

NOW = 1_800_000_000.0  # seconds


def _fetched(*ages_of_newest):
    """One partition per age (seconds) of its newest record, after an older one."""
    return {p: [Record(0, b"k", b"{}", (NOW - age - 60) * 1000), Record(1, b"k", b"{}", (NOW - age) * 1000)]
            for p, age in enumerate(ages_of_newest)}


def test_a_partition_whose_newest_record_is_old_enough_makes_a_backlog():
    assert is_backlog(_fetched(0.2, 5.0), NOW, 5.0)
    assert is_backlog(_fetched(30.0), NOW, 5.0)


def test_fresh_records_are_no_backlog_whatever_came_before_them():
    assert not is_backlog(_fetched(0.2, 4.9), NOW, 5.0)  # each batch's first record is a minute older


def test_records_without_a_timestamp_say_nothing():
    untimed = {0: [Record(0, b"k", b"{}", None)]}
    assert not is_backlog(untimed, NOW, 5.0)
    assert is_backlog({**untimed, 1: [Record(0, b"k", b"{}", (NOW - 30) * 1000)]}, NOW, 5.0)
    assert not is_backlog({**untimed, 1: [Record(0, b"k", b"{}", (NOW - 1) * 1000)]}, NOW, 5.0)


def test_an_empty_fetch_is_no_backlog():
    assert not is_backlog({}, NOW, 5.0)  # the worker's fetch that waited a second and brought nothing
