"""/v1/credit-notes: create against an open or paid invoice, list by invoice or customer, get."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api_routes.invoices import InvoiceLineOut, deps, end_dunning, public_base
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.invoices import CreditNote
from billing.money import to_decimal
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.dynamo import decode_cursor
from billing.services import credit_notes as service
from billing.services.documents import credit_note_pdf_url
from billing.settings import get_settings

router = Router()
Reason = Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory", "other"]


@cache
def repo() -> CreditNoteRepository:
    return CreditNoteRepository(table_name=get_settings().require("billing_table"))


class CreditNoteLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_line_id: StrictStr = Field(max_length=64)
    amount: StrictInt | None = Field(
        default=None, description="Minor units, net of tax (tax included for a tax-inclusive line)."
    )
    quantity: StrictInt | StrictStr | None = Field(default=None, description="Of the line's quantity.")


class CreateCreditNoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice: StrictStr = Field(max_length=64, description="The invoice (open or paid) to credit.")
    lines: list[CreditNoteLineIn] | None = Field(default=None, min_length=1, max_length=100)
    amount: StrictInt | None = Field(
        default=None,
        description="Minor units, tax included, spread over the invoice's lines (instead of lines).",
    )
    reason: Reason = "other"
    memo: StrictStr | None = Field(default=None, max_length=500)


class CreditNoteLineOut(InvoiceLineOut):
    invoice_line_id: str


class CreditNoteOut(BaseModel):
    object: Literal["credit_note"] = "credit_note"
    id: str
    number: str
    invoice: str
    customer: str
    currency: str
    lines: list[CreditNoteLineOut]
    subtotal: int = Field(description="Net of tax.")
    tax: int
    total: int = Field(description="How much the invoice is reduced, tax included.")
    reduces_amount_due: int = Field(description="Taken off what was still due on an open invoice.")
    credit_to_balance: int = Field(description="Added to the customer's credit balance.")
    refund_amount: int
    reason: Reason
    memo: str | None
    created_at: datetime
    pdf: str | None = Field(
        description="The credit note's PDF, under its invoice's hosted page (no API key needed)."
    )

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteOut:
        lines = [
            CreditNoteLineOut(**InvoiceLineOut.of(line).model_dump(), invoice_line_id=line.id)
            for line in note.lines
        ]
        return cls(
            id=note.id, number=note.number, invoice=note.invoice_id, customer=note.customer_id,
            currency=note.currency, lines=lines, subtotal=note.subtotal, tax=note.tax, total=note.total,
            reduces_amount_due=note.reduces_amount_due, credit_to_balance=note.credit_to_balance,
            refund_amount=note.refund_amount, reason=note.reason, memo=note.memo, created_at=note.created_at,
            pdf=credit_note_pdf_url(public_base(), note.hosted_token, note.id) if note.hosted_token else None,
        )  # fmt: skip


@router.post("/v1/credit-notes", status_code=201, tags=["credit-notes"], summary="Create a credit note")
def create_credit_note(body: CreateCreditNoteRequest) -> CreditNoteOut:
    lines = None
    if body.lines is not None:
        lines = tuple(
            service.CreditLine(
                invoice_line_id=line.invoice_line_id,
                amount=line.amount,
                quantity=to_decimal(line.quantity, param=f"lines.{i}.quantity")
                if line.quantity is not None
                else None,
            )
            for i, line in enumerate(body.lines)
        )
    request = service.CreditNoteRequest(
        invoice=body.invoice, lines=lines, amount=body.amount, reason=body.reason, memo=body.memo
    )
    actor = current_principal(router).key_id  # type: ignore[arg-type]
    note = service.create_credit_note(deps(), repo(), request, actor=actor)
    if note.reduces_amount_due:  # it may have settled the invoice: its dunning ends now (best effort)
        end_dunning(note.invoice_id)
    return CreditNoteOut.of(note)


@router.get(
    "/v1/credit-notes", tags=["credit-notes"], summary="List credit notes of an invoice or a customer"
)
def list_credit_notes(
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    invoice: Annotated[
        str | None, Query(max_length=64, description="An invoice id (in number order).")
    ] = None,
    customer: Annotated[str | None, Query(max_length=128, description="A customer (newest first).")] = None,
) -> ListResponse[CreditNoteOut]:
    index = "gsi1" if invoice is not None else "gsi2"
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", f"{index}pk", f"{index}sk"})
    items, last = service.list_credit_notes(
        deps(), repo(), invoice=invoice, customer=customer, limit=limit, cursor=cursor
    )
    return page([CreditNoteOut.of(n) for n in items], last)


@router.get("/v1/credit-notes/<credit_note_id>", tags=["credit-notes"], summary="Get a credit note")
def get_credit_note(
    credit_note_id: Annotated[str, Path(pattern=r"^cn_[0-9a-f]{16}$")],
) -> CreditNoteOut:
    return CreditNoteOut.of(service.get_credit_note(repo(), credit_note_id))
