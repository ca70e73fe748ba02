"""Calendar arithmetic on integer microseconds: UTC, or a policy's time zone.

A month is identified by its index ``year * 12 + month - 1`` so that month
arithmetic (``m - 3``) is integer arithmetic. Instants are UTC microseconds
since the epoch; days and months are those of a `Calendar`'s zone.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

SECOND = 1_000_000
HOUR = 3600 * SECOND
DAY = 24 * HOUR
_EPOCH = date(1970, 1, 1)
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant), any year."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """Inverse of days_from_civil: (year, month, day), any year."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153  # March = 0
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    return year_of_era + era * 400 + (month <= 2), month, day


@lru_cache(maxsize=65536)
def _month_of_day(day_number: int) -> int:
    # Not by datetime.date, which ends with year 9999: an item of the last
    # valid year (9998) is kept past it (an order 400 days, a thread of a
    # ten-year window), and expiry reads the month of that horizon.
    year, month, _ = civil_from_days(day_number)
    return month_index(year, month)


def month_of(us: int) -> int:
    """Month index of the UTC day that contains the instant ``us``."""
    return _month_of_day(us // DAY)


@lru_cache(maxsize=4096)
def month_start(month: int) -> int:
    """First instant (microseconds) of a month index, in UTC."""
    year, m0 = divmod(month, 12)
    return (date(year, m0 + 1, 1) - _EPOCH).days * DAY


@lru_cache(maxsize=4096)
def month_name(month: int) -> str:
    year, m0 = divmod(month, 12)
    return f"{year:04d}-{m0 + 1:02d}"


@lru_cache(maxsize=4096)
def first_day(month: int) -> str:
    return (_EPOCH + timedelta(days=month_start(month) // DAY)).isoformat()


@lru_cache(maxsize=4096)
def last_day(month: int) -> str:
    return (_EPOCH + timedelta(days=month_start(month + 1) // DAY - 1)).isoformat()


def to_datetime(us: int) -> datetime:
    return _EPOCH_DT + timedelta(microseconds=us)


def _instant(local: datetime) -> int:
    """An aware datetime as UTC microseconds since the epoch."""
    return (local - _EPOCH_DT) // timedelta(microseconds=1)


_UNKNOWN = object()
_LAST_ZONED_US = days_from_civil(9999, 12, 30) * DAY  # a local time a day from it is still a datetime


class Calendar:
    """Days and months in one time zone (SPEC 3: "All calendar arithmetic is
    UTC unless the policy names a time zone"): UTC's are plain division; a
    zone's come from its offset at the instant (the tz database, zoneinfo),
    cached per hour of time.

    A day that starts in a gap (a daylight-saving jump at midnight) starts at
    the jump; in a repeated hour, an instant belongs to the date its local
    time shows (zoneinfo's reading of both).
    """

    def __init__(self, zone_name: str = "UTC"):
        self.zone_name = zone_name
        self._zone: tzinfo = timezone.utc if zone_name == "UTC" else ZoneInfo(zone_name)
        # hour (us // HOUR) -> the zone's offset over the whole hour, None when it changes within it
        self._offsets: dict[int, int | None] = {}
        self._month_starts: dict[int, int] = {}
        self._hour_instants: dict[tuple[int, int], int] = {}
        if zone_name == "UTC":  # the hot paths without a method call
            self.month_of, self.month_start = month_of, month_start

    def offset(self, us: int) -> int:
        """Local time minus UTC at the instant, in microseconds."""
        hour = us // HOUR
        offset = self._offsets.get(hour, _UNKNOWN)
        if offset is _UNKNOWN:
            first, last = self._offset_at(hour * HOUR), self._offset_at((hour + 1) * HOUR - 1)
            if len(self._offsets) >= 100_000:
                self._offsets.clear()
            offset = self._offsets[hour] = first if first == last else None
        return self._offset_at(us) if offset is None else offset

    def _offset_at(self, us: int) -> int:
        # An instant past datetime's range (year 9999; see _month_of_day) takes
        # the offset of its last day: such instants are expiry horizons, read
        # to the month, of months no evaluation reaches.
        us = min(us, _LAST_ZONED_US)
        return to_datetime(us).astimezone(self._zone).utcoffset() // timedelta(microseconds=1)

    def local_day(self, us: int) -> int:
        """Days since 1970-01-01 of the local date of the instant."""
        return (us + self.offset(us)) // DAY

    def month_of(self, us: int) -> int:
        """Month index of the local date of the instant."""
        return _month_of_day(self.local_day(us))

    def month_start(self, month: int) -> int:
        """First instant of the month's first local day."""
        start = self._month_starts.get(month)
        if start is None:
            year, m0 = divmod(month, 12)
            start = self._month_starts[month] = _instant(datetime(year, m0 + 1, 1, tzinfo=self._zone))
        return start

    def day_name(self, us: int) -> str:
        """The local date of the instant, "YYYY-MM-DD"."""
        return (_EPOCH + timedelta(days=self.local_day(us))).isoformat()

    def at_hour(self, us: int, hour: int) -> int:
        """The instant of local time hour:00 on the local date of ``us``
        (in a gap: the jump)."""
        key = (self.local_day(us), hour)
        instant = self._hour_instants.get(key)
        if instant is None:
            if len(self._hour_instants) >= 100_000:
                self._hour_instants.clear()
            day = _EPOCH + timedelta(days=key[0])
            instant = self._hour_instants[key] = _instant(datetime.combine(day, time(hour), tzinfo=self._zone))
        return instant
