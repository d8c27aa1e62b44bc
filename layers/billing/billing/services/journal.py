"""The accounting export: the journal entries of a window (``GET /v1/exports/journal``).

Fetches the window's events (``JOURNAL#{yyyy-mm}``), payments and refunds, the invoices and credit
notes they name, and hands them to the pure builder (``billing.accounting.journal``). Also the
journal events the lifecycle writes in its transactions (``journal_action``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.accounting.journal import build_journal
from billing.errors import ValidationFailed
from billing.models.invoices import CreditNote, Invoice
from billing.models.journal import AccountCodes, JournalEntry, JournalEvent, JournalEventKind
from billing.models.payments import Payment
from billing.observability import logger, metrics
from billing.repositories.journal import JournalRepository, event_put
from billing.repositories.transactions import timestamp

MAX_WINDOW = timedelta(days=366)
PAYMENT_SETTLEMENT_LAG = timedelta(days=35)
"""Payments are listed by creation month; one settled in the window was created at most this long
before it (card payments settle at once, bank debits within days)."""

_SUFFIX: dict[JournalEventKind, str] = {
    "invoice_finalized": "finalized",
    "invoice_paid": "paid",
    "invoice_uncollectible": "uncollectible",
    "invoice_voided": "voided",
    "credit_note_issued": "issued",
    "payment_settled": "settled",
}


@dataclass(frozen=True, kw_only=True)
class Journal:
    repo: JournalRepository
    accounts: AccountCodes


def journal_from_settings(settings: Any) -> Journal:
    return Journal(
        repo=JournalRepository(table_name=settings.require("billing_table")), accounts=settings.account_codes
    )


# --------------------------------------------------------------------------- events (written by the lifecycle)


def invoice_event(
    kind: JournalEventKind,
    invoice: Invoice,
    *,
    at: datetime,
    amount: int = 0,
    written_off: int = 0,
    out_of_band: bool = False,
    recovered: bool = False,
) -> dict[str, Any]:
    """The Put of an invoice's journal event, for the transaction of the state change."""
    return event_put(
        JournalEvent(
            entry_id=f"{invoice.id}_{_SUFFIX[kind]}", kind=kind, at=at, invoice_id=invoice.id,
            customer_id=invoice.customer_id, currency=invoice.currency, amount=amount,
            written_off=written_off, out_of_band=out_of_band, recovered=recovered,
        )
    )  # fmt: skip


def credit_note_event(note: CreditNote) -> dict[str, Any]:
    return event_put(
        JournalEvent(
            entry_id=f"{note.id}_issued", kind="credit_note_issued", at=note.created_at,
            invoice_id=note.invoice_id, credit_note_id=note.id, customer_id=note.customer_id,
            currency=note.currency,
        )
    )  # fmt: skip


def payment_event(payment: Payment, invoice: Invoice, *, applied: int, overpaid: int) -> dict[str, Any]:
    """The Put of a captured provider payment's journal event, for the collector's transaction:
    ``applied`` settled the invoice (``min(amount, amount_remaining)``), ``overpaid`` went to the
    credit balance. Without it the export falls back to the payment listing (docs/accounting.md)."""
    assert payment.settled_at is not None
    return event_put(
        JournalEvent(
            entry_id=f"{payment.id}_settled", kind="payment_settled", at=payment.settled_at,
            invoice_id=payment.invoice_id, customer_id=payment.customer_id, currency=payment.currency,
            amount=applied, overpaid=overpaid, payment_id=payment.id, provider=payment.provider,
            recovered=invoice.status == "uncollectible",
        )
    )  # fmt: skip


def status_change_event(current: Invoice, new: Invoice) -> dict[str, Any] | None:
    """The journal event of a lifecycle change from ``current`` to ``new`` (None if it posts nothing)."""
    if new.status == "paid" and current.status != "paid" and new.paid_at is not None:
        return invoice_event(
            "invoice_paid", new, at=new.paid_at, amount=new.amount_paid - current.amount_paid,
            out_of_band=new.paid_out_of_band, recovered=current.status == "uncollectible",
        )  # fmt: skip
    if new.status == "uncollectible" and new.marked_uncollectible_at is not None:
        return invoice_event(
            "invoice_uncollectible", new, at=new.marked_uncollectible_at, amount=current.amount_remaining
        )
    if new.status == "void" and new.voided_at is not None:
        written_off = current.amount_remaining if current.status == "uncollectible" else 0
        return invoice_event(
            "invoice_voided", new, at=new.voided_at, amount=current.amount_remaining - written_off,
            written_off=written_off,
        )  # fmt: skip
    return None


# --------------------------------------------------------------------------- the export


def check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """UTC bounds of [start, end); 422 when reversed or longer than 366 days."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if end <= start:
        raise ValidationFailed("to must be after from", code="invalid_window", param="to")
    if end - start > MAX_WINDOW:
        raise ValidationFailed(
            "the window is longer than 366 days; export it in parts", code="window_too_long", param="to"
        )
    return start.astimezone(UTC), end.astimezone(UTC)


def export_journal(
    deps: Journal, *, start: datetime, end: datetime, currency: str | None = None
) -> list[JournalEntry]:
    """The balanced entries of every event dated in [start, end), by date then id."""
    start, end = check_window(start, end)
    events = deps.repo.events_between(start, end)
    payments = [
        p
        for p in deps.repo.payments_created_between(start - PAYMENT_SETTLEMENT_LAG, end)
        if p.settled_at is not None and start <= p.settled_at < end
    ]
    refunds = [r for r in deps.repo.refunds_created_between(start, end) if start <= r.created_at < end]
    invoice_ids = [e.invoice_id for e in events] + [p.invoice_id for p in payments]
    invoice_ids += [r.invoice_id for r in refunds]
    invoices = deps.repo.invoices(invoice_ids)
    notes = deps.repo.credit_notes(e.credit_note_id for e in events if e.credit_note_id)
    entries = build_journal(
        events=events, invoices=invoices, credit_notes=notes, payments=payments, refunds=refunds,
        accounts=deps.accounts,
    )  # fmt: skip
    if currency is not None:
        entries = [e for e in entries if e.currency == currency]
    logger.info(
        "journal exported", start=timestamp(start), end=timestamp(end), events=len(events),
        entries=len(entries),
    )  # fmt: skip
    metrics.add_metric(name="JournalExports", unit="Count", value=1)
    return entries
