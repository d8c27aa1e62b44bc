"""Invoices, their lines and credit notes. Every amount is an int in minor units.

Contract shared by the invoice worker (drafts), the lifecycle services (finalize,
void, pay), documents and delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

INVOICE_ID_PREFIX = "in_"
CREDIT_NOTE_ID_PREFIX = "cn_"
InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]
OutOfBandMethod = Literal["bank_transfer", "cheque", "cash", "other"]
LineKind = Literal["fixed_fee", "usage", "minimum", "proration", "credit", "one_off"]


class LineTax(BaseModel):
    model_config = ConfigDict(frozen=True)

    rate_id: str
    percentage: str
    """Decimal string."""
    amount: int
    inclusive: bool = False
    legal_mention: str | None = None


class InvoiceLine(BaseModel):
    """One line, explainable on its own: quantity × unit price (or the breakdown) = amount."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: LineKind
    description: str
    quantity: str
    """Decimal string."""
    unit_amount_decimal: str | None = None
    """Decimal string, minor units, when the line has a single unit price."""
    amount: int
    """Rounded once (half-up) from ``amount_exact``."""
    amount_exact: str
    """Decimal string, minor units, before rounding."""
    discount: int = 0
    taxes: list[LineTax] = Field(default_factory=list)
    tax_rate_ids: list[str] = Field(default_factory=list)
    tax_inclusive: bool = False
    period_start: datetime | None = None
    period_end: datetime | None = None
    subscription_id: str | None = None
    subscription_item_id: str | None = None
    plan_code: str | None = None
    plan_version: int | None = None
    metric_code: str | None = None
    group: str | None = None
    """The group value when the charge groups by a property."""
    breakdown: list[dict[str, Any]] = Field(default_factory=list)
    """How the amount was reached: tiers, proration days, events; each entry has an ``explanation``."""


class TaxTotal(BaseModel):
    model_config = ConfigDict(frozen=True)

    rate_id: str
    display_name: str
    percentage: str
    inclusive: bool
    taxable_amount: int
    amount: int
    legal_mention: str | None = None


class CouponTotal(BaseModel):
    model_config = ConfigDict(frozen=True)

    coupon_code: str
    amount: int


class PeriodKey(BaseModel):
    """The natural key that makes an invoice exist at most once: (subscription item, period start)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    item_id: str
    period_start: datetime


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    customer_id: str
    number: str | None = None
    """Assigned at finalization from a gapless counter: ``{invoice_prefix}-{seq:04d}``."""
    status: InvoiceStatus = "draft"
    origin: Literal["subscription", "one_off"] = "subscription"
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    currency: str
    billing_date: datetime
    """The period end (or the one-off's date) the invoice was cut for."""
    period_start: datetime | None = None
    period_end: datetime | None = None
    subscription_ids: list[str] = Field(default_factory=list)
    period_keys: list[PeriodKey] = Field(default_factory=list)
    lines: list[InvoiceLine]
    subtotal: int
    discount: int = 0
    coupons: list[CouponTotal] = Field(default_factory=list)
    taxes: list[TaxTotal] = Field(default_factory=list)
    tax: int = 0
    """Exclusive tax added to the total."""
    total: int
    credit_applied: int = 0
    credit_created: int = 0
    amount_due: int
    amount_paid: int = 0
    amount_remaining: int
    days_until_due: int | None = None
    due_date: datetime | None = None
    finalize_after: datetime | None = None
    """Grace period end: a cycle draft finalizes on its own after this instant."""
    hold_reasons: list[dict[str, str]] = Field(default_factory=list)
    """Pre-send checks that failed: ``{code, message}``; the invoice stays draft until fixed."""
    legal_mentions: list[str] = Field(default_factory=list)
    hosted_token: str | None = None
    document_key: str | None = None
    """Where the issued HTML is stored (documents bucket), once the notifier stored it."""
    pdf_key: str | None = None
    """Where the issued PDF is stored, once the notifier stored it."""
    billing_run_id: str | None = None
    customer_snapshot: dict[str, Any] = Field(default_factory=dict)
    """Name, emails, address, tax ids, locale at finalization: the document never changes afterwards."""
    seller_snapshot: dict[str, Any] = Field(default_factory=dict)
    """The seller (``billing.models.account``) at finalization; empty on invoices issued before it
    was recorded (documents then print the current seller)."""
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    marked_uncollectible_at: datetime | None = None
    paid_out_of_band: bool = False
    """Paid outside the payment provider (bank transfer, cheque), recorded with ``POST .../pay``."""
    out_of_band_amount: int = 0
    """What ``POST .../pay`` settled (the amount remaining then): the receipt and payment history."""
    out_of_band_method: OutOfBandMethod | None = None
    """How the money came, as the seller recorded it (None: not said)."""
    credit_notes_total: int = 0
    """Sum of the credit notes' totals; never above ``total``."""
    credit_notes_count: int = 0
    """Credit notes issued against this invoice (their numbers are ``{number}-CN-{count:02d}``)."""
    notification_pending: bool = False
    """Finalized but its notification not yet enqueued (the finalizer schedule retries)."""
    payment_attempts: int = 0
    """Charge attempts started (attempt ``n`` is charged under the provider key ``invoice-{id}-attempt-{n}``)."""
    payment_in_flight: bool = False
    """Attempt ``payment_attempts`` was started and its outcome is not recorded yet: any retry reuses it."""
    payment_in_flight_amount: int = 0
    """The amount attempt ``payment_attempts`` charges (a retry must send the same parameters)."""
    last_payment_error: dict[str, str] | None = None
    """``{code, decline_code, message, hard_decline}`` of the last failed attempt."""
    version: int = 1


class CreditNote(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    number: str
    invoice_id: str
    customer_id: str
    currency: str
    lines: list[InvoiceLine]
    subtotal: int
    tax: int
    total: int
    """Positive: how much the invoice's total is reduced."""
    reduces_amount_due: int
    """Applied to what was still due on an open invoice."""
    credit_to_balance: int
    """Added to the customer's credit balance (a paid invoice, or beyond what was due)."""
    refund_amount: int = 0
    """Refunded through the payment provider (payments issue)."""
    reason: Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory", "other"] = "other"
    memo: str | None = None
    created_at: datetime
    actor: str
    hosted_token: str | None = None
    """The credited invoice's hosted token: the credit note's public links hang off its page."""
    document_key: str | None = None
    """Where the issued HTML is stored (documents bucket), once the notifier stored it."""
    pdf_key: str | None = None
    """Where the issued PDF is stored, once the notifier stored it."""
