"""The policy as data: every number of SPEC section 1, loaded from TOML.

A policy file only needs the keys it changes; the rest keep the defaults of
`service-standards`. Unknown or ill-typed keys are refused with their path.
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .calendar import DAY, HOUR, Calendar
from .memo import Memo

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _cents(value: Decimal) -> int:
    cents = value * 100
    if cents != cents.to_integral_value() or cents < 0:
        raise ValueError("must be a non-negative amount with at most 2 decimals")
    return int(cents)


def _money(value: Decimal) -> Decimal:
    _cents(value)
    return value


Money = Annotated[Decimal, AfterValidator(_money)]


def _plain(value: Decimal) -> Decimal:
    # Shown in scorecards and violations as written: "8E+1" is 80.
    return Decimal(format(value, "f"))


Percent = Annotated[Decimal, Field(ge=0, le=100), AfterValidator(_plain)]
# Whole numbers only as TOML integers: lax conversion read `true` as 1 and
# "48" or 48.0 as 48. Durations are bounded at ten years: the calendar's
# arithmetic overflows past the year 9999.
Count = Annotated[int, Field(strict=True, ge=0)]
MAX_HOURS = 10 * 366 * 24
Hours = Annotated[int, Field(strict=True, ge=0, le=MAX_HOURS)]
PositiveHours = Annotated[int, Field(strict=True, gt=0, le=MAX_HOURS)]


def _zone_name(value: str) -> str:
    if value == "localtime":  # the host's own zone: workers on different machines would disagree
        raise ValueError("must name a zone, not the host's localtime")
    if value != "UTC":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a directory such as "America"
            raise ValueError("must be UTC or an IANA time zone name such as America/Sao_Paulo") from exc
    return value


ZoneName = Annotated[str, AfterValidator(_zone_name)]


class MessageResponse(_Section):
    window_hours: PositiveHours = 48
    min_percent: Percent = Decimal(80)


class OnTimeShipping(_Section):
    min_percent: Percent = Decimal(80)


class ReviewRating(_Section):
    low_rating_at_most: int = Field(3, strict=True, ge=1, le=5)
    percent_regime_from_reviews: Count = 40
    max_low_reviews: Count = 4
    max_low_percent: Percent = Decimal(10)


class CaseRate(_Section):
    percent_regime_from_orders: Count = 300
    max_cases: Count = 3
    max_case_percent: Percent = Decimal(1)
    max_order_total: Money = Decimal("250.00")


class StarSeller(_Section):
    response_window_hours: PositiveHours = 24
    min_response_percent: Percent = Decimal(95)
    min_shipping_percent: Percent = Decimal(95)
    min_average_rating: Decimal = Field(Decimal("4.8"), ge=0, le=5)
    min_orders: Count = 5
    min_sales: Money = Decimal("300.00")
    # Days of 24 hours before the first instant of the evaluated month (also
    # in a policy time zone with daylight saving time).
    min_tenure_days: int = Field(90, strict=True, ge=0, le=MAX_HOURS // 24)


class Alerts(_Section):
    # At least an hour: the lead is the time before a deadline in which an
    # unanswered thread is warned about (0 would warn at none).
    response_lead_hours: PositiveHours = 4
    ship_day_alert_hour: int = Field(0, strict=True, ge=0, le=23)


class Policy(_Section):
    name: str = Field("service-standards", min_length=1)
    # The zone of every day and month: attribution days, periods, evaluation
    # instants, ship-by days of alerts, days of daily progress.
    time_zone: ZoneName = "UTC"
    min_sales_for_data: Count = 5
    allowed_lateness_hours: Hours = 7 * 24
    evaluation_delay_hours: Hours = 24
    message_response: MessageResponse = MessageResponse()
    on_time_shipping: OnTimeShipping = OnTimeShipping()
    review_rating: ReviewRating = ReviewRating()
    case_rate: CaseRate = CaseRate()
    star_seller: StarSeller = StarSeller()
    alerts: Alerts = Alerts()

    # Derived, integer forms used on the hot path, computed once (the model is frozen).
    @cached_property
    def calendar(self) -> Calendar:
        return Calendar(self.time_zone)

    @cached_property
    def evaluation_delay(self) -> int:
        return self.evaluation_delay_hours * HOUR

    def evaluation_instant(self, month: int) -> int:
        """E of SPEC 3: the instant the evaluation of `month` is made as of."""
        return self.calendar.month_start(month) + self.evaluation_delay

    @cached_property
    def allowed_lateness(self) -> int:
        return self.allowed_lateness_hours * HOUR

    @cached_property
    def windows(self) -> tuple[int, int]:
        """(standard window, Star Seller window) in microseconds."""
        return (self.message_response.window_hours * HOUR,
                self.star_seller.response_window_hours * HOUR)

    @cached_property
    def max_order_total_cents(self) -> int:
        return _cents(self.case_rate.max_order_total)

    @cached_property
    def min_sales_cents(self) -> int:
        return _cents(self.star_seller.min_sales)

    @cached_property
    def min_tenure(self) -> int:
        return self.star_seller.min_tenure_days * DAY

    @cached_property
    def fingerprint(self) -> str:
        """The same for the same numbers (not for the same file): state
        written under another policy has its live numbers judged again."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @cached_property
    def memo(self) -> Memo:
        """Judgements of numbers under this policy, by the numbers they read
        (standards.judge): sellers with the same numbers share them."""
        return Memo()


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the key."""


def load_policy(path: str | Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))  # with or without a byte order mark
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy file {path}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"policy file {path}: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise PolicyError(f"policy file {path}: {problems}") from exc


def _problem(error: dict) -> str:
    """One validation error: the dotted key and what is wrong; for an
    unknown key, the keys its table has."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] != "extra_forbidden":
        return f"{key}: {error['msg']}, got {json.dumps(error['input'], default=str)}"
    model: type[BaseModel] = Policy
    for part in error["loc"][:-1]:
        model = model.model_fields[part].annotation
    where = "the top level" if model is Policy else f"[{error['loc'][-2]}]"
    return f"{key}: unknown key; {where} has {', '.join(model.model_fields)}"

