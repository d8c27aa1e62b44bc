"""Which rates apply to a customer: jurisdiction, exemption and EU reverse charge.

The rules, in order:

1. ``tax_status: exempt`` → no tax at all.
2. EU business-to-business across borders → reverse charge: the seller is in
   an EU member state and the customer has a VAT id of **another** member
   state (prefix ``EL`` is Greece). The line is taxed at ``eu_reverse_charge``
   (0 %) and carries the legal mention. The VAT id's format is checked here;
   whether it is registered (VIES) is the caller's job, before this.
3. Otherwise the customer's jurisdiction decides (destination principle, as
   for digital services): every national rate of the customer's country
   plus the rates of its region. A regional rate that ``replaces_national``
   (Canada's HST) removes the national ones. A Canadian customer must name
   a province or territory.
4. No rate for that jurisdiction in the table → ``not_collected``: no tax,
   said explicitly, never silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from billing.errors import ValidationFailed
from billing.tax import rate_data as data
from billing.tax.rates import TaxRate, default_rates

_COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
_VAT_ID_RE = re.compile(r"^[A-Z]{2}[A-Z0-9+*]{2,13}$")


class TaxStatus(StrEnum):
    TAXABLE = "taxable"
    EXEMPT = "exempt"


class Treatment(StrEnum):
    TAXABLE = "taxable"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"
    NOT_COLLECTED = "not_collected"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxCustomer:
    country: str
    region: str | None = None
    tax_status: TaxStatus = TaxStatus.TAXABLE
    vat_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country", country_code(self.country, param="customer.country"))
        if self.region is not None:
            if not isinstance(self.region, str) or not re.match(r"^[A-Za-z0-9]{1,3}$", self.region):
                raise ValidationFailed(
                    "region must be an ISO 3166-2 subdivision code",
                    code="invalid_region",
                    param="customer.region",
                )
            object.__setattr__(self, "region", self.region.upper())
        try:
            object.__setattr__(self, "tax_status", TaxStatus(self.tax_status))
        except ValueError:
            raise ValidationFailed(
                "tax_status must be taxable or exempt", code="invalid_tax_status", param="customer.tax_status"
            ) from None
        if self.vat_id is not None:
            compact = (
                self.vat_id.replace(" ", "").replace("-", "").replace(".", "").upper()
                if isinstance(self.vat_id, str)
                else ""
            )
            if not _VAT_ID_RE.match(compact):
                raise ValidationFailed(
                    "vat_id must start with its two-letter country prefix (DE123456789)",
                    code="invalid_vat_id",
                    param="customer.vat_id",
                )
            object.__setattr__(self, "vat_id", compact)

    @property
    def vat_country(self) -> str | None:
        """The country of the VAT id (``EL…`` → ``GR``)."""
        if self.vat_id is None:
            return None
        prefix = self.vat_id[:2]
        return data.VAT_ID_PREFIXES.get(prefix, prefix)


@dataclass(frozen=True, slots=True)
class TaxTreatment:
    treatment: Treatment
    rate_ids: tuple[str, ...]
    """The ids to put on the customer's lines (``tax_rate_ids``)."""
    country: str
    region: str | None
    legal_mention: str | None = None


def country_code(value: object, *, param: str) -> str:
    if not isinstance(value, str) or not _COUNTRY_RE.match(value):
        raise ValidationFailed(
            f"{param} must be an ISO 3166-1 alpha-2 code", code="invalid_country", param=param
        )
    return value.upper()


def determine_tax(
    *, seller_country: str, customer: TaxCustomer, rates: Mapping[str, TaxRate] | None = None
) -> TaxTreatment:
    """The tax treatment of ``customer`` for a seller in ``seller_country`` (rules in the module doc)."""
    seller = country_code(seller_country, param="seller_country")
    table = default_rates() if rates is None else rates
    country, region = customer.country, customer.region
    if customer.tax_status is TaxStatus.EXEMPT:
        return TaxTreatment(Treatment.EXEMPT, (), country, region)
    vat_country = customer.vat_country
    if seller in data.EU_MEMBER_STATES and vat_country in data.EU_MEMBER_STATES and vat_country != seller:
        rate = table.get(data.REVERSE_CHARGE_RATE_ID)
        if rate is None:
            raise ValidationFailed(
                "the rate table has no eu_reverse_charge rate", code="unknown_tax_rate", param="rates"
            )
        return TaxTreatment(Treatment.REVERSE_CHARGE, (rate.id,), country, region, rate.legal_mention)
    if country == "CA":
        if region is None:
            raise ValidationFailed(
                "a Canadian customer needs a province or territory",
                code="tax_region_required",
                param="customer.region",
            )
        if region not in data.CANADIAN_REGIONS:
            raise ValidationFailed(
                f"{region!r} is not a Canadian province or territory",
                code="invalid_region",
                param="customer.region",
            )
    regional = [
        r for r in table.values() if r.country == country and r.region is not None and r.region == region
    ]
    national = [r for r in table.values() if r.country == country and r.region is None]
    if any(r.replaces_national for r in regional):
        national = []
    chosen = sorted(national, key=lambda r: r.id) + sorted(regional, key=lambda r: r.id)
    if not chosen:
        return TaxTreatment(Treatment.NOT_COLLECTED, (), country, region)
    return TaxTreatment(Treatment.TAXABLE, tuple(r.id for r in chosen), country, region)
