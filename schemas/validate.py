"""Decode and validate input events (SPEC section 2) into normalized dicts.

`decode_event` turns the raw bytes of one Kafka message into a new dict that
holds only the fields the contract names, with timestamps as int microseconds
since the Unix epoch (UTC) and money as int cents, or raises `InvalidEvent`.
"""

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

import fastjsonschema
import orjson

from schemas.fast import compile_fast_decoder
from standards.calendar import civil_from_days, days_from_civil

MAX_EVENT_BYTES = 64 * 1024

INPUT_TYPES = (
    "message.sent",
    "thread.spam_marked",
    "thread.spam_unmarked",
    "order.placed",
    "order.cancelled",
    "shipment.shipped",
    "review.posted",
    "review.removed",
    "refund.issued",
    "case.opened",
    "case.closed",
    "clock.heartbeat",
)

HEARTBEAT = "clock.heartbeat"  # its seller_id is any routing key (SPEC 2)

# clock.heartbeat is valid on every input topic, hence None.
TOPIC_OF_TYPE = {
    "message.sent": "marketplace.messages",
    "thread.spam_marked": "marketplace.messages",
    "thread.spam_unmarked": "marketplace.messages",
    "order.placed": "marketplace.orders",
    "order.cancelled": "marketplace.orders",
    "shipment.shipped": "marketplace.shipments",
    "review.posted": "marketplace.reviews",
    "review.removed": "marketplace.reviews",
    "refund.issued": "marketplace.refunds",
    "case.opened": "marketplace.refunds",
    "case.closed": "marketplace.refunds",
    "clock.heartbeat": None,
}

INVALID_EVENT_CODES = (
    "too_large",
    "not_utf8",
    "not_json",
    "not_object",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "bad_value",
    "bad_timestamp",
    "bad_money",
)


class InvalidEvent(Exception):
    """An event that breaks the input contract.

    `code` is one of INVALID_EVENT_CODES (a Prometheus label); `reason` tells
    a person what to fix.
    """

    def __init__(self, code: str, reason: str):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


# --- timestamps ---------------------------------------------------------

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_FRACTION_SCALE = (1, 100_000, 10_000, 1_000, 100, 10, 1)  # by digit count
_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND


_MIN_US = 0  # 1970-01-01T00:00:00Z
_END_US = days_from_civil(9999, 1, 1) * _US_PER_DAY  # first instant of UTC year 9999


# Fast path of parse_timestamp: the text cut at fixed positions into
# "YYYY-MM-DDTHH", ":MM:SS" and the tail "[.f{1,6}](Z|z|+HH:MM|-HH:MM)", each
# looked up in a table that holds valid parts only, so a lookup that hits has
# validated its part; anything else goes to the full (regex) path, which
# decides and says why. The hour and tail tables fill as parts are seen
# (a few thousand hours per year of events; tails: a fraction's digits times
# the offsets in use) and are emptied when full.
_HH = {f"{h:02d}": h * 3600 for h in range(24)}  # seconds
_HH_MM = {f"{h:02d}:{m:02d}": (h * 60 + m) * 60 for h in range(24) for m in range(60)}  # offsets
_MM_SS = {f":{m:02d}:{s:02d}": (m * 60 + s) * _US_PER_SECOND for m in range(60) for s in range(60)}
_HOURS: dict[str, int] = {}  # "YYYY-MM-DDTHH" -> microseconds since the epoch, local years 1970-9998 only
_HOURS_MAX = 50_000
_TAILS: dict[str, int] = {}  # tail -> microseconds to add: its fraction minus its offset
_TAILS_MAX = 50_000


