"""/v1/tax-rates: the shipped default rates (seeded on first use) and the account's own."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from api_routes import repos
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.catalog import TaxRate, TaxRateOrigin
from billing.observability import logger
from billing.repositories.dynamo import decode_cursor
from billing.services import tax_rates as service

router = Router()

RATE_ID = r"^[a-z0-9]+(_[a-z0-9]+)*$"
TaxRateId = Annotated[str, Path(pattern=RATE_ID, max_length=64)]
PERCENTAGE = r"^\d{1,3}(\.\d{1,6})?$"


class TaxRateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(
        max_length=64, pattern=RATE_ID, description="Lowercase words joined by _ (us_ny_sales)."
    )
    display_name: StrictStr = Field(
        min_length=1, max_length=100, description="Printed on invoices (VAT, GST)."
    )
    description: StrictStr | None = Field(default=None, max_length=500)
    percentage: StrictStr = Field(pattern=PERCENTAGE, description='Decimal string, 0 to 100 ("8.875").')
    country: StrictStr = Field(description="ISO 3166-1 alpha-2 (EU for the EU-wide reverse-charge rate).")
    state: StrictStr | None = Field(default=None, max_length=3, description="ISO 3166-2 suffix (NY, ON).")
    inclusive: StrictBool = Field(default=False, description="Prices already include this tax.")
    active: StrictBool = True
    legal_mention: StrictStr | None = Field(
        default=None, max_length=500, description="Printed on taxed lines."
    )
    replaces_national: StrictBool = Field(
        default=False, description="A regional rate replacing the national one."
    )


class TaxRateUpdate(BaseModel):
    """A new percentage applies to invoices finalized from now on."""

    model_config = ConfigDict(extra="forbid")

    display_name: StrictStr | None = Field(default=None, min_length=1, max_length=100)
    description: StrictStr | None = Field(default=None, max_length=500)
    percentage: StrictStr | None = Field(default=None, pattern=PERCENTAGE)
    country: StrictStr | None = None
    state: StrictStr | None = Field(default=None, max_length=3)
    inclusive: StrictBool | None = None
    active: StrictBool | None = None
    legal_mention: StrictStr | None = Field(default=None, max_length=500)
    replaces_national: StrictBool | None = None


class TaxRateOut(BaseModel):
    object: Literal["tax_rate"] = "tax_rate"
    id: str
    display_name: str
    description: str | None
    percentage: str = Field(description="Decimal string.")
    country: str
    state: str | None
    inclusive: bool
    active: bool
    legal_mention: str | None
    replaces_national: bool
    effective_from: date | None
    origin: TaxRateOrigin = Field(description="default: shipped with the product; custom: yours.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: TaxRate) -> TaxRateOut:
        return cls(
            id=r.id, display_name=r.display_name, description=r.description, percentage=str(r.percentage),
            country=r.country, state=r.state, inclusive=r.inclusive, active=r.active,
            legal_mention=r.legal_mention, replaces_national=r.replaces_national,
            effective_from=r.effective_from, origin=r.origin, created_at=r.created_at, updated_at=r.updated_at,
        )  # fmt: skip


@router.post("/v1/tax-rates", status_code=201, tags=["tax-rates"], summary="Create a tax rate")
def create_tax_rate(body: TaxRateCreate) -> TaxRateOut:
    rate = service.create_tax_rate(repos.tax_rates(), body.model_dump())
    logger.info("tax rate created", tax_rate=rate.id)
    return TaxRateOut.of(rate)


@router.get("/v1/tax-rates", tags=["tax-rates"], summary="List tax rates (shipped defaults included)")
def list_tax_rates(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    include_inactive: Annotated[bool, Query()] = False,
) -> ListResponse[TaxRateOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    items, last = service.list_tax_rates(
        repos.tax_rates(), limit=limit, cursor=cursor, include_inactive=include_inactive
    )
    return page([TaxRateOut.of(r) for r in items], last)


@router.get("/v1/tax-rates/<tax_rate_id>", tags=["tax-rates"], summary="Get a tax rate")
def get_tax_rate(tax_rate_id: TaxRateId) -> TaxRateOut:
    return TaxRateOut.of(service.get_tax_rate(repos.tax_rates(), tax_rate_id))


@router.patch("/v1/tax-rates/<tax_rate_id>", tags=["tax-rates"], summary="Update a tax rate")
def update_tax_rate(tax_rate_id: TaxRateId, body: TaxRateUpdate) -> TaxRateOut:
    rate = service.update_tax_rate(repos.tax_rates(), tax_rate_id, body.model_dump(exclude_unset=True))
    logger.info("tax rate updated", tax_rate=rate.id)
    return TaxRateOut.of(rate)


@router.delete("/v1/tax-rates/<tax_rate_id>", tags=["tax-rates"], summary="Archive (deactivate) a tax rate")
def archive_tax_rate(tax_rate_id: TaxRateId) -> TaxRateOut:
    rate = service.archive_tax_rate(repos.tax_rates(), tax_rate_id)
    logger.info("tax rate archived", tax_rate=rate.id)
    return TaxRateOut.of(rate)
