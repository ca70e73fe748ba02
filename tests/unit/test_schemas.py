"""Input contract (SPEC section 2): schemas/*.json and schemas.validate.

Expected epoch values are worked out by hand from day counts:
2026-01-01 is day 20454 since 1970-01-01 (56 * 365 + 14 leap days), 2026-03-01
day 20513, 2024-02-29 day 19782, 2000-02-29 day 11016, 9999-01-01 day 2932532.
"""

import contextlib
import datetime as dt
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.validate import (
    INPUT_TYPES,
    INVALID_EVENT_CODES,
    MAX_EVENT_BYTES,
    TOPIC_OF_TYPE,
    InvalidEvent,
    decode_event,
    format_cents,
    format_timestamp,
    load_event,
    normalize,
    parse_cents,
    parse_timestamp,
)
import schemas.fast as fast_module
import schemas.validate as validate_module
from schemas.validate import _decode_slow, decode_event_and_topic

OCCURRED_AT = "2026-03-01T00:00:00.5+01:00"
OCCURRED_AT_US = 1_772_319_600_500_000  # (20513 * 86400 - 3600) s + 0.5 s
SHIP_BY = "2026-03-04T12:00:00Z"
SHIP_BY_US = 1_772_625_600_000_000  # (20516 * 86400 + 43200) s

COMMON = {"event_id": "e-1", "seller_id": "s-42", "occurred_at": OCCURRED_AT}
COMMON_OUT = {"event_id": "e-1", "seller_id": "s-42", "occurred_at": OCCURRED_AT_US, "marketplace_id": None}

# Per type: the extra fields of a valid event, and what they normalize to.
VALID = {
    "message.sent": (
        {"thread_id": "t-1", "message_id": "m-1", "sender_role": "buyer", "channel": "chat"},
        {"thread_id": "t-1", "message_id": "m-1", "sender_role": "buyer", "channel": "chat"},
    ),
    "thread.spam_marked": ({"thread_id": "t-1"}, {"thread_id": "t-1"}),
    "thread.spam_unmarked": ({"thread_id": "t-1"}, {"thread_id": "t-1"}),
    "order.placed": (
        {"order_id": "o-1", "total": "845.5", "currency": "BRL", "ship_by": SHIP_BY,
         "digital": False, "purchase_protected": True, "tracking_required": True},
        {"order_id": "o-1", "total": 84550, "currency": "BRL", "ship_by": SHIP_BY_US,
         "digital": False, "purchase_protected": True, "tracking_required": True},
    ),
    "order.cancelled": ({"order_id": "o-1", "cancelled_by": "buyer"}, {"order_id": "o-1", "cancelled_by": "buyer"}),
    "shipment.shipped": (
        {"order_id": "o-1", "tracking_number": "BR123", "label_purchased": False, "carrier": "correios"},
        {"order_id": "o-1", "tracking_number": "BR123", "label_purchased": False, "carrier": "correios"},
    ),
    "review.posted": ({"review_id": "r-1", "order_id": "o-1", "rating": 5}, {"review_id": "r-1", "order_id": "o-1", "rating": 5}),
    "review.removed": ({"review_id": "r-1"}, {"review_id": "r-1"}),
    "refund.issued": (
        {"refund_id": "f-1", "order_id": "o-1", "amount": "7", "source": "seller"},
        {"refund_id": "f-1", "order_id": "o-1", "amount": 700, "source": "seller"},
    ),
    "case.opened": ({"case_id": "c-1", "order_id": "o-1"}, {"case_id": "c-1", "order_id": "o-1"}),
    "case.closed": ({"case_id": "c-1", "resolution": "refunded_by_seller"}, {"case_id": "c-1", "resolution": "refunded_by_seller"}),
    "clock.heartbeat": ({}, {}),
}
OPTIONAL_FIELDS = {"marketplace_id", "channel", "cancelled_by", "carrier"}
ID_FIELDS = {"event_id", "seller_id", "thread_id", "message_id", "order_id", "review_id",
             "refund_id", "case_id", "currency"}


def event(event_type, **fields):
    return {**COMMON, "type": event_type, **VALID[event_type][0], **fields}


def without(event_dict, name):
    return {key: value for key, value in event_dict.items() if key != name}


def encode(event_dict) -> bytes:
    return json.dumps(event_dict).encode()


def assert_invalid(raw, code, field=None):
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert info.value.code == code, info.value.reason
    if field is not None:
        assert f"'{field}'" in info.value.reason
    return info.value


# --- module surface ---------------------------------------------------------

