"""Subscriptions: a customer's items (plan version + quantity), each on its own billing cycle.

Contract shared by the subscription services, the billing run and the invoice worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SUBSCRIPTION_ID_PREFIX = "sub_"
SubscriptionStatus = Literal["trialing", "active", "past_due", "paused", "canceled"]
CollectionMethod = Literal["charge_automatically", "send_invoice"]


class SubscriptionItem(BaseModel):
    """One plan (pinned to a version) at a quantity, with its own current period."""

    model_config = ConfigDict(frozen=True)

    id: str
    """``si_`` + 16 hex."""
    plan_code: str
    plan_version: int
    quantity: int = 1
    current_period_start: datetime
    """Aware UTC; periods are half-open [start, end) and cut in the customer's time zone."""
    current_period_end: datetime
    fixed_fee_paid_through: datetime | None = None
    """For fees paid in advance: the end of the last period whose fee was invoiced."""
    ended_at: datetime | None = None
    """Set when the item stopped (canceled): it is kept for the record and billed no more."""


class Discount(BaseModel):
    """A coupon applied to a subscription, with how many periods it has been used."""

    model_config = ConfigDict(frozen=True)

    coupon_code: str
    periods_applied: int = 0
    carry_over: int = 0
    """Unused ``amount_off`` carried to the next invoice (minor units)."""


class PendingChange(BaseModel):
    """A change scheduled for the end of the current period."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["change_plan", "change_quantity", "cancel"]
    item_id: str | None = None
    plan_code: str | None = None
    quantity: int | None = None
    effective_at: datetime
    plan_version: int | None = None
    """The plan version agreed when the change was scheduled (``change_plan``)."""


class PendingProration(BaseModel):
    """A proration waiting for the subscription's next invoice (``proration_behavior`` default)."""

    model_config = ConfigDict(frozen=True)

    id: str
    item_id: str
    plan_code: str
    plan_version: int
    kind: Literal["charge", "credit"]
    reason: str
    description: str
    plan_name: str | None = None
    """The plan as named when the change was made (documents word the line from it)."""
    label: Literal["used", "unused", "remaining"] | None = None
    """Used time on the old plan (charged), unused time on it (credited), remaining time on the new one."""
    quantity: int
    amount_exact: str
    """Decimal string, minor units, unrounded; negative for a credit."""
    days: int
    days_in_period: int
    period_start: datetime
    """The part of the period the line covers: [period_start, period_end)."""
    period_end: datetime
    created_at: datetime


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    customer_id: str
    status: SubscriptionStatus
    currency: str
    time_zone: str
    """Copied from the customer at creation: periods never shift if the customer moves."""
    items: list[SubscriptionItem]
    billing_anchor: datetime
    """The instant periods are measured from (anniversary billing); day-of-month clamps to month end."""
    calendar_billing: bool = False
    start_date: datetime
    trial_end: datetime | None = None
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = None
    discounts: list[Discount] = Field(default_factory=list)
    pending_changes: list[PendingChange] = Field(default_factory=list)
    pending_prorations: list[PendingProration] = Field(default_factory=list)
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    paused_at: datetime | None = None
    next_billing_at: datetime | None = None
    """min over items of what is due next; None once canceled and fully invoiced. Indexed (sharded gsi2)."""
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    version: int = 1
    """Optimistic lock: every write is conditional on it."""


class SubscriptionChange(BaseModel):
    """Audit entry: every change is recorded with who did it and when."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    at: datetime
    actor: str
    """API key id, or ``system`` for the billing run."""
    action: str
    details: dict[str, object] = Field(default_factory=dict)
