"""Billing events in, balanced double-entry journal entries out. Pure: no I/O, no clock.

One entry per source event, with a deterministic id (the source id and what happened), dated by
the event. The postings (docs/accounting.md):

| event | debit | credit |
| --- | --- | --- |
| invoice finalized | AR total | revenue per line (net of its discount and of inclusive tax), tax payable per rate |
| credit applied (at finalization) | customer credit | AR |
| invoice paid out of band | cash | AR (bad debt, recovering a write-off) |
| provider payment | clearing | AR what it settled, customer credit the overpayment |
| credit note | revenue per line, tax payable per rate | AR (what was still due), customer credit (the rest) |
| uncollectible | bad debt | AR (what was still due) |
| void | revenue per line, tax payable per rate (the finalization reversed) | AR (still due), bad debt (written off), customer credit (credit applied and paid) |
| refund | customer credit (through a credit note) or AR | clearing |

Every entry is checked balanced (Σ debit = Σ credit) when built: ``UnbalancedEntry`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from billing.errors import BillingError
from billing.models.invoices import CreditNote, Invoice, InvoiceLine
from billing.models.journal import (
    Account,
    AccountCodes,
    AccountRole,
    EntryKind,
    JournalEntry,
    JournalEvent,
    JournalLine,
)
from billing.models.payments import Payment, Refund

SETTLED_PAYMENT_STATUSES = frozenset({"succeeded", "refunded", "partially_refunded", "disputed"})
"""A payment in one of these states captured money (a refund or a dispute is its own event)."""


class UnbalancedEntry(BillingError):
    """An entry's debits and credits differ: a bug in the postings, never a user error."""

    default_code = "journal_unbalanced"


@dataclass(frozen=True, slots=True)
class _Posting:
    role: AccountRole
    amount: int
    """Signed: positive debits, negative credits."""
    description: str
    tax_rate_id: str | None = None
    invoice_line_id: str | None = None


def _account(accounts: AccountCodes, role: AccountRole, tax_rate_id: str | None = None) -> Account:
    if role == "tax_payable" and tax_rate_id is not None and tax_rate_id in accounts.tax_accounts:
        return accounts.tax_accounts[tax_rate_id]
    if role == "discounts":
        assert accounts.discounts is not None
        return accounts.discounts
    account: Account = getattr(accounts, role)
    return account


def _entry(
    accounts: AccountCodes,
    postings: Iterable[_Posting],
    *,
    id: str,  # the entry id
    kind: EntryKind,
    date: datetime,
    currency: str,
    customer_id: str,
    narration: str,
    invoice_id: str | None = None,
    invoice_number: str | None = None,
    credit_note_id: str | None = None,
    payment_id: str | None = None,
    refund_id: str | None = None,
) -> JournalEntry | None:
    """The entry of the non-zero postings (None when nothing moves); raises ``UnbalancedEntry``."""
    lines = []
    for p in postings:
        if p.amount == 0:
            continue
        account = _account(accounts, p.role, p.tax_rate_id)
        lines.append(
            JournalLine(
                account=p.role,
                account_code=account.code,
                account_name=account.name,
                debit=max(p.amount, 0),
                credit=max(-p.amount, 0),
                description=p.description,
                tax_rate_id=p.tax_rate_id,
                invoice_line_id=p.invoice_line_id,
            )
        )
    if not lines:
        return None
    entry = JournalEntry(
        id=id, kind=kind, date=date, currency=currency, customer_id=customer_id, invoice_id=invoice_id,
        invoice_number=invoice_number, credit_note_id=credit_note_id, payment_id=payment_id,
        refund_id=refund_id, narration=narration, lines=lines,
    )  # fmt: skip
    check_balanced(entry)
    return entry


def check_balanced(entry: JournalEntry) -> None:
    if entry.total_debit != entry.total_credit:
        raise UnbalancedEntry(
            f"journal entry {entry.id} is unbalanced: debits {entry.total_debit}, "
            f"credits {entry.total_credit}"
        )


# --------------------------------------------------------------------------- revenue and tax of lines


def _inclusive_tax(line: InvoiceLine) -> int:
    return sum(t.amount for t in line.taxes if t.inclusive)