def test_types_topics_and_schema_files():
    assert len(INPUT_TYPES) == len(set(INPUT_TYPES)) == 12
    assert set(TOPIC_OF_TYPE) == set(INPUT_TYPES) == set(VALID)
    assert TOPIC_OF_TYPE["clock.heartbeat"] is None
    assert TOPIC_OF_TYPE["case.closed"] == "marketplace.refunds"
    schema_dir = Path(__file__).resolve().parents[2] / "schemas"
    for event_type in INPUT_TYPES:
        schema = json.loads((schema_dir / f"{event_type}.json").read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["type"] == {"const": event_type}


def test_invalid_event_carries_code_and_reason():
    error = InvalidEvent("bad_value", "field 'x' must be y")
    assert (error.code, error.reason) == ("bad_value", "field 'x' must be y")
    assert str(error) == "bad_value: field 'x' must be y"


# --- valid events -------------------------------------------------------------

@pytest.mark.parametrize("event_type", sorted(VALID))
def test_every_type_decodes_to_its_normalized_fields(event_type):
    raw = encode(event(event_type, body="hello", extra={"nested": [1, 2]}))
    assert decode_event(raw) == {**COMMON_OUT, "type": event_type, **VALID[event_type][1]}


def test_normalized_key_order_is_common_fields_then_contract_order():
    decoded = decode_event(encode(event("order.placed")))
    assert list(decoded) == ["event_id", "type", "seller_id", "occurred_at", "marketplace_id", "order_id",
                             "total", "currency", "ship_by", "digital", "purchase_protected", "tracking_required"]


@pytest.mark.parametrize(("event_type", "name", "default"), [
    ("message.sent", "channel", "marketplace"),
    ("order.cancelled", "cancelled_by", None),
    ("shipment.shipped", "carrier", None),
    ("clock.heartbeat", "marketplace_id", None),
])
def test_optional_fields_absent_or_null_take_their_default(event_type, name, default):
    assert decode_event(encode(without(event(event_type), name)))[name] == default
    assert decode_event(encode(event(event_type, **{name: None})))[name] == default


def test_optional_fields_keep_given_values():
    assert decode_event(encode(event("clock.heartbeat", marketplace_id="mkt-br")))["marketplace_id"] == "mkt-br"
    assert decode_event(encode(event("shipment.shipped", carrier="")))["carrier"] == ""
    for channel in ("marketplace", "email", "chat", "phone", "social"):
        assert decode_event(encode(event("message.sent", channel=channel)))["channel"] == channel


def test_tracking_number_is_required_but_may_be_null_or_empty():
    assert_invalid(encode(without(event("shipment.shipped"), "tracking_number")), "missing_field", "tracking_number")
    assert decode_event(encode(event("shipment.shipped", tracking_number=None)))["tracking_number"] is None
    assert decode_event(encode(event("shipment.shipped", tracking_number="")))["tracking_number"] == ""


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_ratings_1_to_5_are_valid(rating):
    assert decode_event(encode(event("review.posted", rating=rating)))["rating"] == rating


@pytest.mark.parametrize(("text", "cents"), [
    ("12.5", 1250), ("7", 700), ("0.05", 5), ("0", 0), ("007.10", 710), ("845.50", 84550),
    ("999999999999.99", 99_999_999_999_999),
])
def test_money_becomes_cents(text, cents):
    assert parse_cents(text) == cents
    assert decode_event(encode(event("refund.issued", amount=text)))["amount"] == cents


@pytest.mark.parametrize(("text", "us"), [
    (OCCURRED_AT, OCCURRED_AT_US),
    ("1970-01-01T00:00:00Z", 0),
    ("1970-01-01t00:00:00.000001z", 1),
    ("1970-01-01T01:30:00+01:30", 0),
    ("2026-01-01T00:00:00Z", 1_767_225_600_000_000),
    ("2025-12-31T23:30:00-05:30", 1_767_243_600_000_000),  # 2026-01-01T05:00:00Z
    ("2024-02-29T12:00:00.12Z", 1_709_208_000_120_000),
    ("2000-02-29T00:00:00-00:00", 951_782_400_000_000),
    ("9998-12-31T23:59:59.999999Z", 253_370_764_799_999_999),  # 2932532 * 86400 s - 1 us
    ("9999-01-01T00:30:00+01:00", 253_370_763_000_000_000),  # UTC 9998-12-31T23:30:00
])
def test_timestamps_become_epoch_microseconds(text, us):
    assert parse_timestamp(text) == us
    assert decode_event(encode(event("clock.heartbeat", occurred_at=text)))["occurred_at"] == us


def test_repeated_key_keeps_the_last_value():
    head = b'{"event_id":"e-1","type":"review.posted","seller_id":"s-42","occurred_at":"2026-03-01T00:00:00Z",'
    assert decode_event(head + b'"rating":0,"review_id":"r-1","order_id":"o-1","rating":5}')["rating"] == 5
    assert_invalid(head + b'"rating":5,"review_id":"r-1","order_id":"o-1","rating":0}', "bad_value", "rating")
    assert decode_event(head + b'"type":"case.opened","case_id":"c-1","order_id":"o-1"}')["type"] == "case.opened"


def test_event_of_exactly_64_kib_is_accepted():
    base = event("clock.heartbeat", pad="")
    raw = encode({**base, "pad": "x" * (MAX_EVENT_BYTES - len(encode(base)))})
    assert len(raw) == 65536
    assert decode_event(raw)["type"] == "clock.heartbeat"


# --- invalid events -------------------------------------------------------------

def test_too_large():
    base = event("clock.heartbeat", pad="")
    raw = encode({**base, "pad": "x" * (MAX_EVENT_BYTES + 1 - len(encode(base)))})
    assert len(raw) == 65537
    assert_invalid(raw, "too_large")


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"{'a': 1}", b'{"a": NaN}', b'{"a": 1} x',
                                 b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}"])
def test_not_json(raw):
    assert_invalid(raw, "not_json")


def test_null_record_is_not_json():
    assert_invalid(None, "not_json")


@pytest.mark.parametrize("raw", [b'{"type": "\xff"}', '{"seller_id": "jos\u00e9"}'.encode("latin-1"),
                                 b'{"a": "\xed\xa0\x80"}'])
def test_not_utf8(raw):
    assert_invalid(raw, "not_utf8")


@pytest.mark.parametrize("raw", [b"[]", b'[{"type": "clock.heartbeat"}]', b'"x"', b"1", b"null", b"true"])
def test_not_object(raw):
    assert_invalid(raw, "not_object")


@pytest.mark.parametrize(("event_type", "name"), [
    (event_type, name) for event_type in sorted(VALID)
    for name in [*COMMON, *VALID[event_type][0]] if name not in OPTIONAL_FIELDS
])
def test_every_required_field_missing(event_type, name):
    assert_invalid(encode(without(event(event_type), name)), "missing_field", name)


def test_type_missing_or_not_a_string():
    assert_invalid(encode(without(event("clock.heartbeat"), "type")), "missing_field", "type")
    assert_invalid(encode(event("clock.heartbeat", type=["clock.heartbeat"])), "wrong_type", "type")
    assert_invalid(encode(event("clock.heartbeat", type=None)), "wrong_type", "type")


@pytest.mark.parametrize("event_type", ["order.shipped", "", "Clock.Heartbeat", "clock.heartbeat "])
def test_unknown_type(event_type):
    assert_invalid(encode({**COMMON, "type": event_type}), "unknown_type", "type")


@pytest.mark.parametrize(("event_type", "name", "value"), [
    ("order.placed", "order_id", 5),
    ("order.placed", "currency", None),
    ("order.placed", "digital", "true"),
    ("order.placed", "digital", 1),
    ("order.placed", "purchase_protected", None),
    ("shipment.shipped", "label_purchased", 0),
    ("shipment.shipped", "tracking_number", 123),
    ("shipment.shipped", "carrier", False),
    ("message.sent", "thread_id", ["t-1"]),
    ("message.sent", "sender_role", None),
    ("clock.heartbeat", "event_id", None),
    ("clock.heartbeat", "seller_id", 42),
    ("clock.heartbeat", "occurred_at", 1772319600),
    ("clock.heartbeat", "marketplace_id", {"id": "m"}),
    ("order.placed", "total", 12.5),
    ("refund.issued", "amount", 700),
])
def test_wrong_type(event_type, name, value):
    assert_invalid(encode(event(event_type, **{name: value})), "wrong_type", name)


@pytest.mark.parametrize(("event_type", "name"), [
    (event_type, name) for event_type in sorted(VALID)
    for name in [*COMMON, *VALID[event_type][0]] if name in ID_FIELDS
])
def test_empty_ids_are_bad_values(event_type, name):
    assert_invalid(encode(event(event_type, **{name: ""})), "bad_value", name)


def test_empty_marketplace_id_is_a_bad_value():
    assert_invalid(encode(event("clock.heartbeat", marketplace_id="")), "bad_value", "marketplace_id")


@pytest.mark.parametrize(("event_type", "name", "value"), [
    ("order.cancelled", "cancelled_by", "robot"),
    ("order.cancelled", "cancelled_by", ""),
    ("message.sent", "sender_role", "bot"),
    ("message.sent", "sender_role", "Buyer"),
    ("message.sent", "channel", "fax"),
    ("refund.issued", "source", "buyer"),
    ("case.closed", "resolution", "refunded"),
])
def test_enum_outside_its_values_is_a_bad_value(event_type, name, value):
    assert_invalid(encode(event(event_type, **{name: value})), "bad_value", name)