def _date_days(date: str):
    """Days since the epoch of a valid "YYYY-MM-DD" of 1970-9998, else None."""
    if not (len(date) == 10 and date.isascii() and date[4] == "-" and date[7] == "-"):
        return None
    year_s, month_s, day_s = date[:4], date[5:7], date[8:]
    if not (year_s.isdigit() and month_s.isdigit() and day_s.isdigit()):
        return None
    year, month, day = int(year_s), int(month_s), int(day_s)
    if not (1970 <= year <= 9998 and 1 <= month <= 12):
        return None
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= _DAYS_IN_MONTH[month] + leap:
        return None
    return days_from_civil(year, month, day)


def _hour_us(head: str):
    """Microseconds since the epoch of a valid "YYYY-MM-DDTHH" (T or t) of 1970-9998, else None (cached)."""
    if len(head) != 13 or not (head[10] == "T" or head[10] == "t"):
        return None
    days = _date_days(head[:10])
    hour = _HH.get(head[11:])
    if days is None or hour is None:
        return None
    if len(_HOURS) >= _HOURS_MAX:
        _HOURS.clear()
    us = _HOURS[head] = (days * 86_400 + hour) * _US_PER_SECOND
    return us


def _tail_us(tail: str):
    """Microseconds to add for a valid "[.f{1,6}](Z|z|+HH:MM|-HH:MM)", else None (cached)."""
    last = tail[-1:]
    if last == "Z" or last == "z":
        offset, fraction = 0, tail[:-1]
    elif len(tail) >= 6 and tail[-3] == ":" and (tail[-6] == "+" or tail[-6] == "-"):
        offset = _HH_MM.get(tail[-5:])
        if offset is None:
            return None
        if tail[-6] == "+":
            offset = -offset
        fraction = tail[:-6]
    else:
        return None
    us = offset * _US_PER_SECOND
    if fraction:
        digits = fraction[1:]
        if not (fraction[0] == "." and 1 <= len(digits) <= 6 and digits.isascii() and digits.isdigit()):
            return None
        us += int(digits) * _FRACTION_SCALE[len(digits)]
    if len(_TAILS) >= _TAILS_MAX:
        _TAILS.clear()
    _TAILS[tail] = us
    return us


def parse_timestamp(text: str) -> int:
    """RFC 3339 timestamp with offset -> int microseconds since the epoch, UTC.

    Raises ValueError saying what is wrong (the message does not repeat `text`).
    """
    # Fast path: YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM), every part
    # validated by a table lookup (a subscript: cheaper than get); a part
    # not in its table yet, or no string, takes _parse_parts; the full path
    # decides what that cannot.
    try:
        us = _HOURS[text[:13]] + _MM_SS[text[13:19]] + _TAILS[text[19:]]
    except (KeyError, TypeError):
        us = _parse_parts(text)
    if us is not None and _MIN_US <= us < _END_US:
        return us
    return _parse_timestamp_full(text)


def _parse_parts(text) -> Optional[int]:
    """The fast path's sum with its tables filled from the text's parts; None
    when a part is invalid or `text` is no string."""
    if type(text) is not str:
        return None
    hour = _HOURS.get(text[:13])
    if hour is None:
        hour = _hour_us(text[:13])
    minute_second = _MM_SS.get(text[13:19])
    tail = _TAILS.get(text[19:])
    if tail is None:
        tail = _tail_us(text[19:])
    if hour is None or minute_second is None or tail is None:
        return None
    return hour + minute_second + tail


