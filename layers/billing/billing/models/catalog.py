"""The catalog: billable metrics, plans (versioned), coupons and tax rates.

Domain models shared by services and repositories; the API maps them to its own
response models. Values are validated and normalized by the catalog services (``billing.services.metrics``, ``plans``, ``coupons``, ``tax_rates``).
Money is ``int`` minor units; rates and percentages are ``Decimal`` (decimal
strings in the API and in DynamoDB), never float.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Aggregation = Literal["count", "sum", "max", "unique_count", "latest", "weighted_sum"]
Interval = Literal["day", "week", "month", "year"]
CouponDuration = Literal["once", "repeating", "forever"]
TaxRateOrigin = Literal["default", "custom"]


class Metric(BaseModel):
    """What to count: an aggregation over one property of the usage events that pass the filters."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    description: str | None = None
    aggregation: Aggregation
    field: str | None = None
    """The event property read; required except for ``count`` (refused for it)."""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    """Property -> accepted values (as text); an event counts only if every filter matches."""
    group_by: str | None = None
    """A property whose every value is priced on its own."""
    used_by_plans: list[str] = Field(default_factory=list)
    """Codes of the plans whose current version charges this metric (sorted)."""
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    version: int = 1
    """Optimistic-locking version."""

    @property
    def in_use(self) -> bool:
        return bool(self.used_by_plans)

    def aggregation_definition(self) -> dict[str, object]:
        """The definition ``billing.metering`` aggregates with."""
        out: dict[str, object] = {"aggregation": self.aggregation, "filters": self.filters}
        if self.field is not None:
            out["field"] = self.field
        return out


class PlanCharge(BaseModel):
    """A usage charge: a metric priced by a charge model of ``billing.rating``."""

    model_config = ConfigDict(frozen=True)

    metric: str
    definition: dict[str, Any]
    """The normalized charge (``billing.rating.validate_charge`` output, with ``model``): pass it to
    ``billing.rating.rate``."""

    @property
    def model(self) -> str:
        return str(self.definition["model"])


class Plan(BaseModel):
    """One version of a plan, with the plan-level state (current version, archived, use)."""

    model_config = ConfigDict(frozen=True)

    code: str
    version: int
    """This definition's version number (1, 2, ...). Subscriptions pin a version."""
    current_version: int
    """The version new subscriptions get."""
    name: str
    description: str | None = None
    interval: Interval
    interval_count: int = 1
    currency: str
    amount: int = 0
    """Fixed fee per period, minor units."""
    pay_in_advance: bool = False
    trial_days: int = 0
    minimum_commitment: int | None = None
    """Minimum billed per period (minor units): a shortfall line tops the invoice up to it."""
    charges: list[PlanCharge] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    archived: bool = False
    subscriptions_count: int = 0
    """Subscriptions on any version of this plan; maintained by subscriptions."""
    version_created_at: datetime
    created_at: datetime
    updated_at: datetime
    revision: int = 1
    """Optimistic-locking counter of the plan (head) item."""

    @property
    def is_current(self) -> bool:
        return self.version == self.current_version

    @property
    def in_use(self) -> bool:
        return self.subscriptions_count > 0

    @property
    def metric_codes(self) -> frozenset[str]:
        return frozenset(c.metric for c in self.charges)


class CouponAppliesTo(BaseModel):
    model_config = ConfigDict(frozen=True)

    plans: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)


class Coupon(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str | None = None
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    duration: CouponDuration
    duration_in_periods: int | None = None
    applies_to: CouponAppliesTo | None = None
    max_redemptions: int | None = None
    redeem_by: datetime | None = None
    times_redeemed: int = 0
    """Maintained by subscriptions when a coupon is applied."""
    metadata: dict[str, str] = Field(default_factory=dict)
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def redeemable(self, at: datetime) -> bool:
        if self.archived:
            return False
        if self.redeem_by is not None and at >= self.redeem_by:
            return False
        return self.max_redemptions is None or self.times_redeemed < self.max_redemptions

    def definition(self) -> dict[str, object]:
        """The shape ``billing.discounts.parse_coupon`` takes."""
        out: dict[str, object] = {"id": self.code, "duration": self.duration}
        if self.percent_off is not None:
            out["percent_off"] = str(self.percent_off)
        if self.amount_off is not None:
            out["amount_off"] = self.amount_off
            out["currency"] = self.currency
        if self.duration_in_periods is not None:
            out["duration_in_periods"] = self.duration_in_periods
        if self.applies_to is not None:
            out["applies_to"] = {
                "plans": list(self.applies_to.plans),
                "metrics": list(self.applies_to.metrics),
            }
        return out


class TaxRate(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """Lowercase words joined by underscores (``eu_de_vat_standard``); the shipped defaults keep theirs."""
    display_name: str
    description: str | None = None
    percentage: Decimal
    country: str
    """ISO 3166-1 alpha-2 (``EU`` for the EU reverse-charge rate)."""
    state: str | None = None
    """ISO 3166-2 subdivision suffix (``ON`` for CA-ON), or None for a national rate."""
    inclusive: bool = False
    """Prices already include this tax."""
    active: bool = True
    legal_mention: str | None = None
    replaces_national: bool = False
    effective_from: date | None = None
    origin: TaxRateOrigin = "custom"
    """``default``: seeded from ``billing.tax``'s shipped table (and still as shipped unless ``version`` > 1)."""
    created_at: datetime
    updated_at: datetime
    version: int = 1