def _revenue_and_tax(
    accounts: AccountCodes, lines: Sequence[InvoiceLine], *, sign: int, label: str
) -> list[_Posting]:
    """Revenue per line and tax payable per rate, signed ``sign`` (−1 credits, +1 debits).

    A line earns ``amount − discount − inclusive tax`` (exclusive tax is on top); with a discounts
    account the revenue is ``amount − inclusive tax`` and the discount is posted against it."""
    postings: list[_Posting] = []
    tax_by_rate: dict[str, int] = {}
    gross = accounts.discounts is not None
    for line in lines:
        earned = line.amount - _inclusive_tax(line) - (0 if gross else line.discount)
        postings.append(_Posting("revenue", sign * earned, f"{label}: {line.description}", None, line.id))
        if gross and line.discount:
            postings.append(
                _Posting(
                    "discounts",
                    -sign * line.discount,
                    f"{label}: discount on {line.description}",
                    None,
                    line.id,
                )
            )
        for tax in line.taxes:
            tax_by_rate[tax.rate_id] = tax_by_rate.get(tax.rate_id, 0) + tax.amount
    for rate_id, amount in sorted(tax_by_rate.items()):
        percentage = next((t.percentage for line in lines for t in line.taxes if t.rate_id == rate_id), "")
        postings.append(
            _Posting("tax_payable", sign * amount, f"{label}: tax {rate_id} {percentage}%", rate_id)
        )
    return postings


# --------------------------------------------------------------------------- invoice events


def _invoice_label(invoice: Invoice) -> str:
    return f"Invoice {invoice.number or invoice.id}"


def finalization_entry(invoice: Invoice, *, at: datetime, accounts: AccountCodes) -> JournalEntry | None:
    """Dr AR total / Cr revenue per line / Cr tax payable per rate."""
    label = _invoice_label(invoice)
    postings = [
        _Posting("accounts_receivable", invoice.total, label),
        *_revenue_and_tax(accounts, invoice.lines, sign=-1, label=label),
    ]
    return _entry(
        accounts, postings, id=f"{invoice.id}_finalized", kind="invoice_finalized", date=at,
        currency=invoice.currency, customer_id=invoice.customer_id, narration=f"{label} issued",
        invoice_id=invoice.id, invoice_number=invoice.number,
    )  # fmt: skip


def credit_applied_entry(invoice: Invoice, *, at: datetime, accounts: AccountCodes) -> JournalEntry | None:
    """The customer's credit balance paid part of the invoice: Dr customer credit / Cr AR."""
    label = _invoice_label(invoice)
    postings = [
        _Posting("customer_credit", invoice.credit_applied, f"{label}: credit balance applied"),
        _Posting("accounts_receivable", -invoice.credit_applied, f"{label}: credit balance applied"),
    ]
    return _entry(
        accounts, postings, id=f"{invoice.id}_credit_applied", kind="credit_applied", date=at,
        currency=invoice.currency, customer_id=invoice.customer_id,
        narration=f"{label} credit balance applied", invoice_id=invoice.id, invoice_number=invoice.number,
    )  # fmt: skip


def paid_entry(invoice: Invoice, event: JournalEvent, *, accounts: AccountCodes) -> JournalEntry | None:
    """An out-of-band payment: Dr cash / Cr AR (Cr bad debt when it recovers a write-off).

    A payment through the provider posts nothing here: its payment record does (``payment_entry``)."""
    if not event.out_of_band:
        return None
    label = _invoice_label(invoice)
    credited: AccountRole = "bad_debt" if event.recovered else "accounts_receivable"
    postings = [
        _Posting("cash", event.amount, f"{label}: paid out of band"),
        _Posting(credited, -event.amount, f"{label}: paid out of band"),
    ]
    return _entry(
        accounts, postings, id=event.entry_id, kind="invoice_paid", date=event.at,
        currency=invoice.currency, customer_id=invoice.customer_id, narration=f"{label} paid",
        invoice_id=invoice.id, invoice_number=invoice.number,
    )  # fmt: skip


def uncollectible_entry(
    invoice: Invoice, event: JournalEvent, *, accounts: AccountCodes
) -> JournalEntry | None:
    """Written off: Dr bad debt / Cr AR what was still due."""
    label = _invoice_label(invoice)
    postings = [
        _Posting("bad_debt", event.amount, f"{label}: written off"),
        _Posting("accounts_receivable", -event.amount, f"{label}: written off"),
    ]
    return _entry(
        accounts, postings, id=event.entry_id, kind="invoice_uncollectible", date=event.at,
        currency=invoice.currency, customer_id=invoice.customer_id,
        narration=f"{label} marked uncollectible", invoice_id=invoice.id, invoice_number=invoice.number,
    )  # fmt: skip


