"""UTC calendar arithmetic on integer microseconds.

A month is identified by its index ``year * 12 + month - 1`` so that month
arithmetic (``m - 3``) is integer arithmetic.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

SECOND = 1_000_000
HOUR = 3600 * SECOND
DAY = 24 * HOUR
_EPOCH = date(1970, 1, 1)
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


@lru_cache(maxsize=65536)
def _month_of_day(day_number: int) -> int:
    d = _EPOCH + timedelta(days=day_number)
    return month_index(d.year, d.month)


def month_of(us: int) -> int:
    """Month index of the UTC day that contains the instant ``us``."""
    return _month_of_day(us // DAY)


@lru_cache(maxsize=4096)
def month_start(month: int) -> int:
    """First instant (microseconds) of a month index."""
    year, m0 = divmod(month, 12)
    return (date(year, m0 + 1, 1) - _EPOCH).days * DAY


@lru_cache(maxsize=4096)
def month_name(month: int) -> str:
    year, m0 = divmod(month, 12)
    return f"{year:04d}-{m0 + 1:02d}"


def parse_month(text: str) -> int:
    year, month = text.split("-")
    return month_index(int(year), int(month))


@lru_cache(maxsize=4096)
def first_day(month: int) -> str:
    return (_EPOCH + timedelta(days=month_start(month) // DAY)).isoformat()


@lru_cache(maxsize=4096)
def last_day(month: int) -> str:
    return (_EPOCH + timedelta(days=month_start(month + 1) // DAY - 1)).isoformat()


def to_datetime(us: int) -> datetime:
    return _EPOCH_DT + timedelta(microseconds=us)
