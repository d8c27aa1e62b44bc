"""Journal entries as CSV (stdlib ``csv``): our own columns, and the import layouts of Xero (Manual
Journal import) and QuickBooks Online (Journal Entry import). Amounts are decimal major units,
computed exactly from minor units with ``billing.money.minor_to_major``. See docs/accounting.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Literal

from billing.models.journal import AccountCodes, JournalEntry, JournalLine
from billing.money import minor_to_major

CsvLayout = Literal["csv", "xero_csv", "quickbooks_csv"]

GENERIC_COLUMNS = (
    "entry_id", "date", "kind", "currency", "account_code", "account_name", "debit", "credit",
    "amount", "description", "narration", "tax_rate_id", "customer_id", "invoice_id",
    "invoice_number", "credit_note_id", "payment_id", "refund_id", "journal_no",
)  # fmt: skip
XERO_COLUMNS = (
    "Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount",
    "TrackingName1", "TrackingOption1",
)  # fmt: skip
QUICKBOOKS_COLUMNS = (
    "JournalNo", "JournalDate", "Currency", "Memo", "AccountName", "Debits", "Credits", "Description", "Name",
)  # fmt: skip

_ABBREVIATIONS = {
    "invoice_finalized": "INV",
    "credit_applied": "CRA",
    "invoice_paid": "PAY",
    "invoice_uncollectible": "BAD",
    "invoice_voided": "VOID",
    "credit_note": "CN",
    "payment": "PY",
    "refund": "RF",
}


def journal_no(entry: JournalEntry) -> str:
    """A short deterministic number (≤ 21 characters, QuickBooks' journal number limit):
    the kind and 16 hex digits of the entry id's SHA-256, e.g. ``INV-3f2a9c0e1b7d4a55``."""
    digest = hashlib.sha256(entry.id.encode()).hexdigest()[:16]
    return f"{_ABBREVIATIONS[entry.kind]}-{digest}"


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Free text (descriptions come from API callers) never starts a spreadsheet formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _major(amount: int, currency: str) -> str:
    return format(minor_to_major(amount, currency), "f")


def _signed(line: JournalLine) -> int:
    return line.debit - line.credit


def _generic(entry: JournalEntry, line: JournalLine, _accounts: AccountCodes) -> list[str]:
    return [
        entry.id, entry.date.date().isoformat(), entry.kind, entry.currency.upper(), line.account_code,
        _text(line.account_name), _major(line.debit, entry.currency) if line.debit else "",
        _major(line.credit, entry.currency) if line.credit else "", _major(_signed(line), entry.currency),
        _text(line.description), _text(entry.narration), line.tax_rate_id or "", entry.customer_id, entry.invoice_id or "",
        entry.invoice_number or "", entry.credit_note_id or "", entry.payment_id or "", entry.refund_id or "",
        journal_no(entry),
    ]  # fmt: skip


def _xero(entry: JournalEntry, line: JournalLine, accounts: AccountCodes) -> list[str]:
    # Xero groups rows with the same Narration and Date into one journal: the entry id keeps them apart.
    return [
        _text(f"{entry.narration} [{entry.id}]"), entry.date.strftime("%d/%m/%Y"), _text(line.description),
        line.account_code, accounts.xero_tax_rate, _major(_signed(line), entry.currency),
        "Customer", entry.customer_id,
    ]  # fmt: skip


def _quickbooks(entry: JournalEntry, line: JournalLine, _accounts: AccountCodes) -> list[str]:
    return [
        journal_no(entry), entry.date.strftime("%m/%d/%Y"), entry.currency.upper(), _text(f"{entry.narration} [{entry.id}]"),
        _text(line.account_name), _major(line.debit, entry.currency) if line.debit else "",
        _major(line.credit, entry.currency) if line.credit else "", _text(line.description), entry.customer_id,
    ]  # fmt: skip


_LAYOUTS: dict[str, tuple[Sequence[str], Callable[[JournalEntry, JournalLine, AccountCodes], list[str]]]] = {
    "csv": (GENERIC_COLUMNS, _generic),
    "xero_csv": (XERO_COLUMNS, _xero),
    "quickbooks_csv": (QUICKBOOKS_COLUMNS, _quickbooks),
}


def rows(entries: Sequence[JournalEntry], layout: CsvLayout, accounts: AccountCodes) -> Iterator[list[str]]:
    columns, row = _LAYOUTS[layout]
    yield list(columns)
    for entry in entries:
        for line in entry.lines:
            yield row(entry, line, accounts)


def to_csv(entries: Sequence[JournalEntry], layout: CsvLayout, accounts: AccountCodes) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows(entries, layout, accounts))
    return out.getvalue()


def major(amount: int, currency: str) -> Decimal:
    return minor_to_major(amount, currency)