def void_entry(invoice: Invoice, event: JournalEvent, *, accounts: AccountCodes) -> JournalEntry | None:
    """The finalization reversed: Dr revenue per line, Dr tax per rate / Cr AR what was still
    receivable, Cr bad debt what had been written off, Cr customer credit the rest (credit
    balance applied and anything paid: owed back to the customer)."""
    label = _invoice_label(invoice)
    owed_back = invoice.total - event.amount - event.written_off
    postings = [
        *_revenue_and_tax(accounts, invoice.lines, sign=+1, label=f"{label} voided"),
        _Posting("accounts_receivable", -event.amount, f"{label} voided"),
        _Posting("bad_debt", -event.written_off, f"{label} voided: write-off reversed"),
        _Posting("customer_credit", -owed_back, f"{label} voided: credit applied and paid"),
    ]
    return _entry(
        accounts, postings, id=event.entry_id, kind="invoice_voided", date=event.at,
        currency=invoice.currency, customer_id=invoice.customer_id, narration=f"{label} voided",
        invoice_id=invoice.id, invoice_number=invoice.number,
    )  # fmt: skip


def credit_note_entry(
    note: CreditNote, *, invoice_number: str | None, accounts: AccountCodes
) -> JournalEntry | None:
    """Dr revenue per line, Dr tax per rate / Cr AR what it took off the amount due, Cr customer
    credit the rest (to the balance, or refunded: the refund then debits customer credit)."""
    label = f"Credit note {note.number}"
    postings = [
        *_revenue_and_tax(accounts, note.lines, sign=+1, label=label),
        _Posting("accounts_receivable", -note.reduces_amount_due, f"{label}: off the amount due"),
        _Posting(
            "customer_credit", -(note.total - note.reduces_amount_due), f"{label}: to the credit balance"
        ),
    ]
    return _entry(
        accounts, postings, id=f"{note.id}_issued", kind="credit_note", date=note.created_at,
        currency=note.currency, customer_id=note.customer_id, narration=f"{label} issued",
        invoice_id=note.invoice_id, invoice_number=invoice_number, credit_note_id=note.id,
    )  # fmt: skip


# --------------------------------------------------------------------------- payments and refunds


def payment_entry(
    payment: Payment, *, applied_to_invoice: int, invoice_number: str | None, accounts: AccountCodes
) -> JournalEntry | None:
    """A captured provider payment: Dr clearing the amount / Cr AR ``applied_to_invoice`` (what it
    settled) / Cr customer credit the overpayment. ``manual`` payments debit cash instead.
    None for a payment that captured nothing."""
    if payment.status not in SETTLED_PAYMENT_STATUSES or payment.settled_at is None:
        return None
    applied = max(0, min(applied_to_invoice, payment.amount))
    label = f"Payment {payment.id} of invoice {invoice_number or payment.invoice_id}"
    debited: AccountRole = "cash" if payment.provider == "manual" else "clearing"
    postings = [
        _Posting(debited, payment.amount, label),
        _Posting("accounts_receivable", -applied, label),
        _Posting("customer_credit", -(payment.amount - applied), f"{label}: overpayment"),
    ]
    return _entry(
        accounts, postings, id=f"{payment.id}_settled", kind="payment", date=payment.settled_at,
        currency=payment.currency, customer_id=payment.customer_id, narration=label,
        invoice_id=payment.invoice_id, invoice_number=invoice_number, payment_id=payment.id,
    )  # fmt: skip


def payment_event_entry(
    invoice: Invoice, event: JournalEvent, *, accounts: AccountCodes
) -> JournalEntry | None:
    """A provider payment recorded by the collector with what it settled (exact, unlike the
    ``payment_entry`` fallback): Dr clearing / Cr AR ``amount`` / Cr customer credit ``overpaid``."""
    assert event.payment_id is not None
    label = f"Payment {event.payment_id} of invoice {invoice.number or invoice.id}"
    debited: AccountRole = "cash" if event.provider == "manual" else "clearing"
    postings = [
        _Posting(debited, event.amount + event.overpaid, label),
        _Posting("bad_debt" if event.recovered else "accounts_receivable", -event.amount, label),
        _Posting("customer_credit", -event.overpaid, f"{label}: overpayment"),
    ]
    return _entry(
        accounts, postings, id=event.entry_id, kind="payment", date=event.at, currency=invoice.currency,
        customer_id=invoice.customer_id, narration=label, invoice_id=invoice.id,
        invoice_number=invoice.number, payment_id=event.payment_id,
    )  # fmt: skip