@pytest.mark.parametrize(("rating", "code"), [
    (0, "bad_value"), (6, "bad_value"), (-1, "bad_value"),
    (4.0, "wrong_type"), (4.5, "wrong_type"), (True, "wrong_type"), ("4", "wrong_type"), (None, "wrong_type"),
])
def test_bad_ratings(rating, code):
    assert_invalid(encode(event("review.posted", rating=rating)), code, "rating")


def test_rating_4_0_reason_is_actionable():
    error = assert_invalid(encode(event("review.posted", rating=4.0)), "wrong_type")
    assert error.reason == "field 'rating' must be a JSON integer from 1 to 5, got 4.0"


def test_rating_as_exponent_is_not_an_integer():
    raw = encode(event("review.posted", rating=0)).replace(b'"rating": 0', b'"rating": 5e0')
    assert_invalid(raw, "wrong_type", "rating")


BAD_MONEY = ["-1", "+1", "1e3", " 1", "1 ", "1.234", "1234567890123", "1.", ".5", "", "1,50", "12.5\n",
             "\u0661\u0662"]  # the last is Arabic-Indic digits


@pytest.mark.parametrize("text", BAD_MONEY)
def test_bad_money(text):
    assert_invalid(encode(event("order.placed", total=text)), "bad_money", "total")
    assert_invalid(encode(event("refund.issued", amount=text)), "bad_money", "amount")
    with pytest.raises(ValueError):
        parse_cents(text)


BAD_TIMESTAMPS = [
    "2026-03-01T00:00:00",  # no offset
    "2026-03-01 00:00:00Z",  # space instead of T
    "2026-03-01T00:00:00.1234567Z",  # 7 fractional digits
    "2026-03-01T00:00:00.Z",
    "2026-02-30T00:00:00Z",
    "2025-02-29T00:00:00Z",  # 2025 is not a leap year
    "2026-04-31T00:00:00Z",
    "2026-03-00T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-03-01T24:00:00Z",
    "2026-03-01T00:60:00Z",
    "2026-06-30T23:59:60Z",  # leap second
    "2026-03-01T00:00:00+01:60",
    "2026-03-01T00:00:00+24:00",
    "2026-03-01T00:00:00+0100",
    "2026-03-01T00:00:00+01",
    "2026-3-01T00:00:00Z",
    "2026-03-01T00:00:00Zjunk",
    "2026-03-01T00:00:00Z\n",
    "1970-01-01T00:30:00+01:00",  # UTC 1969-12-31T23:30:00
    "1969-12-31T23:59:59.999999Z",
    "9998-12-31T23:59:59-01:00",  # UTC 9999-01-01T00:59:59
    "9999-01-01T00:00:00Z",
    "",
]


@pytest.mark.parametrize("text", BAD_TIMESTAMPS)
def test_bad_timestamps(text):
    assert_invalid(encode(event("clock.heartbeat", occurred_at=text)), "bad_timestamp", "occurred_at")
    assert_invalid(encode(event("order.placed", ship_by=text)), "bad_timestamp", "ship_by")
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(("text", "detail"), [
    ("2026-02-30T00:00:00Z", "day 30 does not exist in 2026-02"),
    ("2026-06-30T23:59:60Z", "second 60 is not 00-59 (leap seconds are not allowed)"),
    ("2026-03-01T00:00:00+01:60", "offset minutes 60 are not 00-59"),
    ("1970-01-01T00:30:00+01:00", "is in UTC year 1969; only 1970-9998 is allowed"),
    ("9998-12-31T23:59:59-01:00", "is in UTC year 9999; only 1970-9998 is allowed"),
])
def test_bad_timestamp_reasons_say_what_is_wrong(text, detail):
    with pytest.raises(ValueError, match=detail.replace("(", r"\(").replace(")", r"\)")):
        parse_timestamp(text)
    error = assert_invalid(encode(event("clock.heartbeat", occurred_at=text)), "bad_timestamp", "occurred_at")
    assert error.reason.endswith(detail)


def test_reason_quotes_at_most_80_characters_of_the_value():
    for raw in (encode(event("order.placed", order_id=["x" * 10_000])),
                encode(event("order.placed", total="9" * 10_000)),
                encode({**COMMON, "type": "y" * 10_000})):
        reason = assert_invalid(raw, decode_code(raw)).reason
        assert "x" * 81 not in reason and "9" * 81 not in reason and "y" * 81 not in reason
        assert len(reason) < 400


def decode_code(raw):
    try:
        decode_event(raw)
    except InvalidEvent as error:
        return error.code
    raise AssertionError("expected InvalidEvent")


# --- formatting -------------------------------------------------------------

@pytest.mark.parametrize(("us", "text"), [
    (OCCURRED_AT_US, "2026-02-28T23:00:00.5Z"),
    (0, "1970-01-01T00:00:00Z"),
    (1, "1970-01-01T00:00:00.000001Z"),
    (1_709_208_000_120_000, "2024-02-29T12:00:00.12Z"),
    (1_767_225_600_000_000, "2026-01-01T00:00:00Z"),
    (253_370_764_799_999_999, "9998-12-31T23:59:59.999999Z"),
    # Past year 9999, which an alert's deadline reaches with a ten-year window (87,840 h,
    # 3,660 days) from the last valid instant: 10000, 10004 and 10008 are leap years.
    (253_402_300_800_000_000, "10000-01-01T00:00:00Z"),  # 2,932,897 days: 8,030 years, 1,947 of them leap
    (253_370_764_799_999_999 + 3_660 * 86_400_000_000, "10009-01-07T23:59:59.999999Z"),
    (253_402_300_800_000_000 + 1_500_000, "10000-01-01T00:00:01.5Z"),
])
def test_format_timestamp(us, text):
    assert format_timestamp(us) == text


@pytest.mark.parametrize(("cents", "text"), [(84550, "845.50"), (0, "0.00"), (5, "0.05"), (700, "7.00"),
                                             (99_999_999_999_999, "999999999999.99"), (-5, "-0.05")])
def test_format_cents(cents, text):
    assert format_cents(cents) == text


# --- properties -------------------------------------------------------------

def assert_decodes_or_is_invalid(raw):
    try:
        decoded = decode_event(raw)
    except InvalidEvent as error:
        assert error.code in INVALID_EVENT_CODES
        assert error.reason
    else:
        assert decoded["type"] in INPUT_TYPES


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_invalid_event(raw):
    assert_decodes_or_is_invalid(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(sorted({name for fields, _ in VALID.values() for name in fields} | {*COMMON, "type"}))


@settings(max_examples=300)
@given(st.dictionaries(field_names | st.text(max_size=8), json_values | st.sampled_from(INPUT_TYPES), max_size=12))
def test_arbitrary_json_objects_never_raise_anything_but_invalid_event(obj):
    assert_decodes_or_is_invalid(json.dumps(obj).encode())


@settings(max_examples=500)
@given(st.sampled_from(sorted(VALID)), st.dictionaries(field_names, json_values, max_size=3),
       st.lists(field_names, max_size=2))
def test_mutated_valid_events_never_raise_anything_but_invalid_event(event_type, changes, removed):
    mutated = {name: value for name, value in {**event(event_type), **changes}.items() if name not in removed}
    assert_decodes_or_is_invalid(json.dumps(mutated).encode())


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(9997, 12, 31)),
       st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
       st.sampled_from(["T", "t"]), st.integers(min_value=0, max_value=6))
