"""POST /v1/customers/{customer_id}/portal-sessions: a short-lived link to the customer portal.

Like Stripe's billing portal sessions: the response's ``url`` opens the portal for this one customer
until ``expires_at`` (``BILLING_PORTAL_SESSION_MINUTES``, default 60); hand it to the customer (a
redirect from your own site), never store or email it. Each call makes a new session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api_routes import repos
from billing.http.app import current_principal
from billing.repositories.portal import PortalRepository
from billing.services import portal as service
from billing.settings import get_settings

router = Router()

CUSTOMER_REF = r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,127}$"
CustomerRef = Annotated[str, Path(pattern=CUSTOMER_REF, description="Our id (cus_...) or your external_id.")]


@cache
def portal() -> PortalRepository:
    return PortalRepository(table_name=get_settings().require("billing_table"))


class PortalSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: StrictStr | None = Field(
        default=None,
        max_length=2048,
        description='Your page the portal links back to ("Back to {seller}"): https://, or http:// on localhost.',
    )
    locale: StrictStr | None = Field(
        default=None,
        max_length=35,
        description="The portal's language for this session (en, sv, de, fr, es, ja; a region may follow: "
        "de-CH); default the customer's preferred_locales, then locale, then the account's default_locale.",
    )


class PortalSessionOut(BaseModel):
    object: Literal["portal_session"] = "portal_session"
    id: str = Field(description="bps_...: names the session in the customer's audit trail.")
    customer: str = Field(description="The customer's id (cus_...).")
    url: str = Field(description="Opens the portal until expires_at; a secret: hand it to the customer only.")
    return_url: str | None
    locale: str | None
    expires_at: datetime
    created_at: datetime


@router.post(
    "/v1/customers/<customer_id>/portal-sessions",
    status_code=201,
    tags=["customers"],
    summary="Create a customer portal session (a short-lived link)",
)
def create_portal_session(customer_id: CustomerRef, body: PortalSessionCreate) -> PortalSessionOut:
    settings = get_settings()
    base = settings.public_url or f"https://{router.current_event.request_context.domain_name}"
    session, url = service.create_portal_session(
        portal(),
        repos.customers(),
        customer_id,
        base_url=base,
        lifetime=timedelta(minutes=settings.portal_session_minutes),
        actor=current_principal(router).key_id,  # type: ignore[arg-type]
        return_url=body.return_url,
        locale=body.locale,
    )
    return PortalSessionOut(
        id=session.id, customer=session.customer_id, url=url, return_url=session.return_url,
        locale=session.locale, expires_at=session.expires_at, created_at=session.created_at,
    )  # fmt: skip