def _parse_timestamp_full(text: str) -> int:
    """parse_timestamp by the regex and every rule checked in turn: the
    reference the fast path must agree with, and the source of the reasons."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            "not an RFC 3339 timestamp: expected YYYY-MM-DDTHH:MM:SS, optionally"
            " 1-6 fractional digits, then Z or +HH:MM/-HH:MM"
        )
    year_s, month_s, day_s, hour_s, minute_s, second_s, fraction, sign, off_h, off_m = match.groups()
    year, month, day = int(year_s), int(month_s), int(day_s)
    hour, minute, second = int(hour_s), int(minute_s), int(second_s)
    if not 1 <= month <= 12:
        raise ValueError(f"month {month_s} is not 01-12")
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= _DAYS_IN_MONTH[month] + leap:
        raise ValueError(f"day {day_s} does not exist in {year_s}-{month_s}")
    if hour > 23:
        raise ValueError(f"hour {hour_s} is not 00-23")
    if minute > 59:
        raise ValueError(f"minute {minute_s} is not 00-59")
    if second > 59:
        raise ValueError(f"second {second_s} is not 00-59 (leap seconds are not allowed)")
    seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    if sign is not None:
        offset_hours, offset_minutes = int(off_h), int(off_m)
        if offset_hours > 23:
            raise ValueError(f"offset hours {off_h} are not 00-23")
        if offset_minutes > 59:
            raise ValueError(f"offset minutes {off_m} are not 00-59")
        offset = offset_hours * 3600 + offset_minutes * 60
        seconds += offset if sign == "-" else -offset
    us = seconds * _US_PER_SECOND
    if fraction is not None:
        us += int(fraction) * _FRACTION_SCALE[len(fraction)]
    if not _MIN_US <= us < _END_US:
        utc_year = civil_from_days(us // _US_PER_DAY)[0]
        raise ValueError(f"is in UTC year {utc_year}; only 1970-9998 is allowed")
    return us


_EPOCH = datetime(1970, 1, 1)  # naive: isoformat() then adds no offset


def format_timestamp(us: int) -> str:
    """Microseconds since the epoch -> RFC 3339 in UTC with `Z`; fraction only when non-zero."""
    try:
        text = (_EPOCH + timedelta(microseconds=us)).isoformat()  # "...T10:00:00" or "...T10:00:00.500000"
    except OverflowError:  # past year 9999: a deadline of a ten-year window (more digits in its year)
        days, us_of_day = divmod(us, _US_PER_DAY)
        seconds, fraction = divmod(us_of_day, _US_PER_SECOND)
        text = "%04d-%02d-%02dT%02d:%02d:%02d" % (*civil_from_days(days), seconds // 3600, seconds // 60 % 60,
                                                  seconds % 60)
        return text + (f".{fraction:06d}".rstrip("0") if fraction else "") + "Z"
    if len(text) > 19:  # a fraction: its trailing zeros go
        text = text.rstrip("0")
    return text + "Z"


# --- money --------------------------------------------------------------

def parse_cents(text: str) -> int:
    """Decimal money string ("12.5", "7", "0.05") -> int cents: 1-12 digits,
    optionally a point and 1-2 digits (isdigit of ASCII text: 0-9 only)."""
    if type(text) is str and text.isascii():
        units, point, fraction = text.partition(".")
        if units.isdigit() and len(units) <= 12:
            if not point:
                return int(units) * 100
            if fraction.isdigit() and len(fraction) <= 2:
                return int(units) * 100 + int(fraction) * (10 if len(fraction) == 1 else 1)
    raise ValueError("not a decimal string of 1-12 digits, optionally a point and 1-2 digits")


def format_cents(cents: int) -> str:
    """Int cents -> decimal string with two decimals (84550 -> "845.50")."""
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{units}.{rest:02d}"


# --- schemas ------------------------------------------------------------

def _exact_int(value):
    # The schema's "integer" also accepts 4.0 (draft 6+ semantics); the contract does not.
    if type(value) is not int:
        raise ValueError()  # the reason's "must be a JSON integer ..., got 4.0" says it all
    return value


_TIMESTAMP_FIELDS = ("occurred_at", "ship_by")
_MONEY_FIELDS = ("total", "amount")
# Per field: (convert, InvalidEvent code when convert raises ValueError).
_CONVERTERS = {
    **{name: (parse_timestamp, "bad_timestamp") for name in _TIMESTAMP_FIELDS},
    **{name: (parse_cents, "bad_money") for name in _MONEY_FIELDS},
    "rating": (_exact_int, "wrong_type"),
}
_PATTERN_CODES = {name: code for name, (_, code) in _CONVERTERS.items()}

_TIMESTAMP_EXPECTED = (
    'an RFC 3339 timestamp with offset such as "2026-03-01T12:00:00Z" (UTC year 1970-9998)'
)
_MONEY_EXPECTED = (
    'a decimal string such as "12.50": 1-12 digits, optionally a point and 1-2 digits,'
    " no sign, exponent or spaces"
)


def _expected(name: str, prop: dict) -> str:
    """What a field must be, in words, derived from its schema."""
    if name in _TIMESTAMP_FIELDS:
        return _TIMESTAMP_EXPECTED
    if name in _MONEY_FIELDS:
        return _MONEY_EXPECTED
    if "const" in prop:
        return f'"{prop["const"]}"'
    types = prop.get("type", ())
    types = [types] if isinstance(types, str) else types
    if "enum" in prop:
        text = "one of " + ", ".join(f'"{value}"' for value in prop["enum"] if value is not None)
    elif "boolean" in types:
        text = "a JSON boolean (true or false)"
    elif "integer" in types:
        text = f"a JSON integer from {prop['minimum']} to {prop['maximum']}"
    elif "string" in types:
        text = "a non-empty string" if prop.get("minLength") else "a string"
    else:
        text = f"valid against {json.dumps(prop)}"
    return text + " or null" if "null" in types else text


def _load_schema(event_type: str) -> dict:
    return json.loads(Path(__file__).with_name(f"{event_type}.json").read_text("utf-8"))


_SCHEMAS = {event_type: _load_schema(event_type) for event_type in INPUT_TYPES}
# Defaults are applied while normalizing (to null too), never by mutating the input.
_VALIDATORS = {
    event_type: fastjsonschema.compile(schema, use_default=False, use_formats=False)
    for event_type, schema in _SCHEMAS.items()
}
# Per type, what normalizing does: (the normalized field names in order,
# (name, convert, code) of the fields to convert, (name, default) of the
# fields whose default is not None).
_PLANS = {
    event_type: (
        tuple(schema["properties"]),
        tuple((name, *_CONVERTERS[name]) for name in schema["properties"] if name in _CONVERTERS),
        tuple((name, prop["default"]) for name, prop in schema["properties"].items()
              if prop.get("default") is not None),
    )
    for event_type, schema in _SCHEMAS.items()
}
_EXPECTED = {
    event_type: {name: _expected(name, prop) for name, prop in schema["properties"].items()}
    for event_type, schema in _SCHEMAS.items()
}
# The fast path (schemas.fast): what it converts (rating: nothing, msgspec's int is exact).
_FAST_CONVERTERS = {name: None if convert is _exact_int else convert for name, (convert, _) in _CONVERTERS.items()}
_FAST_DECODE = compile_fast_decoder(_SCHEMAS, _PLANS, _FAST_CONVERTERS).decode
# What makes the fast path fall back: msgspec.MsgspecError, orjson.JSONDecodeError and
# the conversions' errors are ValueErrors; msgspec raises RecursionError when nested deep.
_FALLBACK = (ValueError, RecursionError)


# --- decoding -----------------------------------------------------------

_JSON_KIND = {dict: "an object", list: "an array", str: "a string", int: "a number",
              float: "a number", bool: "a boolean", type(None): "null"}


def _excerpt(value, limit: int = 80) -> str:
    """The value as JSON, cut to `limit` characters, for error reasons."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_error(code: str, event_type: str, name: str, value, detail: str = "") -> InvalidEvent:
    reason = f"field '{name}' must be {_EXPECTED[event_type][name]}, got {_excerpt(value)}"
    return InvalidEvent(code, f"{reason}: {detail}" if detail else reason)