def test_parse_timestamp_agrees_with_datetime(local, offset_minutes, separator, digits):
    local = local.replace(microsecond=local.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    fraction = f".{local.microsecond:06d}"[: digits + 1] if digits else ""
    text = f"{local:%Y-%m-%d}{separator}{local:%H:%M:%S}{fraction}{sign}{hours:02d}:{minutes:02d}"
    aware = local.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    expected = (aware - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)
    assert parse_timestamp(text) == expected


@given(st.integers(min_value=0, max_value=253_370_764_799_999_999))
def test_format_then_parse_round_trips(us):
    text = format_timestamp(us)
    assert parse_timestamp(text) == us
    utc = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us)
    assert text.startswith(utc.strftime("%Y-%m-%dT%H:%M:%S"))


@given(st.from_regex(r"[0-9]{1,12}(\.[0-9]{1,2})?", fullmatch=True))
def test_parse_cents_agrees_with_decimal(text):
    assert parse_cents(text) == int(Decimal(text) * 100)
    assert Decimal(format_cents(parse_cents(text))) == Decimal(text)


# --- the fast path of parse_timestamp ------------------------------------------

def full_path(text):
    """What the regex path says: the value, or the ValueError's message."""
    try:
        return validate_module._parse_timestamp_full(text)
    except ValueError as why:
        return f"ValueError: {why}"


def either_path(text):
    try:
        return parse_timestamp(text)
    except ValueError as why:
        return f"ValueError: {why}"


FAST_VALID = [
    "2024-02-29T12:00:00Z",  # leap day
    "2000-02-29T00:00:00Z",  # divisible by 400: leap
    "2026-03-01T23:59:59Z",
    "2026-03-01t00:00:00z",
    "2026-03-01T00:00:00.1Z", "2026-03-01T00:00:00.12Z", "2026-03-01T00:00:00.123Z",
    "2026-03-01T00:00:00.1234Z", "2026-03-01T00:00:00.12345Z", "2026-03-01T00:00:00.123456Z",
    "2026-03-01T00:00:00.000000Z",
    "1970-01-01T00:00:00Z",
    "9998-12-31T23:59:59.999999Z",
    "2026-03-01T00:00:00.5+01:00",
    "2025-12-31T23:30:00-05:30",
    "2026-03-01T00:00:00-00:00",
    "2026-03-01T00:00:00+23:59",
    "1970-01-01T01:30:00+01:30",  # UTC 1970-01-01T00:00:00
    "9998-12-31T23:59:59.999999+00:00",
]
FAST_INVALID = [
    "2025-02-29T00:00:00Z",  # 2025 is not a leap year
    "1900-02-29T00:00:00Z",  # divisible by 100, not by 400 (and before 1970)
    "2100-02-29T00:00:00Z",  # divisible by 100, not by 400
    "2026-04-31T00:00:00Z", "2026-03-00T00:00:00Z", "2026-00-01T00:00:00Z", "2026-13-01T00:00:00Z",
    "2026-03-01T24:00:00Z", "2026-03-01T00:60:00Z", "2026-03-01T00:00:60Z",  # 60 s: no leap second
    "2026-03-01T00:00:00.1234567Z",  # 7 fractional digits
    "2026-03-01T00:00:00.Z",
    "2026-03-01T00:00:00.+1Z", "2026-03-01T00:00:00.1_0Z", "2026-03-01T00:00:00. 1Z",
    "2026-03-01T00:00:00.\u0661Z",  # an Arabic-Indic digit: int() and isdigit() take it, RFC 3339 does not
    "\uff12\uff10\uff12\uff16-03-01T00:00:00Z",  # full-width digits
    "2026-03-01T\u0660\u0660:00:00Z", "2026-03-01T00:00:\u0660\u0660Z", "2026-03-01T00:00:00+\u0660\u0660:00",
    "+026-03-01T00:00:00Z", " 026-03-01T00:00:00Z", "2026-+3-01T00:00:00Z", "2026-03- 1T00:00:00Z",
    "2026-03-01T+1:00:00Z", "2026-03-01T01:+0:00Z", "2026-03-01T01:00:+0Z",
    "2026-03-01 00:00:00Z", "2026-03-01X00:00:00Z", "2026-03-01T00-00:00Z", "2026-03-01T00:00-00Z",
    "2026/03/01T00:00:00Z", "2026-03-01T00:00:00", "2026-03-01T00:00:00+01", "2026-03-01T00:00:00+0100",
    "2026-03-01T00:00:00+01:60", "2026-03-01T00:00:00+24:00", "2026-03-01T00:00:00*01:00",
    "2026-03-01T00:00:00+01-00", "2026-03-01T00:00:00Zjunk", "2026-03-01T00:00:00Z\n", "x2026-03-01T00:00:00Z",
    "2026-03-01T00:00:00ZZ", "2026-03-01T00:00:00.5+01:00Z", "2026-03-01T00:00:00.1234567+01:00",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:30:00+01:00",  # UTC 1969-12-31T23:30:00
    "9999-01-01T00:00:00Z",
    "9998-12-31T23:59:59-01:00",  # UTC 9999-01-01T00:59:59
    "0000-01-01T00:00:00Z",
    "",
    "2026-03-01T00:00:00zz",
]


@pytest.mark.parametrize("text", FAST_VALID)
def test_fast_path_takes_the_common_forms_and_agrees_with_the_full_path(text, monkeypatch):
    expected = full_path(text)
    assert isinstance(expected, int)
    monkeypatch.setattr(validate_module, "_parse_timestamp_full", lambda _: pytest.fail("fast path not taken"))
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", FAST_INVALID)
def test_fast_path_rejects_what_the_full_path_rejects(text):
    expected = full_path(text)
    assert isinstance(expected, str) and expected.startswith("ValueError")
    assert either_path(text) == expected  # the same reason, too
    assert either_path(text) == expected  # and again, now that some parts are cached


def test_fast_path_non_strings_are_rejected():
    for value in (None, 1_772_319_600, b"2026-03-01T00:00:00Z", ["2026-03-01T00:00:00Z"]):
        with pytest.raises(ValueError):
            parse_timestamp(value)


def test_fast_path_caches_are_bounded_and_stay_right(monkeypatch):
    monkeypatch.setattr(validate_module, "_HOURS_MAX", 3)
    monkeypatch.setattr(validate_module, "_TAILS_MAX", 3)
    validate_module._HOURS.clear()
    validate_module._TAILS.clear()
    for day in range(1, 29):
        for text in (f"2026-02-{day:02d}T10:00:00Z", f"2026-02-{day:02d}t{day % 24:02d}:00:00.{day}-{day % 24:02d}:30"):
            assert parse_timestamp(text) == full_path(text)
            assert parse_timestamp(text) == full_path(text)  # again, from the caches
            assert len(validate_module._HOURS) <= 3 and len(validate_module._TAILS) <= 3


