"""Payments and refunds as our books record them. Every amount is an int in minor units.

Contract shared by the collector, reconciliation, dunning and the accounting export. A ``Payment``
is one charge attempt of one invoice (``(invoice_id, attempt)`` is its natural key); a ``Refund``
is money sent back against a payment, once per credit note.

Stored items (see ``billing.repositories.keys``):

* ``PAYMENT#{id}`` / ``PAYMENT``: the payment by id;
* ``INVOICE#{invoice_id}`` / ``PAYMENT#{id}``: the invoice's payment history (same attributes);
  gsi1 ``INVOICE_PAYMENTS#{invoice_id}`` / ``{created}#{id}`` lists it too;
* gsi2 ``PAYMENTS#{yyyy-mm}`` / ``{created}#{id}`` on the by-id item: payments by creation month
  (exports). Refunds likewise: ``REFUND#{id}``, gsi2 ``REFUNDS#{yyyy-mm}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

PAYMENT_ID_PREFIX = "py_"
REFUND_ID_PREFIX = "re_"

PaymentRecordStatus = Literal[
    "succeeded",
    "failed",
    "requires_action",
    "processing",
    "refunded",
    "partially_refunded",
    "disputed",
]


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """``py_...``: derived from ``(invoice_id, attempt)`` or the provider payment id, so a retry finds it."""
    invoice_id: str
    customer_id: str
    amount: int
    """Attempted (and, when succeeded, captured) amount."""
    currency: str
    status: PaymentRecordStatus
    provider: str
    """``stripe`` (or ``manual`` for out-of-band payments)."""
    provider_payment_id: str | None = None
    attempt: int
    """Attempt number of the invoice (``Invoice.payment_attempts``); the provider idempotency key."""
    decline_code: str | None = None
    failure_message: str | None = None
    hard_decline: bool = False
    amount_refunded: int = 0
    created_at: datetime
    settled_at: datetime | None = None
    """When the money was captured (``succeeded``); None otherwise."""
    payment_method_type: str | None = None
    """``card`` (the only type collected today); None when unknown."""
    card_brand: str | None = None
    """``visa``, ``mastercard``... of the card charged, for receipts ("Visa •••• 4242"); never card data."""
    card_last4: str | None = None


class CheckoutDecline(BaseModel):
    """A card refused on the hosted Checkout page: not one of our attempts (no dunning, the invoice is
    untouched; the customer may try another card on the same session), kept for the payment history.

    Stored as ``INVOICE#{invoice_id} / DECLINE#{id}``; ``id`` is the failed charge (``ch_...``), or
    the provider event when there was no charge (a failed 3-D Secure), so a duplicate event is one
    record."""

    model_config = ConfigDict(frozen=True)

    id: str
    invoice_id: str
    provider_payment_id: str
    amount: int
    currency: str
    decline_code: str
    """The issuer's reason (``insufficient_funds``...) or the provider's error code."""
    failure_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    at: datetime


class Refund(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    payment_id: str
    invoice_id: str
    credit_note_id: str | None = None
    amount: int
    currency: str
    provider_refund_id: str | None = None
    created_at: datetime


class InvoiceCheckout(BaseModel):
    """The invoice's current pay link (``INVOICE#{invoice_id} / CHECKOUT``): at most one Checkout
    Session per invoice is kept open, for exactly what remains to pay (``services.checkout``)."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    session_id: str
    url: str
    amount: int
    currency: str
    generation: int
    """1, 2, ...: a new session for the invoice takes the next one (and a new provider idempotency key)."""
    expires_at: datetime | None = None
    created_at: datetime
