"""How documents and emails look and who they say they come from.

Parsed once at cold start from ``BILLING_BRANDING_JSON`` (a JSON object with the fields below; SSM
Parameter Store later). Unknown fields are refused, so a typo in a deployment fails loudly instead of
printing a document without the company's tax id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLOR = r"^#[0-9A-Fa-f]{6}$"


class Branding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    company_name: str = Field(default="", max_length=200)
    address_lines: list[str] = Field(default_factory=list, max_length=8)
    """The seller's postal address, one line each, printed under the company name."""
    tax_id: str | None = Field(default=None, max_length=64)
    """The seller's VAT/GST/tax registration number (mandatory on EU invoices)."""
    logo_url: str | None = Field(default=None, max_length=2048)
    """An ``https://`` image URL (documents link it; nothing is fetched when rendering)."""
    primary_color: str = Field(default="#1F2937", pattern=_COLOR)
    accent_color: str = Field(default="#2563EB", pattern=_COLOR)
    footer: str | None = Field(default=None, max_length=1000)
    """Free text at the bottom of every document (registered office, bank details, ...)."""
    payment_terms: str | None = Field(default=None, max_length=1000)
    """Printed above the footer ("Payable within 30 days by bank transfer to ...")."""
    contact_url: str | None = Field(default=None, max_length=2048)
    """Where a customer asks about an invoice (a page or ``mailto:``)."""
    contact_email: str | None = Field(default=None, max_length=254)

    @field_validator("logo_url", "contact_url")
    @classmethod
    def _safe_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("https://", "http://", "mailto:")):
            raise ValueError("must be an https://, http:// or mailto: URL")
        return value
