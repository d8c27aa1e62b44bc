"""/v1/exports/journal: the accounting journal of a window, as JSON or CSV. See docs/accounting.md."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from billing.accounting import formats
from billing.errors import ValidationFailed
from billing.models.journal import AccountRole, EntryKind, JournalEntry
from billing.money import normalize_currency
from billing.services import journal as service
from billing.settings import get_settings

router = Router()
ExportFormat = Literal["json", "csv", "xero_csv", "quickbooks_csv"]
FORMATS: tuple[str, ...] = ("json", "csv", "xero_csv", "quickbooks_csv")
CSV = "text/csv; charset=utf-8"
JSON = "application/json"


@cache
def deps() -> service.Journal:
    return service.journal_from_settings(get_settings())


class JournalLineOut(BaseModel):
    account: AccountRole
    account_code: str
    account_name: str
    debit: int = Field(description="Minor units (0 on a credit line).")
    credit: int = Field(description="Minor units (0 on a debit line).")
    description: str
    tax_rate_id: str | None
    invoice_line_id: str | None


class JournalEntryOut(BaseModel):
    object: Literal["journal_entry"] = "journal_entry"
    id: str = Field(description="Deterministic, one per source event (in_…_finalized, cn_…_issued, …).")
    kind: EntryKind
    date: datetime
    currency: str
    customer: str
    invoice: str | None
    invoice_number: str | None
    credit_note: str | None
    payment: str | None
    refund: str | None
    narration: str
    journal_no: str = Field(description="Short number for QuickBooks (≤ 21 characters).")
    total_debit: int
    total_credit: int
    lines: list[JournalLineOut]

    @classmethod
    def of(cls, entry: JournalEntry) -> JournalEntryOut:
        return cls(
            id=entry.id, kind=entry.kind, date=entry.date, currency=entry.currency, customer=entry.customer_id,
            invoice=entry.invoice_id, invoice_number=entry.invoice_number, credit_note=entry.credit_note_id,
            payment=entry.payment_id, refund=entry.refund_id, narration=entry.narration,
            journal_no=formats.journal_no(entry), total_debit=entry.total_debit,
            total_credit=entry.total_credit,
            lines=[JournalLineOut.model_validate(line.model_dump()) for line in entry.lines],
        )  # fmt: skip


class JournalOut(BaseModel):
    object: Literal["journal"] = "journal"
    start: datetime = Field(description="The window's start (included), UTC.")
    end: datetime = Field(description="The window's end (excluded), UTC.")
    data: list[JournalEntryOut]


@router.get(
    "/v1/exports/journal",
    tags=["exports"],
    summary="Export the accounting journal of a window (JSON, CSV, Xero or QuickBooks CSV)",
    responses={
        200: {
            "description": "The entries dated in [from, to), by date then id; every entry balances.",
            "content": {JSON: {"model": JournalOut}, "text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def export_journal(
    *,
    start: Annotated[datetime, Query(alias="from", description="Window start (included), ISO 8601.")],
    end: Annotated[datetime, Query(alias="to", description="Window end (excluded), at most 366 days on.")],
    format: Annotated[
        str, Query(max_length=20, description="json (default), csv, xero_csv or quickbooks_csv.")
    ] = "json",
    currency: Annotated[
        str | None,
        Query(max_length=3, description="Only this currency's entries (Xero journals are single-currency)."),
    ] = None,
) -> Response[str]:
    if format not in FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(FORMATS)}", code="unknown_format", param="format"
        )
    wanted = normalize_currency(currency) if currency is not None else None
    entries = service.export_journal(deps(), start=start, end=end, currency=wanted)
    bounds = service.check_window(start, end)
    if format == "json":
        body = JournalOut(start=bounds[0], end=bounds[1], data=[JournalEntryOut.of(e) for e in entries])
        return Response(status_code=200, content_type=JSON, body=body.model_dump_json())
    layout = cast(formats.CsvLayout, format)
    filename = f"journal_{bounds[0]:%Y%m%d}_{bounds[1]:%Y%m%d}_{format}.csv"
    return Response(
        status_code=200,
        content_type=CSV,
        body=formats.to_csv(entries, layout, deps().accounts),
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
