"""The seller: who bills, printed on every document (invoice, credit note, receipt, emails, portal).

Stored once per deployment in the BillingTable (``ACCOUNT / SETTINGS``) and changed with
``PATCH /v1/account``; frozen on each invoice at finalization (``Invoice.seller_snapshot``), so a
document never changes when the seller later moves or renames itself. Deploy-time defaults (the
``SellerLegalName`` and ``SellerCountry`` template parameters) fill what was never set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from billing.models.customers import Address, TaxId

DEFAULT_BRAND_COLOR = "#1F2937"
IDENTITY_FIELDS = (
    "legal_name", "address", "tax_ids", "support_email", "support_phone", "logo_url", "brand_color",
    "invoice_footer", "payment_instructions", "default_locale",
)  # fmt: skip
"""What documents print about the seller and in which language by default (the snapshot frozen on an
invoice)."""
SETTING_FIELDS = IDENTITY_FIELDS


class AccountSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    legal_name: str | None = None
    """The seller's registered name, printed as the issuer of every document."""
    address: Address | None = None
    """Registered address; its country is the deployment's tax country (``SellerCountry``)."""
    tax_ids: list[TaxId] = Field(default_factory=list)
    """VAT/GST/tax registrations, printed on every document (mandatory on EU invoices)."""
    support_email: str | None = None
    """Where customers' questions about invoices are sent, printed as the contact address."""
    support_phone: str | None = None
    logo_url: str | None = None
    """An ``https://`` image linked from HTML documents and emails (never fetched by the backend)."""
    brand_color: str = DEFAULT_BRAND_COLOR
    invoice_footer: str | None = None
    """Free text at the bottom of every document (registered office, registration numbers...)."""
    payment_instructions: str | None = None
    """How to pay by bank transfer (IBAN, reference), printed on invoices that are not charged."""
    default_locale: str = "en"
    """Language of documents for customers whose preferred locales have no catalog."""
    country: str | None = None
    """The tax country (``SellerCountry``, deploy-time): read-only, the address must agree with it."""
    updated_at: datetime | None = None
    updated_by: str | None = None
    version: int = 0
    """0 until the settings are first saved; incremented by every change."""

    def identity_problems(self) -> list[str]:
        """What an invoice cannot be issued without: the seller's legal name and address."""
        missing: list[str] = []
        if not (self.legal_name or "").strip():
            missing.append("legal_name")
        address = self.address
        if address is None or not (address.line1 and address.city and address.country):
            missing.append("address")
        return missing

    def snapshot(self) -> dict[str, Any]:
        """What documents print about the seller, frozen on an invoice at finalization."""
        return {**self.model_dump(mode="json", include=set(IDENTITY_FIELDS)), "country": self.country}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> AccountSettings:
        return cls.model_validate(snapshot)


class AccountChange(BaseModel):
    """One audit entry: who changed which settings, from what to what."""

    model_config = ConfigDict(frozen=True)

    version: int
    at: datetime
    actor: str
    changes: dict[str, dict[str, Any]]
    """``{field: {"from": old, "to": new}}`` (JSON values)."""