def refund_entry(
    refund: Refund, *, customer_id: str, invoice_number: str | None, accounts: AccountCodes
) -> JournalEntry | None:
    """Money sent back: Dr customer credit (a credit note put it there) or Dr AR (a refund without
    a credit note: the invoice is owed again) / Cr clearing."""
    debited: AccountRole = "customer_credit" if refund.credit_note_id else "accounts_receivable"
    label = f"Refund {refund.id} of invoice {invoice_number or refund.invoice_id}"
    postings = [_Posting(debited, refund.amount, label), _Posting("clearing", -refund.amount, label)]
    return _entry(
        accounts, postings, id=f"{refund.id}_refunded", kind="refund", date=refund.created_at,
        currency=refund.currency, customer_id=customer_id, narration=label, invoice_id=refund.invoice_id,
        invoice_number=invoice_number, credit_note_id=refund.credit_note_id, refund_id=refund.id,
    )  # fmt: skip


# --------------------------------------------------------------------------- the journal


class MissingSource(BillingError):
    """A journal event names an invoice or credit note that is not there (a data fault)."""

    default_code = "journal_source_missing"


def entries_for_event(
    event: JournalEvent,
    *,
    invoices: Mapping[str, Invoice],
    credit_notes: Mapping[str, CreditNote],
    accounts: AccountCodes,
) -> list[JournalEntry]:
    invoice = invoices.get(event.invoice_id)
    if invoice is None:
        raise MissingSource(f"journal event {event.entry_id}: invoice {event.invoice_id} not found")
    found: list[JournalEntry | None]
    match event.kind:
        case "invoice_finalized":
            found = [
                finalization_entry(invoice, at=event.at, accounts=accounts),
                credit_applied_entry(invoice, at=event.at, accounts=accounts),
            ]
        case "invoice_paid":
            found = [paid_entry(invoice, event, accounts=accounts)]
        case "invoice_uncollectible":
            found = [uncollectible_entry(invoice, event, accounts=accounts)]
        case "invoice_voided":
            found = [void_entry(invoice, event, accounts=accounts)]
        case "payment_settled":
            found = [payment_event_entry(invoice, event, accounts=accounts)]
        case "credit_note_issued":
            note = credit_notes.get(event.credit_note_id or "")
            if note is None:
                raise MissingSource(f"journal event {event.entry_id}: credit note not found")
            found = [credit_note_entry(note, invoice_number=invoice.number, accounts=accounts)]
    return [e for e in found if e is not None]


def build_journal(
    *,
    events: Iterable[JournalEvent],
    invoices: Mapping[str, Invoice],
    credit_notes: Mapping[str, CreditNote],
    payments: Iterable[Payment] = (),
    refunds: Iterable[Refund] = (),
    accounts: AccountCodes,
) -> list[JournalEntry]:
    """Every entry of the events, payments and refunds, by date then id (each one balanced).

    A payment with its own ``payment_settled`` event posts from it (what it settled is recorded).
    Otherwise its ``applied_to_invoice`` is what its invoice shows as paid (``amount_paid``: exact
    when one captured payment settles the invoice); without its invoice, all of it is customer credit."""
    entries: dict[str, JournalEntry] = {}
    for event in events:
        for entry in entries_for_event(
            event, invoices=invoices, credit_notes=credit_notes, accounts=accounts
        ):
            entries[entry.id] = entry
    for payment in payments:
        if f"{payment.id}_settled" in entries:  # the collector recorded it exactly
            continue
        invoice = invoices.get(payment.invoice_id)
        paid = payment_entry(
            payment,
            applied_to_invoice=invoice.amount_paid
            if invoice is not None and not invoice.paid_out_of_band
            else 0,
            invoice_number=invoice.number if invoice is not None else None,
            accounts=accounts,
        )
        if paid is not None:
            entries[paid.id] = paid
    for refund in refunds:
        invoice = invoices.get(refund.invoice_id)
        if invoice is None:
            raise MissingSource(f"refund {refund.id}: invoice {refund.invoice_id} not found")
        sent = refund_entry(
            refund, customer_id=invoice.customer_id, invoice_number=invoice.number, accounts=accounts
        )
        if sent is not None:
            entries[sent.id] = sent
    return sorted(entries.values(), key=lambda e: (e.date, e.id))
