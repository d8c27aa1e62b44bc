"""/v1/invoices: one-off invoices, list (customer, status, overdue; cursor), get, lines, and the
lifecycle: finalize, void, mark-uncollectible, pay (out of band). See docs/invoices.md."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from api_routes import repos
from billing import clock
from billing.errors import Conflict, ValidationFailed
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.invoices import Invoice, InvoiceLine, InvoiceStatus, OutOfBandMethod
from billing.money import to_decimal
from billing.repositories.dynamo import decode_cursor, encode_cursor
from billing.services import invoices as service
from billing.services.documents import hosted_url, invoice_pdf_url
from billing.settings import get_settings

router = Router()

INVOICE_ID = r"^in_[0-9a-f]{16}$"
InvoiceId = Annotated[str, Path(pattern=INVOICE_ID, description="The invoice's id (in_...).")]
EMBEDDED_LINES = 10
"""Lines shown inside an invoice; the rest through GET /v1/invoices/{id}/lines."""


@cache
def deps() -> service.Invoicing:
    return service.invoicing_from_settings(get_settings())


def end_dunning(invoice_id: str) -> None:
    """Right after the invoice is paid, voided or written off here: end its dunning at once (best
    effort, idempotent; the hourly dunning run catches what this misses)."""
    from billing.services.dunning import after_settlement  # built on first use, like repos.dunning

    after_settlement(repos.dunning(), invoice_id)


# --------------------------------------------------------------------------- contract


class OneOffLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: StrictStr = Field(max_length=500, description="Printed on the invoice; required to send it.")
    quantity: StrictInt | StrictStr = Field(default=1, description="An integer or a decimal string, > 0.")
    unit_amount: StrictInt | None = Field(default=None, description="Unit price in minor units.")
    unit_amount_decimal: StrictStr | None = Field(
        default=None, max_length=40, description="Unit price in minor units as a decimal string ('0.5')."
    )
    tax_rates: list[StrictStr] = Field(default_factory=list, max_length=5, description="Tax rate ids.")


class CreateInvoiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: StrictStr = Field(max_length=128, description="Customer id (cus_...) or external_id.")
    currency: StrictStr | None = Field(default=None, description="Defaults to the customer's currency.")
    lines: list[OneOffLineIn] = Field(min_length=1, max_length=service.MAX_ONE_OFF_LINES)
    coupons: list[StrictStr] = Field(default_factory=list, max_length=5, description="Coupon codes.")
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    days_until_due: StrictInt | None = Field(
        default=None,
        ge=0,
        le=365,
        description="For send_invoice (default 30): due this many days after finalization.",
    )
    auto_finalize: StrictBool = Field(
        default=False, description="Finalize at once (held with hold_reasons if a check fails)."
    )


class PayInvoiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_at: datetime | None = Field(default=None, description="When the money arrived (default: now).")
    method: OutOfBandMethod | None = Field(
        default=None,
        description="How the money came (printed on the receipt): bank_transfer, cheque, cash, other.",
    )


class LineTaxOut(BaseModel):
    rate_id: str
    percentage: str
    amount: int
    inclusive: bool
    legal_mention: str | None


class InvoiceLineOut(BaseModel):
    object: Literal["line_item"] = "line_item"
    id: str
    kind: str
    description: str
    quantity: str
    unit_amount_decimal: str | None
    amount: int = Field(description="Rounded once (half-up) from amount_exact.")
    amount_exact: str
    discount: int
    taxes: list[LineTaxOut]
    tax_rates: list[str]
    tax_inclusive: bool
    period_start: datetime | None
    period_end: datetime | None
    subscription_id: str | None
    subscription_item_id: str | None
    plan_code: str | None
    plan_version: int | None
    metric_code: str | None
    group: str | None
    breakdown: list[dict[str, Any]] = Field(
        description="How the amount was reached; each has an explanation."
    )

    @classmethod
    def of(cls, line: InvoiceLine) -> InvoiceLineOut:
        return cls(
            id=line.id, kind=line.kind, description=line.description, quantity=line.quantity,
            unit_amount_decimal=line.unit_amount_decimal, amount=line.amount, amount_exact=line.amount_exact,
            discount=line.discount,
            taxes=[LineTaxOut(**t.model_dump()) for t in line.taxes], tax_rates=list(line.tax_rate_ids),
            tax_inclusive=line.tax_inclusive, period_start=line.period_start, period_end=line.period_end,
            subscription_id=line.subscription_id, subscription_item_id=line.subscription_item_id,
            plan_code=line.plan_code, plan_version=line.plan_version, metric_code=line.metric_code,
            group=line.group, breakdown=list(line.breakdown),
        )  # fmt: skip


class TaxTotalOut(BaseModel):
    rate_id: str
    display_name: str
    percentage: str
    inclusive: bool
    taxable_amount: int
    amount: int
    legal_mention: str | None


class CouponTotalOut(BaseModel):
    coupon: str
    amount: int


class HoldReasonOut(BaseModel):
    code: str
    message: str


class LinesOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[InvoiceLineOut]
    has_more: bool
    url: str


class InvoiceOut(BaseModel):
    object: Literal["invoice"] = "invoice"
    id: str
    number: str | None = Field(description="Assigned at finalization from a gapless sequence.")
    customer: str
    status: InvoiceStatus
    overdue: bool = Field(description="Open, unpaid and past its due date.")
    origin: str
    collection_method: str
    currency: str
    billing_date: datetime
    period_start: datetime | None
    period_end: datetime | None
    subscriptions: list[str]
    lines: LinesOut
    subtotal: int
    discount: int
    coupons: list[CouponTotalOut]
    taxes: list[TaxTotalOut]
    tax: int = Field(description="Exclusive tax added to the total.")
    total: int
    credit_applied: int = Field(description="Taken from the customer's credit balance.")
    amount_due: int
    amount_paid: int
    amount_remaining: int
    credit_notes_total: int
    days_until_due: int | None
    due_date: datetime | None
    finalize_after: datetime | None = Field(description="A cycle draft finalizes on its own after this.")
    hold_reasons: list[HoldReasonOut] = Field(
        description="Why the draft was not finalized (pre-send checks)."
    )
    legal_mentions: list[str]
    hosted_invoice_url: str | None
    invoice_pdf: str | None = Field(
        description="The invoice's PDF (no API key needed, like the hosted page); null for a draft."
    )
    customer_details: dict[str, Any] = Field(description="The customer as printed, frozen at finalization.")
    paid_out_of_band: bool
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    marked_uncollectible_at: datetime | None

    @classmethod
    def of(cls, inv: Invoice) -> InvoiceOut:
        return cls(
            id=inv.id, number=inv.number, customer=inv.customer_id, status=inv.status,
            overdue=service.is_overdue(inv, clock.now()), origin=inv.origin,
            collection_method=inv.collection_method, currency=inv.currency, billing_date=inv.billing_date,
            period_start=inv.period_start, period_end=inv.period_end, subscriptions=list(inv.subscription_ids),
            lines=LinesOut(
                data=[InvoiceLineOut.of(line) for line in inv.lines[:EMBEDDED_LINES]],
                has_more=len(inv.lines) > EMBEDDED_LINES, url=f"/v1/invoices/{inv.id}/lines",
            ),
            subtotal=inv.subtotal, discount=inv.discount,
            coupons=[CouponTotalOut(coupon=c.coupon_code, amount=c.amount) for c in inv.coupons],
            taxes=[TaxTotalOut(**t.model_dump()) for t in inv.taxes], tax=inv.tax, total=inv.total,
            credit_applied=inv.credit_applied, amount_due=inv.amount_due, amount_paid=inv.amount_paid,
            amount_remaining=inv.amount_remaining, credit_notes_total=inv.credit_notes_total,
            days_until_due=inv.days_until_due, due_date=inv.due_date, finalize_after=inv.finalize_after,
            hold_reasons=[HoldReasonOut(**r) for r in inv.hold_reasons], legal_mentions=list(inv.legal_mentions),
            hosted_invoice_url=_hosted_url(inv), invoice_pdf=_pdf_url(inv),
            customer_details=dict(inv.customer_snapshot),
            paid_out_of_band=inv.paid_out_of_band, created_at=inv.created_at, updated_at=inv.updated_at,
            finalized_at=inv.finalized_at, paid_at=inv.paid_at, voided_at=inv.voided_at,
            marked_uncollectible_at=inv.marked_uncollectible_at,
        )  # fmt: skip


def public_base() -> str:
    """Where the customers' pages are: ``BILLING_PUBLIC_URL``, else this API's own domain."""
    base = get_settings().public_url
    if not base:
        domain = router.current_event.request_context.domain_name
        base = f"https://{domain}"
    return base


def _hosted_url(invoice: Invoice) -> str | None:
    if invoice.hosted_token is None:
        return None
    return hosted_url(public_base(), invoice.hosted_token)


def _pdf_url(invoice: Invoice) -> str | None:
    if invoice.hosted_token is None or invoice.status == "draft":
        return None
    return invoice_pdf_url(public_base(), invoice.hosted_token)


def _actor() -> str:
    return current_principal(router).key_id  # type: ignore[arg-type]


# --------------------------------------------------------------------------- routes


@router.post("/v1/invoices", status_code=201, tags=["invoices"], summary="Create a one-off invoice")
def create_invoice(body: CreateInvoiceRequest) -> InvoiceOut:
    request = service.OneOffInvoice(
        customer=body.customer,
        currency=body.currency,
        lines=tuple(_one_off_line(i, line) for i, line in enumerate(body.lines)),
        coupons=tuple(body.coupons),
        collection_method=body.collection_method,
        days_until_due=body.days_until_due,
        auto_finalize=body.auto_finalize,
    )
    result = service.create_one_off_invoice(deps(), request, actor=_actor())
    return InvoiceOut.of(result.invoice)


def _one_off_line(index: int, line: OneOffLineIn) -> service.OneOffLine:
    at = f"lines.{index}"
    if (line.unit_amount is None) == (line.unit_amount_decimal is None):
        raise ValidationFailed(
            "give exactly one of unit_amount and unit_amount_decimal",
            code="unit_amount_required",
            param=f"{at}.unit_amount",
        )
    unit: Decimal = (
        Decimal(line.unit_amount)
        if line.unit_amount is not None
        else to_decimal(line.unit_amount_decimal, param=f"{at}.unit_amount_decimal")
    )
    return service.OneOffLine(
        description=line.description,
        quantity=to_decimal(line.quantity, param=f"{at}.quantity"),
        unit_amount_decimal=unit,
        tax_rate_ids=tuple(line.tax_rates),
    )


@router.get("/v1/invoices", tags=["invoices"], summary="List invoices, newest first")
def list_invoices(
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    customer: Annotated[str | None, Query(max_length=128, description="Customer id or external_id.")] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    overdue: Annotated[bool, Query(description="Only open invoices past their due date.")] = False,
) -> ListResponse[InvoiceOut]:
    allowed = {"pk", "sk", "gsi1pk", "gsi1sk"} if customer else {"pk", "sk", "gsi2pk", "gsi2sk"}
    cursor = decode_cursor(starting_after, allowed_keys=allowed)
    items, last = service.list_invoices(
        deps(), customer=customer, status=status, overdue=overdue, limit=limit, cursor=cursor
    )
    return page([InvoiceOut.of(i) for i in items], last)


@router.get("/v1/invoices/<invoice_id>", tags=["invoices"], summary="Get an invoice")
def get_invoice(invoice_id: InvoiceId) -> InvoiceOut:
    return InvoiceOut.of(service.get_invoice(deps(), invoice_id))


@router.get("/v1/invoices/<invoice_id>/lines", tags=["invoices"], summary="List an invoice's lines")
def list_invoice_lines(
    invoice_id: InvoiceId,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[InvoiceLineOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"line"})
    invoice = service.get_invoice(deps(), invoice_id)
    lines, after = service.list_lines(invoice, limit=limit, starting_after=cursor["line"] if cursor else None)
    next_cursor = encode_cursor({"line": after}) if after else None
    return ListResponse[InvoiceLineOut](
        data=[InvoiceLineOut.of(line) for line in lines], has_more=after is not None, next_cursor=next_cursor
    )


@router.post("/v1/invoices/<invoice_id>/finalize", tags=["invoices"], summary="Finalize a draft invoice")
def finalize_invoice(invoice_id: InvoiceId) -> InvoiceOut:
    result = service.finalize_invoice(deps(), invoice_id, actor=_actor())
    if result.held:
        reasons = "; ".join(f"{r['code']}: {r['message']}" for r in result.invoice.hold_reasons)
        raise Conflict(
            f"invoice {invoice_id} is held and stays a draft ({reasons}); fix and finalize again",
            code="invoice_held",
            param="invoice_id",
        )
    return InvoiceOut.of(result.invoice)


class DeletedInvoiceOut(BaseModel):
    object: str = "invoice"
    id: str
    deleted: bool = True


@router.delete(
    "/v1/invoices/<invoice_id>",
    tags=["invoices"],
    summary="Delete a one-off draft invoice (a finalized one is voided instead)",
)
def delete_invoice(invoice_id: InvoiceId) -> DeletedInvoiceOut:
    invoice = service.delete_draft(deps(), invoice_id, actor=_actor())
    return DeletedInvoiceOut(id=invoice.id)


@router.post("/v1/invoices/<invoice_id>/void", tags=["invoices"], summary="Void a finalized invoice")
def void_invoice(invoice_id: InvoiceId) -> InvoiceOut:
    invoice = service.void_invoice(deps(), invoice_id, actor=_actor())
    end_dunning(invoice.id)  # its dunning ends now (best effort)
    return InvoiceOut.of(invoice)


@router.post(
    "/v1/invoices/<invoice_id>/mark-uncollectible", tags=["invoices"], summary="Mark an invoice uncollectible"
)
def mark_uncollectible(invoice_id: InvoiceId) -> InvoiceOut:
    invoice = service.mark_uncollectible(deps(), invoice_id, actor=_actor())
    end_dunning(invoice.id)  # its dunning ends now (best effort)
    return InvoiceOut.of(invoice)


@router.post(
    "/v1/invoices/<invoice_id>/pay",
    tags=["invoices"],
    summary="Record a payment made outside the payment provider (bank transfer, cheque)",
)
def pay_invoice(
    invoice_id: InvoiceId, body: Annotated[PayInvoiceRequest | None, Body()] = None
) -> InvoiceOut:
    paid_at = body.paid_at if body is not None else None
    if paid_at is not None and paid_at.tzinfo is None:
        raise ValidationFailed("paid_at needs a time zone (e.g. Z)", code="invalid_format", param="paid_at")
    method = body.method if body is not None else None
    invoice = service.mark_paid(deps(), invoice_id, actor=_actor(), paid_at=paid_at, method=method)
    end_dunning(invoice.id)  # its dunning ends now, the subscription recovers
    return InvoiceOut.of(invoice)
