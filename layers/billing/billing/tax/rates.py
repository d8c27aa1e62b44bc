"""Tax rates as data: the ``TaxRate`` type, the shipped defaults, and overrides."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from types import MappingProxyType

from billing.errors import BillingError, ValidationFailed
from billing.money import to_decimal
from billing.tax import rate_data as data

_ID_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_REGION_RE = re.compile(r"^[A-Z0-9]{1,3}$")
RATE_FIELDS = frozenset(
    {
        "id",
        "country",
        "region",
        "name",
        "percentage",
        "effective_from",
        "source",
        "legal_mention",
        "replaces_national",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxRate:
    """One tax rate of one jurisdiction (``eu_de_vat_standard``: Germany, VAT, 19 %)."""

    id: str
    country: str
    """ISO 3166-1 alpha-2, upper case (``EU`` for the reverse-charge rate)."""
    region: str | None = None
    """ISO 3166-2 subdivision suffix (``ON``), or None for a national rate."""
    name: str
    percentage: Decimal
    effective_from: date | None = None
    source: str = ""
    legal_mention: str | None = None
    """Text the invoice prints on every line taxed at this rate."""
    replaces_national: bool = False
    """A regional rate that replaces the national one (Canada's HST replaces the GST)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValidationFailed(
                "id must be lowercase words joined by underscores (eu_de_vat_standard)",
                code="invalid_tax_rate_id",
                param="id",
            )
        if not isinstance(self.country, str) or not _COUNTRY_RE.match(self.country.upper()):
            raise ValidationFailed(
                "country must be an ISO 3166-1 alpha-2 code", code="invalid_country", param="country"
            )
        object.__setattr__(self, "country", self.country.upper())
        if self.region is not None:
            if not isinstance(self.region, str) or not _REGION_RE.match(self.region.upper()):
                raise ValidationFailed(
                    "region must be an ISO 3166-2 subdivision code", code="invalid_region", param="region"
                )
            object.__setattr__(self, "region", self.region.upper())
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationFailed("name must not be empty", code="invalid_tax_rate_name", param="name")
        percentage = to_decimal(self.percentage, param="percentage")
        if not Decimal(0) <= percentage <= Decimal(100):
            raise ValidationFailed(
                "percentage must be between 0 and 100", code="tax_rate_out_of_range", param="percentage"
            )
        object.__setattr__(self, "percentage", percentage)
        if self.effective_from is not None and not isinstance(self.effective_from, date):
            raise ValidationFailed(
                "effective_from must be a date", code="invalid_date", param="effective_from"
            )
        if self.legal_mention is not None and (
            not isinstance(self.legal_mention, str) or not self.legal_mention
        ):
            raise ValidationFailed(
                "legal_mention must be text", code="invalid_legal_mention", param="legal_mention"
            )
        if not isinstance(self.replaces_national, bool):
            raise ValidationFailed(
                "replaces_national must be true or false",
                code="invalid_replaces_national",
                param="replaces_national",
            )
        if self.replaces_national and self.region is None:
            raise ValidationFailed(
                "only a regional rate can replace the national one",
                code="invalid_replaces_national",
                param="region",
            )


def parse_tax_rate(raw: Mapping[str, object], *, param: str = "") -> TaxRate:
    """A rate from its API shape (``percentage`` as a decimal string, ``effective_from`` ISO date)."""

    def at(name: str) -> str:
        return f"{param}.{name}" if param else name

    if not isinstance(raw, Mapping):
        raise ValidationFailed("a tax rate must be an object", code="invalid_tax_rate", param=param or None)
    for key in raw:
        if key not in RATE_FIELDS:
            raise ValidationFailed(f"unknown field {key!r}", code="unknown_field", param=at(str(key)))
    effective = raw.get("effective_from")
    if isinstance(effective, str):
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            raise ValidationFailed(
                "effective_from must be an ISO date", code="invalid_date", param=at("effective_from")
            ) from None
    try:
        return TaxRate(
            id=raw.get("id"),  # type: ignore[arg-type]  # validated by TaxRate
            country=raw.get("country"),  # type: ignore[arg-type]
            region=raw.get("region"),  # type: ignore[arg-type]
            name=raw.get("name"),  # type: ignore[arg-type]
            percentage=raw.get("percentage"),  # type: ignore[arg-type]
            effective_from=effective,  # type: ignore[arg-type]
            source=raw.get("source") or "",  # type: ignore[arg-type]
            legal_mention=raw.get("legal_mention"),  # type: ignore[arg-type]
            replaces_national=raw.get("replaces_national", False),  # type: ignore[arg-type]
        )
    except BillingError as error:
        error.param = at(error.param) if error.param else param or None
        raise


@cache
def default_rates() -> Mapping[str, TaxRate]:
    """The shipped rates by id (read-only), including the EU reverse-charge rate (0 %)."""
    table: dict[str, TaxRate] = {}
    for rate_id, country, region, name, percentage, effective_from, source in data.RATES:
        table[rate_id] = TaxRate(
            id=rate_id,
            country=country,
            region=region,
            name=name,
            percentage=Decimal(percentage),
            effective_from=date.fromisoformat(effective_from),
            source=source,
            replaces_national=country == "CA" and region in data.HST_REGIONS,
        )
    table[data.REVERSE_CHARGE_RATE_ID] = TaxRate(
        id=data.REVERSE_CHARGE_RATE_ID,
        country="EU",
        name="VAT reverse charge",
        percentage=Decimal(0),
        source="Council Directive 2006/112/EC, Articles 44 and 196",
        legal_mention=data.REVERSE_CHARGE_MENTION,
    )
    return MappingProxyType(table)


def tax_rates(
    overrides: Iterable[TaxRate | Mapping[str, object]] = (), *, include_defaults: bool = True
) -> dict[str, TaxRate]:
    """The rate table to compute with: the defaults, then ``overrides`` (a rate with an existing id
    replaces it, a new id is added). Mappings are parsed with ``parse_tax_rate``; errors name
    ``rates.<index>.<field>``."""
    table = dict(default_rates()) if include_defaults else {}
    seen: set[str] = set()
    for i, item in enumerate(overrides):
        rate = item if isinstance(item, TaxRate) else parse_tax_rate(item, param=f"rates.{i}")
        if rate.id in seen:
            raise ValidationFailed(
                f"rate {rate.id!r} is given twice", code="duplicate_tax_rate", param=f"rates.{i}.id"
            )
        seen.add(rate.id)
        table[rate.id] = rate
    return table