def _schema_error(event_type: str, event: dict, exc: fastjsonschema.JsonSchemaValueException) -> InvalidEvent:
    if exc.rule == "required":
        name = next(n for n in _SCHEMAS[event_type]["required"] if n not in event)
        return InvalidEvent("missing_field", f"required field '{name}' is missing from this {event_type} event")
    name = exc.path[-1]
    if exc.rule == "type":
        return _field_error("wrong_type", event_type, name, exc.value)
    if exc.rule == "pattern":
        code = _PATTERN_CODES.get(name, "bad_value")
        detail = ""
        if code == "bad_timestamp":
            try:
                parse_timestamp(exc.value)
            except ValueError as why:
                detail = str(why)
        return _field_error(code, event_type, name, exc.value, detail)
    return _field_error("bad_value", event_type, name, exc.value)


def decode_event(raw: bytes) -> dict:
    """Raw Kafka message value -> normalized event dict, or raise InvalidEvent.

    The dict has event_id, type, seller_id, occurred_at, marketplace_id and the
    fields the contract names for the type, nothing else; timestamps are int
    microseconds since the epoch (UTC), money is int cents, absent or null
    optional fields take their default (channel "marketplace", else None).

    A valid event is decoded by msgspec (schemas.fast); whatever that path
    cannot prove valid takes the full path (`_decode_slow`), which decides
    and gives the reason: the result is the same either way.
    """
    return decode_event_and_topic(raw)[1]


