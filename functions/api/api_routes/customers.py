"""/v1/customers: create, list (filters, cursor), get, update, delete (soft).

``{customer_id}`` is our id (``cus_...``) or the customer's ``external_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api_routes import repos
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.customers import (
    Address,
    ChangeSource,
    Customer,
    CustomerChange,
    TaxId,
    TaxIdType,
    TaxStatus,
)
from billing.observability import logger, metrics
from billing.repositories.dynamo import decode_cursor
from billing.services import customers as service

router = Router()

CUSTOMER_REF = r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,127}$"
CustomerRef = Annotated[str, Path(pattern=CUSTOMER_REF, description="Our id (cus_...) or your external_id.")]


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: StrictStr = Field(description="ISO 3166-1 alpha-2 (DE, US).")
    state: StrictStr | None = Field(default=None, max_length=10, description="ISO 3166-2 suffix (ON, CA).")
    postal_code: StrictStr | None = Field(default=None, max_length=20)
    city: StrictStr | None = Field(default=None, max_length=100)
    line1: StrictStr | None = Field(default=None, max_length=200)
    line2: StrictStr | None = Field(default=None, max_length=200)


class TaxIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TaxIdType
    value: StrictStr = Field(min_length=1, max_length=40)


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: StrictStr | None = Field(default=None, max_length=128, description="Your own id; unique.")
    name: StrictStr = Field(min_length=1, max_length=256)
    emails: list[StrictStr] = Field(default_factory=list, max_length=service.MAX_EMAILS)
    address: AddressIn | None = None
    tax_ids: list[TaxIdIn] = Field(default_factory=list, max_length=service.MAX_TAX_IDS)
    tax_status: TaxStatus = "taxable"
    currency: StrictStr = Field(description="ISO 4217 (usd, eur).")
    time_zone: StrictStr = Field(default="UTC", description="IANA name (Europe/Paris).")
    locale: StrictStr | None = Field(
        default=None,
        description="Language and formats of documents (en, fr_FR, de_CH) when preferred_locales names "
        "none they are written in; unset: the account's default_locale.",
    )
    preferred_locales: list[StrictStr] = Field(
        default_factory=list,
        max_length=service.MAX_PREFERRED_LOCALES,
        description="Languages the customer reads, preferred first (sv, de-CH); documents use the first "
        "one they are written in (en, sv, de, fr, es, ja), else locale, else the account's default.",
    )
    invoice_prefix: StrictStr | None = Field(
        default=None, description="3-8 letters/digits; generated if absent."
    )
    segments: list[StrictStr] = Field(default_factory=list, max_length=service.MAX_SEGMENTS)
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class CustomerUpdate(BaseModel):
    """Only the fields given change. ``metadata`` merges; a key set to "" is removed."""

    model_config = ConfigDict(extra="forbid")

    external_id: StrictStr | None = Field(default=None, max_length=128)
    name: StrictStr | None = Field(default=None, min_length=1, max_length=256)
    emails: list[StrictStr] | None = Field(default=None, max_length=service.MAX_EMAILS)
    address: AddressIn | None = None
    tax_ids: list[TaxIdIn] | None = Field(default=None, max_length=service.MAX_TAX_IDS)
    tax_status: TaxStatus | None = None
    currency: StrictStr | None = None
    time_zone: StrictStr | None = None
    locale: StrictStr | None = None
    preferred_locales: list[StrictStr] | None = Field(default=None, max_length=service.MAX_PREFERRED_LOCALES)
    invoice_prefix: StrictStr | None = None
    segments: list[StrictStr] | None = Field(default=None, max_length=service.MAX_SEGMENTS)
    metadata: dict[StrictStr, StrictStr] | None = None


class AddressOut(BaseModel):
    country: str
    state: str | None
    postal_code: str | None
    city: str | None
    line1: str | None
    line2: str | None

    @classmethod
    def of(cls, address: Address) -> AddressOut:
        return cls(**address.model_dump())


class TaxIdOut(BaseModel):
    type: TaxIdType
    value: str
    country: str | None

    @classmethod
    def of(cls, tax_id: TaxId) -> TaxIdOut:
        return cls(type=tax_id.type, value=tax_id.value, country=tax_id.country)


class CustomerOut(BaseModel):
    object: Literal["customer"] = "customer"
    id: str
    external_id: str | None
    name: str
    emails: list[str]
    address: AddressOut | None
    tax_ids: list[TaxIdOut]
    tax_status: TaxStatus
    currency: str
    time_zone: str
    locale: str | None
    preferred_locales: list[str]
    invoice_prefix: str
    segments: list[str]
    metadata: dict[str, str]
    open_invoices: int = Field(description="Open invoices; a customer with any cannot be deleted.")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Incremented by every change.")
    deleted: bool
    deleted_at: datetime | None

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(
            id=c.id, external_id=c.external_id, name=c.name, emails=list(c.emails),
            address=AddressOut.of(c.address) if c.address else None,
            tax_ids=[TaxIdOut.of(t) for t in c.tax_ids], tax_status=c.tax_status, currency=c.currency,
            time_zone=c.time_zone, locale=c.locale, preferred_locales=list(c.preferred_locales), invoice_prefix=c.invoice_prefix, segments=list(c.segments),
            metadata=dict(c.metadata), open_invoices=c.open_invoices, created_at=c.created_at,
            updated_at=c.updated_at, version=c.version, deleted=c.deleted, deleted_at=c.deleted_at,
        )  # fmt: skip


@router.post("/v1/customers", status_code=201, tags=["customers"], summary="Create a customer")
def create_customer(body: CustomerCreate) -> CustomerOut:
    customer = service.create_customer(repos.customers(), body.model_dump())
    logger.info("customer created", customer_id=customer.id)
    metrics.add_metric(name="CustomersCreated", unit="Count", value=1)
    return CustomerOut.of(customer)


@router.get("/v1/customers", tags=["customers"], summary="List customers, newest first")
def list_customers(
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    email: Annotated[
        str | None, Query(max_length=254, description="Customers with this billing email.")
    ] = None,
    segment: Annotated[str | None, Query(max_length=64, description="Customers in this segment.")] = None,
    created_gte: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    created_lt: Annotated[datetime | None, Query(description="Created before (ISO 8601).")] = None,
) -> ListResponse[CustomerOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    items, last = service.list_customers(
        repos.customers(), limit=limit, cursor=cursor, email=email, segment=segment,
        created_gte=created_gte, created_lt=created_lt,
    )  # fmt: skip
    return page([CustomerOut.of(c) for c in items], last)


@router.get("/v1/customers/<customer_id>", tags=["customers"], summary="Get a customer")
def get_customer(customer_id: CustomerRef) -> CustomerOut:
    return CustomerOut.of(service.get_customer(repos.customers(), customer_id))


@router.patch("/v1/customers/<customer_id>", tags=["customers"], summary="Update a customer")
def update_customer(customer_id: CustomerRef, body: CustomerUpdate) -> CustomerOut:
    actor = current_principal(router).key_id  # type: ignore[arg-type]
    customer = service.update_customer(
        repos.customers(), customer_id, body.model_dump(exclude_unset=True), actor=actor
    )
    logger.info("customer updated", customer_id=customer.id, version=customer.version)
    return CustomerOut.of(customer)


@router.delete("/v1/customers/<customer_id>", tags=["customers"], summary="Delete a customer (soft)")
def delete_customer(customer_id: CustomerRef) -> CustomerOut:
    customer = service.delete_customer(repos.customers(), customer_id)
    logger.info("customer deleted", customer_id=customer.id)
    metrics.add_metric(name="CustomersDeleted", unit="Count", value=1)
    return CustomerOut.of(customer)


class CustomerChangeOut(BaseModel):
    object: Literal["customer_change"] = "customer_change"
    customer_id: str
    version: int = Field(description="The customer's version after the change.")
    at: datetime
    source: ChangeSource = Field(description="api (an API key), portal (the customer), system.")
    actor: str = Field(description="The API key id, the portal session id (bps_...), or system.")
    changes: dict[str, dict[str, Any]] = Field(description='{field: {"from": old, "to": new}}')
    tax_treatment: dict[str, str] | None = Field(
        description='{"from", "to"} when the change moved the customer to another tax treatment.'
    )

    @classmethod
    def of(cls, c: CustomerChange) -> CustomerChangeOut:
        return cls(
            customer_id=c.customer_id, version=c.version, at=c.at, source=c.source, actor=c.actor,
            changes=c.changes, tax_treatment=c.tax_treatment,
        )  # fmt: skip


@router.get(
    "/v1/customers/<customer_id>/changes", tags=["customers"], summary="A customer's changes, newest first"
)
def list_customer_changes(
    customer_id: CustomerRef,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[CustomerChangeOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk"})
    items, last = service.list_changes(repos.customers(), customer_id, limit=limit, cursor=cursor)
    return page([CustomerChangeOut.of(c) for c in items], last)