# Strings of the fast path's form with every field drawn over all of its digits
# (so mostly invalid ones: month 13, day 31 in February, hour 24, second 60, ...).
def digits(n):
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


common_form = st.builds(
    lambda y, mo, d, t, h, mi, s, frac, zone: f"{y}-{mo}-{d}{t}{h}:{mi}:{s}{frac}{zone}",
    st.one_of(digits(4), st.sampled_from(["1969", "1970", "2000", "2024", "2025", "2100", "9998", "9999"])),
    st.one_of(digits(2), st.sampled_from(["01", "02", "12"])),
    st.one_of(digits(2), st.sampled_from(["28", "29", "30", "31"])),
    st.sampled_from("Tt"),
    digits(2), digits(2), digits(2),
    st.one_of(st.just(""), st.integers(0, 7).flatmap(lambda n: digits(n).map(lambda f: "." + f))),
    st.one_of(st.sampled_from(["Z", "z"]),
              st.builds(lambda sign, hh, mm: f"{sign}{hh}:{mm}", st.sampled_from("+-"), digits(2), digits(2))),
)


@settings(max_examples=2000)
@given(common_form)
def test_fast_path_agrees_with_the_full_path_on_the_common_form(text):
    assert either_path(text) == full_path(text)


@given(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9998, 12, 31, 23, 59, 59)),
       st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-11:59"]), st.integers(min_value=0, max_value=6))
def test_fast_path_agrees_with_the_full_path_on_valid_timestamps(local, zone, digits_):
    fraction = f".{local.microsecond:06d}"[: digits_ + 1] if digits_ else ""
    text = f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"
    assert either_path(text) == full_path(text)


# --- decode_event in two steps --------------------------------------------------

@pytest.mark.parametrize("event_type", sorted(VALID))
def test_load_then_normalize_is_decode_event(event_type):
    raw = encode(event(event_type, body="hello", _topic="marketplace.orders"))
    loaded = load_event(raw)
    copy = json.loads(raw)
    assert loaded == copy
    assert normalize(loaded) == decode_event(raw)
    assert loaded == copy  # normalize does not change its input


@pytest.mark.parametrize(("raw", "code"), [
    (None, "not_json"), (b"{", "not_json"), (b"\xff", "not_utf8"), (b"[]", "not_object"),
    (b" " * (MAX_EVENT_BYTES + 1), "too_large"),
])
def test_load_event_raises_the_codes_of_decode_event(raw, code):
    with pytest.raises(InvalidEvent) as info:
        load_event(raw)
    assert info.value.code == code
    assert_invalid(raw, code)


@pytest.mark.parametrize("obj", [
    {**COMMON},  # no type
    {**COMMON, "type": 5},
    {**COMMON, "type": "order.shipped"},
    without(event("order.placed"), "ship_by"),
    event("order.placed", total="1.234"),
    event("order.placed", ship_by="2026-02-30T00:00:00Z"),
    event("review.posted", rating=4.0),
])
def test_normalize_raises_what_decode_event_raises(obj):
    with pytest.raises(InvalidEvent) as info:
        normalize(obj)
    with pytest.raises(InvalidEvent) as expected:
        decode_event(encode(obj))
    assert (info.value.code, info.value.reason) == (expected.value.code, expected.value.reason)


# --- decode_event's fast path (msgspec, schemas/fast.py) ----------------------------
#
# decode_event must give what the full path (_decode_slow: orjson, fastjsonschema,
# normalize) gives: the same dict (same keys, order, values and value types), or
# InvalidEvent with the same code and reason. The fast path may only fall back.

SCHEMAS = {event_type: json.loads((Path(validate_module.__file__).with_name(f"{event_type}.json")).read_text())
           for event_type in INPUT_TYPES}


def outcome(decode, raw):
    """What a decoder makes of raw: its dict as (key, type, value) items, or the InvalidEvent."""
    try:
        decoded = decode(raw)
    except InvalidEvent as error:
        return ("invalid", error.code, error.reason)
    return ("ok", [(key, type(value), value) for key, value in decoded.items()])


def assert_same_as_slow_path(raw):
    expected = outcome(_decode_slow, raw)
    assert outcome(decode_event, raw) == expected
    # decode_event_and_topic: the same event, and the _topic that orjson reads
    try:
        topic, decoded = decode_event_and_topic(raw)
    except InvalidEvent as error:
        assert ("invalid", error.code, error.reason) == expected
    else:
        assert ("ok", [(key, type(value), value) for key, value in decoded.items()]) == expected
        loaded = orjson.loads(raw)
        assert (type(topic), topic) == (type(loaded.get("_topic")), loaded.get("_topic"))
    return expected


class Raw(bytes):
    """A JSON token written as is (numbers orjson and json.dumps would not write, bad strings)."""


def encode_pairs(pairs, ensure_ascii=True, separators=(",", ":")) -> bytes:
    """A JSON object of (key, value) pairs in this order, repeated keys kept."""
    def token(value):
        if isinstance(value, Raw):
            return bytes(value)
        return json.dumps(value, ensure_ascii=ensure_ascii).encode()
    items = [token(key) + separators[1].encode() + token(value) for key, value in pairs]
    return b"{" + separators[0].encode().join(items) + b"}"


@contextlib.contextmanager
def full_path_forbidden():
    """Inside: decode_event fails if it falls back (so it took the fast path)."""
    def fail(*_):
        raise AssertionError("decode_event fell back to the full path")
    with mock.patch.object(validate_module, "load_event", fail), mock.patch.object(validate_module, "normalize", fail):
        yield


# The fast path is taken for valid events.

@pytest.mark.parametrize("event_type", sorted(VALID))
def test_fast_path_is_taken_for_a_typical_valid_event_of_every_type(event_type):
    raws = [
        encode(event(event_type)),
        encode(event(event_type, body="hi, is it still available?", items=3, _topic="marketplace.orders",
                     meta={"nested": [1, 2.5, None, True, {"type": "order.placed"}]}, text_length=120)),
        encode(without(event(event_type), "marketplace_id")),
    ]
    expected = [_decode_slow(raw) for raw in raws]
    with full_path_forbidden():
        assert [decode_event(raw) for raw in raws] == expected
        assert [decode_event_and_topic(raw)[1] for raw in raws] == expected
    assert decode_event_and_topic(raws[1])[0] == "marketplace.orders"
    assert decode_event_and_topic(raws[0])[0] is None


def test_fast_path_is_taken_for_optional_fields_null_absent_and_odd_but_valid_values():
    raws = [
        encode(event("message.sent", channel=None, marketplace_id=None)),
        encode(without(event("message.sent"), "channel")),
        encode(event("shipment.shipped", tracking_number=None, carrier="")),
        encode(event("shipment.shipped", tracking_number="", carrier=None)),
        encode(event("order.cancelled", cancelled_by=None)),
        encode(event("clock.heartbeat", occurred_at="9998-12-31T23:59:59.999999Z", event_id="\u00e9\U0001f600")),
        json.dumps(event("clock.heartbeat", seller_id="jos\u00e9 \u2028"), ensure_ascii=False).encode(),
        encode(event("clock.heartbeat", seller_id="\x00")),
        encode(event("review.posted", rating=1)),
        encode(event("refund.issued", amount="999999999999.99")),
        b' \t\r\n' + encode(event("clock.heartbeat")) + b' \t\r\n',
        encode(event("clock.heartbeat", type="clock.heartbeat")).replace(b'"type": "clock.heartbeat"',
                                                                        b'"t\\u0079pe": "clock\\u002eheartbeat"'),
    ]
    expected = [_decode_slow(raw) for raw in raws]
    with full_path_forbidden():
        assert [decode_event(raw) for raw in raws] == expected