def decode_event_and_topic(raw: bytes) -> tuple:
    """(the event's `_topic` field, decode_event(raw)) from one decoding: the
    field's value as JSON gives it (None when absent). An events file line
    names its topic so; the contract does not (it is in no event)."""
    if type(raw) is bytes and len(raw) <= MAX_EVENT_BYTES:
        try:
            struct = _FAST_DECODE(raw)
            # orjson parses the bytes too: what it rejects, the full path rejects (schemas.fast)
            topic = orjson.loads(raw).get("_topic")
            return topic, struct.normalized()
        except _FALLBACK:
            pass
    event = load_event(raw)
    return event.get("_topic"), normalize(event)


def _decode_slow(raw: bytes) -> dict:
    """decode_event by the full path only: the reference the fast path must agree with."""
    return normalize(load_event(raw))


def load_event(raw: bytes) -> dict:
    """Raw Kafka message value -> the JSON object it holds, as is (the first
    step of decode_event), or raise InvalidEvent."""
    if raw is None:  # a Kafka record with a null value (tombstone)
        raise InvalidEvent("not_json", "message has no value (null record); expected a JSON object")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES} bytes")
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as bad:
            raise InvalidEvent("not_utf8", f"event is not valid UTF-8 (bad byte at offset {bad.start})") from None
        raise InvalidEvent("not_json", f"event is not valid JSON: {str(exc)[:200]}") from None
    if type(event) is not dict:
        raise InvalidEvent("not_object", f"event must be a JSON object, got {_JSON_KIND[type(event)]}")
    return event


def normalize(event: dict) -> dict:
    """A JSON object from load_event -> a new normalized event dict (the
    second step of decode_event), or raise InvalidEvent. `event` is not changed."""
    event_type = event.get("type")
    if type(event_type) is not str:
        if "type" not in event:
            raise InvalidEvent("missing_field", "required field 'type' is missing")
        raise InvalidEvent("wrong_type", f"field 'type' must be a string naming the event type, got {_excerpt(event_type)}")
    validate = _VALIDATORS.get(event_type)
    if validate is None:
        raise InvalidEvent(
            "unknown_type",
            f"field 'type' is {_excerpt(event_type)}, which is not a known event type"
            f" (known: {', '.join(INPUT_TYPES)})",
        )
    try:
        validate(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _schema_error(event_type, event, exc) from None

    names, converted, defaults = _PLANS[event_type]
    get = event.get
    normalized = {name: get(name) for name in names}  # absent -> None, in contract order
    for name, convert, code in converted:
        value = normalized[name]
        if value is not None:
            try:
                normalized[name] = convert(value)
            except ValueError as why:
                raise _field_error(code, event_type, name, value, str(why)) from None
    for name, default in defaults:
        if normalized[name] is None:
            normalized[name] = default
    return normalized
