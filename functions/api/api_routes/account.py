"""/v1/account: the seller's identity and document settings (admin only), and their audit trail."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api_routes.customers import AddressIn, AddressOut, TaxIdIn, TaxIdOut
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.account import AccountChange, AccountSettings
from billing.observability import logger
from billing.repositories.account import AccountRepository
from billing.repositories.dynamo import decode_cursor
from billing.services import account as service
from billing.settings import get_settings

router = Router()


@cache
def repo() -> AccountRepository:
    return AccountRepository(table_name=get_settings().require("billing_table"))


def defaults() -> service.AccountDefaults:
    return service.AccountDefaults.from_settings(get_settings())


class AccountUpdate(BaseModel):
    """Only the fields given change; ``null`` clears a field (colour and locale go back to their
    defaults; the legal name cannot be cleared unless the deployment has a default)."""

    model_config = ConfigDict(extra="forbid")

    legal_name: StrictStr | None = Field(default=None, max_length=300, description="Registered name.")
    address: AddressIn | None = Field(
        default=None, description="Registered address; line1, city and country are required."
    )
    tax_ids: list[TaxIdIn] | None = Field(default=None, max_length=5, description="Tax registrations.")
    support_email: StrictStr | None = Field(
        default=None, max_length=254, description="Where customers' questions are sent."
    )
    support_phone: StrictStr | None = Field(default=None, max_length=40)
    logo_url: StrictStr | None = Field(default=None, max_length=2048, description="An https:// image.")
    brand_color: StrictStr | None = Field(default=None, max_length=7, description="#RRGGBB.")
    invoice_footer: StrictStr | None = Field(default=None, max_length=2000)
    payment_instructions: StrictStr | None = Field(
        default=None, max_length=2000, description="How to pay by bank transfer (IBAN, reference)."
    )
    default_locale: StrictStr | None = Field(
        default=None, max_length=35, description="Documents' language by default: en, sv, de, fr, es, ja."
    )


class AccountOut(BaseModel):
    object: Literal["account"] = "account"
    legal_name: str | None
    address: AddressOut | None
    tax_ids: list[TaxIdOut]
    support_email: str | None
    support_phone: str | None
    logo_url: str | None
    brand_color: str
    invoice_footer: str | None
    payment_instructions: str | None
    default_locale: str
    country: str | None = Field(description="The tax country (the SellerCountry parameter); read-only.")
    ready_to_invoice: bool = Field(description="Whether invoices can be issued: legal name and address set.")
    missing: list[str] = Field(description="What invoices cannot be issued without (legal_name, address).")
    updated_at: datetime | None
    updated_by: str | None
    version: int

    @classmethod
    def of(cls, a: AccountSettings) -> AccountOut:
        missing = a.identity_problems()
        return cls(
            legal_name=a.legal_name, address=AddressOut.of(a.address) if a.address else None,
            tax_ids=[TaxIdOut.of(t) for t in a.tax_ids], support_email=a.support_email,
            support_phone=a.support_phone, logo_url=a.logo_url, brand_color=a.brand_color,
            invoice_footer=a.invoice_footer, payment_instructions=a.payment_instructions,
            default_locale=a.default_locale, country=a.country, ready_to_invoice=not missing,
            missing=missing, updated_at=a.updated_at, updated_by=a.updated_by, version=a.version,
        )  # fmt: skip


class AccountChangeOut(BaseModel):
    object: Literal["account_change"] = "account_change"
    version: int
    at: datetime
    actor: str = Field(description="The API key id that made the change.")
    changes: dict[str, dict[str, Any]] = Field(description='{field: {"from": old, "to": new}}')

    @classmethod
    def of(cls, c: AccountChange) -> AccountChangeOut:
        return cls(version=c.version, at=c.at, actor=c.actor, changes=c.changes)


@router.get("/v1/account", tags=["account"], summary="The seller's identity and document settings")
def get_account() -> AccountOut:
    return AccountOut.of(service.get_account(repo(), defaults()))


@router.patch("/v1/account", tags=["account"], summary="Change the seller's identity or document settings")
def update_account(body: AccountUpdate) -> AccountOut:
    actor = current_principal(router).key_id  # type: ignore[arg-type]
    account = service.update_account(repo(), defaults(), body.model_dump(exclude_unset=True), actor=actor)
    logger.info("account settings updated", version=account.version, by=actor)
    return AccountOut.of(account)


@router.get("/v1/account/changes", tags=["account"], summary="Changes of the account settings, newest first")
def list_account_changes(
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[AccountChangeOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk"})
    items, last = service.list_changes(repo(), limit=limit, cursor=cursor)
    return page([AccountChangeOut.of(c) for c in items], last)