# Byte-level cases where msgspec alone and orjson disagree, or might: each is
# decided as the full path decides.
HEAD = b'{"event_id":"e-1","type":"clock.heartbeat","seller_id":"s-42","occurred_at":"2026-03-01T00:00:00Z"'
EDGE_RAWS = [
    # unknown fields that msgspec skips without the checks orjson makes
    HEAD + b',"x":"\xff"}', HEAD + b',"\xff":1}', HEAD + b',"x":"\xed\xa0\x80"}', HEAD + b',"x":"\xc0\xaf"}',
    HEAD + b',"x":"\xf4\x90\x80\x80"}',  # above U+10FFFF
    HEAD + b',"x":1e400}', HEAD + b',"x":-1e400}', HEAD + b',"x":1E+0400}', HEAD + b',"x":1.8e308}',
    HEAD + b',"x":' + b"9" * 400 + b"}", HEAD + b',"x":[' + b"1" * 309 + b"]}", HEAD + b',"x":1e-400}',
    HEAD + b',"x":1.7976931348623157e308}', HEAD + b',"x":18446744073709551616}', HEAD + b',"x":-0}',
    HEAD + b',"x":' + b"[" * 1023 + b"]" * 1023 + b"}", HEAD + b',"x":' + b"[" * 1024 + b"]" * 1024 + b"}",
    HEAD + b',"x":' + b'{"a":' * 1100 + b"1" + b"}" * 1100 + b"}",
    HEAD + b',"x":"\\ud800"}', HEAD + b',"x":"\\udc00"}', HEAD + b',"x":"\\ud800\\u0041"}', HEAD + b',"\\ud800":1}',
    HEAD + b',"x":"\\ud83d\\ude00"}', HEAD + b',"x":"a\x01b"}', HEAD + b',"x":"\\x"}', HEAD + b',"x":01}',
    HEAD + b',"x":1.}', HEAD + b',"x":.5}', HEAD + b',"x":+1}', HEAD + b',"x":NaN}', HEAD + b',"x":Infinity}',
    HEAD + b',"x":tru}', HEAD + b',"x":[1,]}', HEAD + b',"x":{"a":1,}}', HEAD + b',}', HEAD + b',"x":{1:2}}',
    HEAD + b',"x":"\x7f"}', HEAD + b',"":0}',
    # known fields
    HEAD + b',"seller_id":"\xff"}', HEAD + b',"seller_id":"\\ud800"}', HEAD + b',"seller_id":"\\u0000"}',
    HEAD + b',"marketplace_id":"\xed\xa0\x80"}', HEAD + b',"seller_id":null}', HEAD + b',"seller_id":""}',
    HEAD + b',"marketplace_id":""}', HEAD + b',"marketplace_id":null}', HEAD + b',"marketplace_id":1e400}',
    # repeated keys: the last wins
    HEAD + b',"type":"clock.heartbeat"}', HEAD + b',"type":"review.removed","review_id":"r"}',
    HEAD + b',"type":"review.removed"}', HEAD + b',"type":5}', HEAD + b',"type":null}',
    HEAD + b',"seller_id":"s-2"}', HEAD + b',"seller_id":"s-2","seller_id":""}', HEAD + b',"s\\u0065ller_id":"s-3"}',
    HEAD + b',"occurred_at":"2026-02-30T00:00:00Z"}', HEAD + b',"occurred_at":"2026-03-01T00:00:01Z"}',
    HEAD + b',"_topic":"marketplace.orders","_topic":["x"]}', HEAD + b',"_topic":1e400}',
    # bad strings in known fields and in _topic
    HEAD + b',"seller_id":"\\ud800\\u0041"}', HEAD + b',"seller_id":"\\udc00"}', HEAD + b',"event_id":"\\ud800"}',
    HEAD + b',"_topic":"\\ud800"}', HEAD + b',"_topic":"\xff"}', HEAD + b',"_topic":"\xed\xa0\x80"}',
    HEAD + b',"_topic":null}', HEAD + b',"_topic":5}', HEAD + b',"_topic":"x","_topic":"marketplace.orders"}',
    HEAD + b',"_topic":"\\u006darketplace.orders"}', HEAD + b',"_topic":"a\x01b"}',
    b'{"type":"review.posted","rating":4.0,"event_id":"e","seller_id":"s","occurred_at":"2026-03-01T00:00:00Z",'
    b'"review_id":"r","order_id":"o","rating":5}',
    b'{"type":"review.posted","rating":5,"event_id":"e","seller_id":"s","occurred_at":"2026-03-01T00:00:00Z",'
    b'"review_id":"r","order_id":"o","rating":true}',
    # numbers for the int rating
    *(b'{"type":"review.posted","event_id":"e","seller_id":"s","occurred_at":"2026-03-01T00:00:00Z",'
      b'"review_id":"r","order_id":"o","rating":' + token + b"}"
      for token in (b"4.0", b"5e0", b"5E0", b"true", b"-0", b"0", b"6", b"5.0000000000000001", b"1e400",
                    b"18446744073709551621", b"-9223372036854775809", b'"5"', b"null", b"[5]", b"05", b"5 ")),
    # the document
    b"\xef\xbb\xbf" + HEAD + b"}", HEAD + b"}\x0c", HEAD + b"}\x0b", HEAD + b"}\xc2\xa0", HEAD + b"}\x00",
    HEAD + b"}{}", HEAD + b"}]", b"[" + HEAD + b"}]", HEAD + b"", b" " + HEAD + b"}\n\r\t ",
    ('{"event_id":"e-1","type":"clock.heartbeat","seller_id":"s","occurred_at":"2026-03-01T00:00:00Z"}'
     .encode("utf-16")),
    HEAD + b',"pad":"' + b"x" * (MAX_EVENT_BYTES - len(HEAD) - 10) + b'"}',
    HEAD + b',"pad":"' + b"x" * (MAX_EVENT_BYTES - len(HEAD) - 9) + b'"}',
    None, b"", b"null", b"{}",
]


@pytest.mark.parametrize("raw", EDGE_RAWS)
def test_fast_path_agrees_with_the_full_path_on_edge_bytes(raw):
    assert_same_as_slow_path(raw)


