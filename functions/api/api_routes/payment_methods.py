"""/v1/customers/{id}/payment-methods and /setup-intents: a customer's payment setup.

A payment method is collected client-side (Stripe.js with the SetupIntent's client secret, or
Checkout) and attached here by id (``pm_...``): no card number is ever sent to this API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api_routes import repos
from billing.http.app import current_principal
from billing.payments import get_payment_provider
from billing.services import payment_methods as service

router = Router()

CUSTOMER_REF = r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,127}$"
CustomerRef = Annotated[str, Path(pattern=CUSTOMER_REF, description="Our id (cus_...) or your external_id.")]


class AttachPaymentMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method: StrictStr = Field(
        pattern=r"^pm_[A-Za-z0-9_]{1,200}$",
        description="A payment method collected client-side (pm_...); never card data.",
    )


class PaymentMethodOut(BaseModel):
    object: Literal["payment_method"] = "payment_method"
    id: str
    customer_id: str
    provider_customer_id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool


class SetupIntentOut(BaseModel):
    object: Literal["setup_intent"] = "setup_intent"
    id: str
    customer_id: str
    client_secret: str = Field(description="Hand to Stripe.js to collect a payment method.")


@router.post(
    "/v1/customers/<customer_id>/payment-methods",
    status_code=201,
    tags=["customers"],
    summary="Attach a payment method and make it the default",
)
def attach_payment_method(customer_id: CustomerRef, body: AttachPaymentMethod) -> PaymentMethodOut:
    customer, info = service.attach_payment_method(
        repos.customers(),
        get_payment_provider(),
        customer_id,
        payment_method_id=body.payment_method,
        dunning=repos.dunning(),
        actor=current_principal(router).key_id,  # type: ignore[arg-type]
    )
    return PaymentMethodOut(
        id=info.id, customer_id=customer.id, provider_customer_id=info.provider_customer_id, type=info.type,
        brand=info.brand, last4=info.last4, exp_month=info.exp_month, exp_year=info.exp_year,
        is_default=customer.default_payment_method == info.id,
    )  # fmt: skip


@router.post(
    "/v1/customers/<customer_id>/setup-intents",
    status_code=201,
    tags=["customers"],
    summary="Create a SetupIntent to collect a payment method client-side",
)
def create_setup_intent(customer_id: CustomerRef) -> SetupIntentOut:
    customer, intent = service.create_setup_intent(repos.customers(), get_payment_provider(), customer_id)
    return SetupIntentOut(id=intent.id, customer_id=customer.id, client_secret=intent.client_secret)
