"""Tax rates: the shipped defaults of ``billing.tax`` plus the account's own, in one table.

Defaults are seeded lazily: the first tax-rate request after a deploy whose shipped table
differs (by fingerprint) writes the shipped rates, each only where its id is free or still holds
the untouched shipped rate. A default edited through the API (``version`` > 1) is the account's
from then on and never overwritten. So ``GET /v1/tax-rates`` lists defaults and custom rates
alike, and ``billing.tax`` sees them through ``as_tax_rate``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing import clock
from billing.countries import normalize_country
from billing.errors import BillingError, NotFound, ValidationFailed
from billing.models.catalog import TaxRate
from billing.repositories.catalog import TaxRateRepository
from billing.tax import TaxRate as CoreTaxRate
from billing.tax import default_rates, parse_tax_rate

EDITABLE_FIELDS = (
    "display_name", "description", "percentage", "country", "state", "inclusive", "active", "legal_mention",
    "replaces_national",
)  # fmt: skip
FIELDS = frozenset({"id", *EDITABLE_FIELDS})
_PARAM_OF_CORE = {"name": "display_name", "region": "state"}
_seeded: set[str] = set()


def defaults_fingerprint() -> str:
    rows = sorted(
        (
            r.id,
            r.country,
            r.region,
            r.name,
            str(r.percentage),
            r.legal_mention,
            r.replaces_national,
            str(r.effective_from),
        )
        for r in default_rates().values()
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def ensure_default_tax_rates(repo: TaxRateRepository) -> None:
    """Seed the shipped rates once per fingerprint (cheap after the first call in a container)."""
    fingerprint = defaults_fingerprint()
    if fingerprint in _seeded:
        return
    if not repo.is_seeded(fingerprint):
        now = clock.now()
        repo.seed(
            [_from_default(r, at=now) for r in default_rates().values()], fingerprint=fingerprint, at=now
        )
    _seeded.add(fingerprint)


def get_tax_rate(repo: TaxRateRepository, rate_id: str) -> TaxRate:
    ensure_default_tax_rates(repo)
    rate = repo.get(rate_id)
    if rate is None:
        raise NotFound(f"no tax rate {rate_id!r}", code="tax_rate_not_found", param="tax_rate_id")
    return rate


def all_tax_rates(repo: TaxRateRepository) -> list[TaxRate]:
    """Every catalog rate, inactive ones included (``invoice_drafts.tax_setup_for`` leaves those out)."""
    rates: list[TaxRate] = []
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = repo.list(limit=100, cursor=cursor)
        rates += page
        if not cursor:
            return rates


def list_tax_rates(
    repo: TaxRateRepository, *, limit: int, cursor: dict[str, Any] | None, include_inactive: bool = False
) -> tuple[list[TaxRate], dict[str, Any] | None]:
    ensure_default_tax_rates(repo)
    items, last = repo.list(limit=limit, cursor=cursor)
    return [r for r in items if include_inactive or r.active], last


def create_tax_rate(repo: TaxRateRepository, fields: Mapping[str, Any]) -> TaxRate:
    ensure_default_tax_rates(repo)
    values = _check(
        {**fields, "inclusive": fields.get("inclusive", False), "active": fields.get("active", True)}
    )
    now = clock.now()
    rate = TaxRate(**values, origin="custom", created_at=now, updated_at=now)
    repo.create(rate)
    return rate


def update_tax_rate(repo: TaxRateRepository, rate_id: str, changes: Mapping[str, Any]) -> TaxRate:
    """Invoices keep the percentage they were finalized with: a change applies to later invoices."""
    current = get_tax_rate(repo, rate_id)
    if "id" in changes:
        raise ValidationFailed("a tax rate's id cannot change", code="immutable_field", param="id")
    for name in ("display_name", "percentage", "country", "inclusive", "active", "replaces_national"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", code="invalid_value", param=name)
    merged = {**current.model_dump(include=set(FIELDS)), **changes}
    merged["percentage"] = str(merged["percentage"])
    values = _check(merged)
    candidate = current.model_copy(update=values)
    if candidate == current:
        return current
    new = candidate.model_copy(update={"version": current.version + 1, "updated_at": clock.now()})
    repo.update(current, new)
    return new


def archive_tax_rate(repo: TaxRateRepository, rate_id: str) -> TaxRate:
    """Inactive rates are not applied to new invoices (reactivate with PATCH active=true)."""
    return update_tax_rate(repo, rate_id, {"active": False})


def as_tax_rate(rate: TaxRate) -> CoreTaxRate:
    """The ``billing.tax`` view of a stored rate (what ``compute_taxes`` takes)."""
    return CoreTaxRate(
        id=rate.id,
        country=rate.country,
        region=rate.state,
        name=rate.display_name,
        percentage=rate.percentage,
        effective_from=rate.effective_from,
        source=rate.description or "",
        legal_mention=rate.legal_mention,
        replaces_national=rate.replaces_national,
    )


# --------------------------------------------------------------------------- rules


def _check(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [k for k in fields if k not in FIELDS]
    if unknown:
        raise ValidationFailed(f"unknown field {unknown[0]!r}", code="unknown_field", param=unknown[0])
    country = fields.get("country")
    if country is None:
        raise ValidationFailed("country is required", code="missing_field", param="country")
    country = "EU" if isinstance(country, str) and country.upper() == "EU" else normalize_country(country)
    display_name = fields.get("display_name")
    if display_name is None:
        raise ValidationFailed("display_name is required", code="missing_field", param="display_name")
    try:
        core = parse_tax_rate(
            {
                "id": fields.get("id"),
                "country": country,
                "region": fields.get("state"),
                "name": display_name,
                "percentage": fields.get("percentage"),
                "legal_mention": fields.get("legal_mention"),
                "replaces_national": fields.get("replaces_national", False),
            }
        )
    except BillingError as error:
        error.param = _PARAM_OF_CORE.get(error.param or "", error.param)
        raise
    percentage = Decimal(format(core.percentage.normalize(), "f"))
    return {
        "id": core.id,
        "display_name": core.name.strip(),
        "description": fields.get("description"),
        "percentage": percentage,
        "country": core.country,
        "state": core.region,
        "inclusive": fields["inclusive"],
        "active": fields["active"],
        "legal_mention": core.legal_mention,
        "replaces_national": core.replaces_national,
    }


def _from_default(rate: CoreTaxRate, *, at: Any) -> TaxRate:
    return TaxRate(
        id=rate.id,
        display_name=rate.name,
        description=rate.source or None,
        percentage=Decimal(format(rate.percentage.normalize(), "f")),
        country=rate.country,
        state=rate.region,
        inclusive=False,
        active=True,
        legal_mention=rate.legal_mention,
        replaces_national=rate.replaces_national,
        effective_from=rate.effective_from,
        origin="default",
        created_at=at,
        updated_at=at,
    )
