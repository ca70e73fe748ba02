"""The policy as data: every number of SPEC section 1, loaded from TOML.

A policy file only needs the keys it changes; the rest keep the defaults of
`service-standards`. Unknown or ill-typed keys are refused with their path.
"""
from __future__ import annotations

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


def _zone_name(value: str) -> str:
    if value != "UTC":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a directory such as "America"
            raise ValueError("must be UTC or an IANA time zone name such as America/Sao_Paulo") from exc
    return value


ZoneName = Annotated[str, AfterValidator(_zone_name)]


class MessageResponse(_Section):
    window_hours: int = Field(48, gt=0)
    min_percent: Decimal = Field(Decimal(80), ge=0, le=100)


class OnTimeShipping(_Section):
    min_percent: Decimal = Field(Decimal(80), ge=0, le=100)


class ReviewRating(_Section):
    low_rating_at_most: int = Field(3, ge=1, le=5)
    percent_regime_from_reviews: int = Field(40, ge=0)
    max_low_reviews: int = Field(4, ge=0)
    max_low_percent: Decimal = Field(Decimal(10), ge=0, le=100)


class CaseRate(_Section):
    percent_regime_from_orders: int = Field(300, ge=0)
    max_cases: int = Field(3, ge=0)
    max_case_percent: Decimal = Field(Decimal(1), ge=0, le=100)
    max_order_total: Money = Decimal("250.00")


class StarSeller(_Section):
    response_window_hours: int = Field(24, gt=0)
    min_response_percent: Decimal = Field(Decimal(95), ge=0, le=100)
    min_shipping_percent: Decimal = Field(Decimal(95), ge=0, le=100)
    min_average_rating: Decimal = Field(Decimal("4.8"), ge=0, le=5)
    min_orders: int = Field(5, ge=0)
    min_sales: Money = Decimal("300.00")
    min_tenure_days: int = Field(90, ge=0)


class Alerts(_Section):
    response_lead_hours: int = Field(4, ge=0)
    ship_day_alert_hour: int = Field(0, ge=0, le=23)


class Policy(_Section):
    name: str = "service-standards"
    # The zone of every day and month: attribution days, periods, evaluation
    # instants, ship-by days of alerts, days of daily progress.
    time_zone: ZoneName = "UTC"
    min_sales_for_data: int = Field(5, ge=0)
    allowed_lateness_hours: int = Field(7 * 24, ge=0)
    evaluation_delay_hours: int = Field(24, ge=0)
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
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"policy file {path}: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"policy file {path}: {problems}") from exc

