"""The customer: who is billed, where, in which currency and language, and how taxed.

Domain model shared by services and repositories (never returned by the API as is:
the routes map it to their response model). Values here are already validated and
normalized by ``billing.services.customers``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaxStatus = Literal["taxable", "exempt", "reverse_charge"]

TaxIdType = Literal[
    "eu_vat",
    "gb_vat",
    "ch_vat",
    "no_vat",
    "au_abn",
    "nz_gst",
    "ca_bn",
    "in_gst",
    "jp_cn",
    "jp_trn",
    "sg_gst",
    "sg_uen",
    "us_ein",
]
"""Tax id types (Stripe's names). See ``billing.tax_ids`` for each format."""

CUSTOMER_ID_PREFIX = "cus_"


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    country: str = Field(description="ISO 3166-1 alpha-2, upper case.")
    state: str | None = None
    postal_code: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None


class TaxId(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: TaxIdType
    value: str = Field(
        description="Normalized: upper case, separators removed except where the format has them."
    )
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 of the issuing country.")


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """Ours: ``cus_`` + 16 hex digits."""
    external_id: str | None = None
    """The business's own id; unique among live customers; usable wherever ``id`` is."""
    name: str
    emails: list[str] = Field(default_factory=list)
    address: Address | None = None
    tax_ids: list[TaxId] = Field(default_factory=list)
    tax_status: TaxStatus = "taxable"
    currency: str
    """Lowercase ISO 4217."""
    time_zone: str = "UTC"
    """IANA name; billing periods are cut in this zone."""
    locale: str | None = None
    """Language and formats of documents (``en``, ``fr_FR``, ``de_CH``) when ``preferred_locales``
    names none that documents are written in; unset: the seller's ``default_locale``."""
    preferred_locales: list[str] = Field(default_factory=list)
    """Languages the customer reads, in order of preference (Stripe's field): documents, emails and
    pages are written in the first one with a catalog (``billing.i18n``)."""
    invoice_prefix: str
    """3-8 upper-case letters and digits, unique; invoice numbers are ``{prefix}-{sequence}``."""
    segments: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    open_invoices: int = 0
    """Invoices in ``open`` state; maintained by invoicing. A customer with any cannot be deleted."""
    provider_customer_id: str | None = None
    """The payment provider's customer (``cus_...`` at Stripe), created on first use (payments)."""
    default_payment_method: str | None = None
    """The provider payment method charged automatically (``pm_...``); never card data."""
    payment_method_brand: str | None = None
    payment_method_last4: str | None = None
    payment_method_updated_at: datetime | None = None
    """When the default payment method last changed: a card saved on a portal's Checkout page that
    was started before this instant does not replace it (a late webhook never undoes a newer card)."""
    created_at: datetime
    updated_at: datetime
    version: int = 1
    """Optimistic-locking version, incremented by every update."""
    deleted: bool = False
    deleted_at: datetime | None = None


ChangeSource = Literal["api", "portal", "system"]


class CustomerChange(BaseModel):
    """One audit entry of a customer: who changed which fields, when, from what to what. Written in the
    transaction of the change it records (``CUSTOMER#{id} / CHANGE#{at}#{version}``)."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    version: int
    """The customer's version after the change."""
    at: datetime
    source: ChangeSource
    """``api`` (an API key), ``portal`` (the customer, through a portal session), ``system``."""
    actor: str
    """The API key id, the portal session id (``bps_...``), or ``system``."""
    changes: dict[str, dict[str, Any]]
    """``{field: {"from": old, "to": new}}`` (JSON values)."""
    tax_treatment: dict[str, str] | None = None
    """``{"from": ..., "to": ...}`` when the change moved the customer to another tax treatment
    (``standard``, ``reverse_charge``, ``exempt``, ...): checked by the portal."""