def test_fast_path_agrees_on_every_field_removed_nulled_or_set_to_a_near_miss():
    wrong_types = [[], {}, 0, 1.5, True, "x", {"type": "clock.heartbeat"}]
    for event_type in INPUT_TYPES:
        base = event(event_type, type=event_type)
        for name in SCHEMAS[event_type]["properties"]:
            variants = [without(base, name), {**base, name: None}]
            variants += [{**base, name: value} for value in edge_values(event_type, name) + wrong_types]
            for variant in variants:
                for obj in (variant, {"body": "x", **dict(reversed(list(variant.items()))), "_topic": 5}):
                    assert_same_as_slow_path(encode(obj))


def test_fast_path_falls_back_where_msgspec_alone_would_accept_more():
    # msgspec skips these unknown values unchecked; orjson (and so the full path) rejects them.
    # Its nesting limit is Python's recursion limit, which a program may raise.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        for raw in (HEAD + b',"x":"\xff"}', HEAD + b',"x":1e400}', HEAD + b',"x":' + b"9" * 400 + b"}",
                    HEAD + b',"x":' + b"[" * 1024 + b"]" * 1024 + b"}"):
            assert validate_module._FAST_DECODE(raw) is not None  # msgspec alone takes it
            assert outcome(decode_event, raw)[:2] == ("invalid", "not_json" if b"\xff" not in raw else "not_utf8")
    finally:
        sys.setrecursionlimit(limit)


def test_non_bytes_and_too_large_values_take_the_full_path():
    raw = encode(event("clock.heartbeat"))
    for value in (bytearray(raw), memoryview(raw), raw.decode()):
        assert decode_event(value) == _decode_slow(value)
    assert_invalid(raw[:-1] + b',"pad":"' + b"x" * MAX_EVENT_BYTES + b'"}', "too_large")


# Property: generated events, valid ones built field by field, and mutated ones.

def valid_value(event_type, name):
    """A strategy of valid values of one contract field (never absent)."""
    prop = SCHEMAS[event_type]["properties"][name]
    types = prop.get("type", ())
    types = [types] if isinstance(types, str) else types
    if name in ("occurred_at", "ship_by"):
        return st.one_of(st.sampled_from(FAST_VALID), valid_timestamps)
    if name in ("total", "amount"):
        return st.from_regex(r"[0-9]{1,12}(\.[0-9]{1,2})?", fullmatch=True)
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    if "boolean" in types:
        return st.booleans()
    if "integer" in types:
        return st.integers(prop["minimum"], prop["maximum"])
    strings = st.text(min_size=prop.get("minLength", 0), max_size=12) | st.sampled_from(["s-42", "o-1", "\u00e9"])
    return st.one_of(strings, st.none()) if "null" in types else strings


valid_timestamps = st.builds(
    lambda local, zone, digits_, sep: f"{local:%Y-%m-%d}{sep}{local:%H:%M:%S}"
                                      f"{f'.{local.microsecond:06d}'[: digits_ + 1] if digits_ else ''}{zone}",
    st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9998, 12, 30)),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-11:59", "+23:59"]),
    st.integers(0, 6), st.sampled_from("Tt"),
)
edge_strings = st.sampled_from(
    ["", " ", "\t", "\n", "\x00", "\ufeff", "\u00e9", "\U0001f600", "null", "true", "0", "-0", "1e400",
     "marketplace", "buyer", "Buyer", "buyer ", "seller", "platform", "no_refund", "refunded_by_seller",
     "marketplace.orders", "_topic", "12.5", "12.50", "1.234", "-1", "1e3", " 1", "12.5\n",
     "\u0661\u0662", *BAD_TIMESTAMPS, *FAST_INVALID[:20], "2026-03-01T00:00:00Z", "2026-03-01T00:00:00.5+01:00"]
)


def edge_values(event_type, name) -> list:
    """Near misses (and some hits) for one field."""
    if name in ("occurred_at", "ship_by"):
        return [*BAD_TIMESTAMPS, *FAST_INVALID, *FAST_VALID]
    if name in ("total", "amount"):
        return [*BAD_MONEY, "0", "0.5", "12.50", "999999999999.99"]
    if name == "rating":
        return [0, 1, 5, 6, -1, 4.0, 4.5, True, False, "4", 10 ** 30, -(10 ** 30)]
    if name == "type":
        return [*INPUT_TYPES, "", "order.shipped", "Clock.Heartbeat", "clock.heartbeat ", 5, None, [event_type]]
    prop = SCHEMAS[event_type]["properties"].get(name, {})
    if "enum" in prop:
        values = [value for value in prop["enum"] if value is not None]
        return [variant for value in values for variant in (value, value.upper(), value + " ", value[:-1])] + [""]
    if prop.get("type") == "boolean":
        return [True, False, 0, 1, "true", "false", None, []]
    return ["", " ", "\x00", "\ufeff", "0", None, 0, False, [], {}]


def edge_value(event_type, name):
    return st.sampled_from(edge_values(event_type, name))


raw_tokens = st.sampled_from([
    Raw(b"1e400"), Raw(b"-1e400"), Raw(b"1E+0400"), Raw(b"9" * 400), Raw(b"18446744073709551616"),
    Raw(b"-9223372036854775809"), Raw(b"-0"), Raw(b"-0.0"), Raw(b"4.0"), Raw(b"5e0"), Raw(b"1e-400"),
    Raw(b'"\\ud800"'), Raw(b'"\\udc00"'), Raw(b'"\\ud83d\\ude00"'), Raw(b'"\xff"'), Raw(b'"\xed\xa0\x80"'),
    Raw(b'"\xc3\xa9"'), Raw(b'"a\x01b"'), Raw(b'"\\u0000"'), Raw(b'"\\u0062uyer"'), Raw(b'"\\/"'),
    Raw(b"[" * 1030 + b"]" * 1030), Raw(b"[[[[]]]]"), Raw(b'{"type":"order.placed","rating":1e400}'),
])
any_values = st.one_of(json_values, edge_strings, raw_tokens, st.sampled_from(INPUT_TYPES))
extra_names = st.one_of(st.text(max_size=6), st.sampled_from(["_topic", "body", "items", "Type", "type ", "rating"]))


def escape_one_char(key: str, index: int) -> Raw:
    """The key as a JSON string with one character written as a \\u escape."""
    if not key:
        return Raw(b'""')
    index %= len(key)
    head, char, tail = key[:index], key[index], key[index + 1:]
    code = ord(char)
    units = (code,) if code < 0x10000 else (0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF))
    escaped = "".join(f"\\u{unit:04x}" for unit in units)
    return Raw(json.dumps(head)[:-1].encode() + escaped.encode() + json.dumps(tail)[1:].encode())


