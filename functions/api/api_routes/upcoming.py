"""/v1/invoices/upcoming: the invoice the next billing boundary will draft, from the usage so far.

Nothing is written: the same composition as the invoice worker (``billing.services.invoice_drafts``),
run on the current state. Every line says how it was reached (tiers, proration days, minimums),
with the coupons, tax and credit balance applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from api_routes.billing_deps import billing
from billing.errors import NotFound, ValidationFailed
from billing.models.invoices import CouponTotal, Invoice, InvoiceLine, PeriodKey, TaxTotal
from billing.services import subscriptions as subscription_service
from billing.services.billing_runs import CustomerBilling, preview_upcoming

router = Router()


class PreviewInvoiceOut(BaseModel):
    object: str = "invoice"
    id: str | None = None
    """None: a preview is never stored."""
    customer_id: str
    status: str = "draft"
    currency: str
    collection_method: str
    billing_date: datetime
    period_start: datetime | None
    period_end: datetime | None
    subscription_ids: list[str]
    period_keys: list[PeriodKey]
    lines: list[InvoiceLine]
    subtotal: int
    discount: int
    coupons: list[CouponTotal]
    taxes: list[TaxTotal]
    tax: int
    total: int
    credit_applied: int
    credit_created: int
    amount_due: int
    hold_reasons: list[dict[str, str]]
    legal_mentions: list[str]

    @classmethod
    def of(cls, invoice: Invoice, *, stored: bool = True) -> PreviewInvoiceOut:
        data = invoice.model_dump(include=set(cls.model_fields) - {"object", "id"})
        return cls(**data, id=invoice.id if stored else None)


class UpcomingOut(BaseModel):
    object: str = "upcoming_invoice"
    customer_id: str
    invoice: PreviewInvoiceOut | None
    """None when nothing is left to bill (canceled, fully invoiced)."""


def of_preview(result: CustomerBilling) -> PreviewInvoiceOut | None:
    return PreviewInvoiceOut.of(result.invoices[0], stored=False) if result.invoices else None


@router.get("/v1/invoices/upcoming", tags=["invoices"], summary="Preview the next invoice (no side effect)")
def upcoming_invoice(
    subscription: Annotated[str | None, Query(pattern=r"^sub_[0-9a-f]{16}$")] = None,
    customer: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> UpcomingOut:
    if subscription is None and customer is None:
        raise ValidationFailed("give subscription or customer", code="missing_field", param="subscription")
    if subscription is not None:
        sub = subscription_service.get_subscription(billing(), subscription)
        if (
            customer is not None
            and subscription_service.resolve_customer(billing(), customer).id != sub.customer_id
        ):
            raise NotFound(
                "no such subscription for this customer", code="subscription_not_found", param="subscription"
            )
        result = preview_upcoming(billing(), customer_id=sub.customer_id, subscription_id=sub.id)
        return UpcomingOut(customer_id=sub.customer_id, invoice=of_preview(result))
    assert customer is not None
    found = subscription_service.resolve_customer(billing(), customer)
    return UpcomingOut(
        customer_id=found.id, invoice=of_preview(preview_upcoming(billing(), customer_id=found.id))
    )