@st.composite
def generated_events(draw):
    event_type = draw(st.sampled_from(INPUT_TYPES))
    schema = SCHEMAS[event_type]
    pairs = []
    for name in draw(st.permutations(list(schema["properties"]))):  # any key order
        if name == "type":
            pairs.append((name, event_type))
        elif name in schema["required"] or draw(st.booleans()):
            pairs.append((name, draw(valid_value(event_type, name))))
    if draw(st.integers(0, 2)) == 0:  # one contract field (or "type") to a near miss, nothing else
        index = draw(st.integers(0, len(pairs) - 1))
        key = pairs[index][0]
        pairs[index] = (key, draw(edge_value(event_type, key)))
        return encode_pairs(pairs)
    # mutations, each with its own probability
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["remove", "null", "wrong", "edge", "edge", "edge", "raw", "extra", "extra",
                                     "duplicate", "duplicate", "escape_key", "type"]))
        if not pairs and kind not in ("extra", "type"):
            continue
        index = draw(st.integers(0, max(len(pairs) - 1, 0)))
        if kind == "remove":
            del pairs[index]
        elif kind == "null":
            pairs[index] = (pairs[index][0], None)
        elif kind == "wrong":
            pairs[index] = (pairs[index][0], draw(json_values))
        elif kind == "edge":
            key = pairs[index][0]
            pairs[index] = (key, draw(edge_value(event_type, key) | edge_strings))
        elif kind == "raw":
            pairs[index] = (pairs[index][0], draw(raw_tokens))
        elif kind == "extra":
            pairs.insert(index, (draw(extra_names), draw(any_values)))
        elif kind == "duplicate":  # the same key again, before or after, with another value
            key = pairs[index][0]
            value = draw(st.one_of(valid_value(event_type, key) if key in schema["properties"] and key != "type"
                                   else st.sampled_from(INPUT_TYPES), any_values))
            pairs.insert(draw(st.integers(0, len(pairs))), (key, value))
        elif kind == "escape_key" and not isinstance(pairs[index][0], Raw):
            key, value = pairs[index]
            pairs[index] = (escape_one_char(key, draw(st.integers(0, 20))), value)
        elif kind == "type":
            pairs.append(("type", draw(st.one_of(st.sampled_from(INPUT_TYPES), any_values))))
    raw = encode_pairs(pairs, ensure_ascii=draw(st.booleans()),
                       separators=draw(st.sampled_from([(",", ":"), (", ", ": "), ("\n,\t", " :\r\n")])))
    document = draw(st.integers(0, 39))  # mostly as is
    return {0: b" " + raw + b"\n\t\r", 1: b"\xef\xbb\xbf" + raw, 2: raw + b"x", 3: raw[:-1]}.get(document, raw)


@settings(max_examples=1500, deadline=None)
@given(generated_events())
def test_fast_path_agrees_with_the_full_path_on_generated_events(raw):
    assert_same_as_slow_path(raw)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(INPUT_TYPES).flatmap(
    lambda event_type: st.fixed_dictionaries(
        {name: valid_value(event_type, name) for name in SCHEMAS[event_type]["properties"] if name != "type"},
    ).map(lambda fields: {**fields, "type": event_type})),
    st.dictionaries(st.text(max_size=8).filter(lambda name: name not in ("type", "_topic")), json_values, max_size=3))
def test_fast_path_is_taken_for_generated_valid_events(fields, extra):
    raw = encode({**extra, **fields})
    expected = outcome(_decode_slow, raw)
    if expected[0] == "ok":  # valid field by field, yet a timestamp may be out of the UTC range
        with full_path_forbidden():
            assert outcome(decode_event, raw) == expected
    else:
        assert expected[1] == "bad_timestamp"
        assert outcome(decode_event, raw) == expected


# --- what the fast path relies on ------------------------------------------------

@settings(max_examples=1000)
@given(st.one_of(common_form, st.text(max_size=30), edge_strings))
def test_a_timestamp_parse_timestamp_accepts_matches_the_schema_pattern(text):
    assert SCHEMAS["clock.heartbeat"]["properties"]["occurred_at"]["pattern"] == fast_module.TIMESTAMP_PATTERN
    assert SCHEMAS["order.placed"]["properties"]["ship_by"]["pattern"] == fast_module.TIMESTAMP_PATTERN
    try:
        parse_timestamp(text)
    except ValueError:
        return
    assert re.search(fast_module.TIMESTAMP_PATTERN, text)


money_like = st.text(alphabet="0123456789.+-e \n\u0661", max_size=16)


@settings(max_examples=1000)
@given(st.one_of(money_like, st.from_regex(r"[0-9]{1,13}(\.[0-9]{0,3})?", fullmatch=True), edge_strings))
def test_parse_cents_agrees_with_the_money_regex_and_the_schema_pattern(text):
    assert SCHEMAS["order.placed"]["properties"]["total"]["pattern"] == fast_module.MONEY_PATTERN
    assert SCHEMAS["refund.issued"]["properties"]["amount"]["pattern"] == fast_module.MONEY_PATTERN
    match = re.fullmatch(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?", text)
    if match is None:
        with pytest.raises(ValueError, match="not a decimal string"):
            parse_cents(text)
        return
    assert parse_cents(text) == int(Decimal(text) * 100)
    assert re.search(fast_module.MONEY_PATTERN, text)


@pytest.mark.parametrize(("name", "prop"), [
    ("occurred_at", {"type": "string", "format": "date-time"}),
    ("thread_id", {"type": "string", "minLength": 2}),
    ("thread_id", {"type": "string", "pattern": "^t-"}),
    ("thread_id", {"type": "string", "maxLength": 5}),
    ("thread_id", {"type": ["string", "integer"]}),
    ("thread_id", {"type": "number"}),
    ("thread_id", {"type": "string", "enum": ["a", None]}),
    ("thread_id", {"type": "integer", "minimum": 1}),
    ("thread_id", {"type": "string", "minimum": 1}),
    ("thread_id", {"const": "t-1"}),
])
def test_fast_path_refuses_schema_rules_it_cannot_express(name, prop):
    schema = json.loads(json.dumps(SCHEMAS["thread.spam_marked"]))
    schema["properties"][name] = prop
    with pytest.raises(ValueError, match=rf"^thread\.spam_marked\.{name}: .* no fast-path rule"):
        _compile_fast(schema)


@pytest.mark.parametrize("change", [
    {"required": [*SCHEMAS["thread.spam_marked"]["required"], "reason"]},  # required, in no property
    {"additionalProperties": False},
    {"minProperties": 6},
    {"properties": {**SCHEMAS["thread.spam_marked"]["properties"], "class": {"type": "string"}}},
    {"properties": {**SCHEMAS["thread.spam_marked"]["properties"], "_topic": {"type": "string"}}},
])
def test_fast_path_refuses_schema_shapes_it_cannot_express(change):
    schema = {**json.loads(json.dumps(SCHEMAS["thread.spam_marked"])), **change}
    with pytest.raises(ValueError, match=r"^thread\.spam_marked(\.class|\._topic)?: .*no fast-path rule"):
        _compile_fast(schema)


def _compile_fast(schema: dict):
    """compile_fast_decoder as the validator calls it, for thread.spam_marked
    given this schema. The contract's own compiles (each refusal above comes
    from the change made to it, not from an argument the validator does not pass)."""
    plans = {"thread.spam_marked": validate_module._PLANS["thread.spam_marked"]}
    fast_module.compile_fast_decoder({"thread.spam_marked": SCHEMAS["thread.spam_marked"]}, plans,
                                     validate_module._FAST_CONVERTERS)
    return fast_module.compile_fast_decoder({"thread.spam_marked": schema}, plans, validate_module._FAST_CONVERTERS)
