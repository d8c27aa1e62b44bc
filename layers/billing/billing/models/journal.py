"""The accounting journal: the facts our books record (``JournalEvent``), the double-entry entries
built from them (``JournalEntry``) and the chart of accounts they post to (``AccountCodes``).

Every amount is an int in minor units of the entry's single currency. See docs/accounting.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

JournalEventKind = Literal[
    "invoice_finalized",
    "invoice_paid",
    "invoice_uncollectible",
    "invoice_voided",
    "credit_note_issued",
    "payment_settled",
]
"""State changes recorded in the ``JOURNAL#{yyyy-mm}`` partitions, in the transaction that makes them."""

EntryKind = Literal[
    "invoice_finalized",
    "credit_applied",
    "invoice_paid",
    "invoice_uncollectible",
    "invoice_voided",
    "credit_note",
    "payment",
    "refund",
]

AccountRole = Literal[
    "accounts_receivable",
    "revenue",
    "tax_payable",
    "cash",
    "clearing",
    "customer_credit",
    "bad_debt",
    "discounts",
]


class JournalEvent(BaseModel):
    """One accounting event of an invoice or a credit note, as stored when it happened.

    It carries the amounts that the invoice no longer shows afterwards (what a payment settled,
    what a write-off wrote off); the lines and taxes are read from the invoice or credit note,
    which are frozen once finalized (issued)."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    """Deterministic, one per source event: ``inv_{invoice_id}_finalized``, ``cn_{id}``..."""
    kind: JournalEventKind
    at: datetime
    """When it happened (the date of the entry)."""
    invoice_id: str
    credit_note_id: str | None = None
    customer_id: str
    currency: str
    amount: int = 0
    """``invoice_paid``: what the payment settled; ``invoice_uncollectible``: what was written off;
    ``invoice_voided``: what was still receivable (open) when voided."""
    written_off: int = 0
    """``invoice_voided``: what had been written off (voiding an uncollectible invoice)."""
    out_of_band: bool = False
    """``invoice_paid``: recorded with ``POST .../pay`` (cash); otherwise the provider's payment
    record carries the cash side and this event posts nothing."""
    recovered: bool = False
    """``invoice_paid``: the invoice had been written off (the payment recovers bad debt)."""
    payment_id: str | None = None
    """``payment_settled``: the provider payment (``amount`` is what it settled of the invoice)."""
    overpaid: int = 0
    """``payment_settled``: captured beyond what was due (to the customer's credit balance)."""
    provider: str | None = None


class JournalLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: AccountRole
    account_code: str
    account_name: str
    debit: int = Field(default=0, ge=0)
    credit: int = Field(default=0, ge=0)
    description: str
    tax_rate_id: str | None = None
    """Tax payable lines: the rate (one line per rate)."""
    invoice_line_id: str | None = None


class JournalEntry(BaseModel):
    """A balanced entry: Σ debit = Σ credit (checked when built)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: EntryKind
    date: datetime
    currency: str
    customer_id: str
    invoice_id: str | None = None
    invoice_number: str | None = None
    credit_note_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    narration: str
    lines: list[JournalLine]

    @property
    def total_debit(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def total_credit(self) -> int:
        return sum(line.credit for line in self.lines)


class Account(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    """QuickBooks imports by name; Xero by code."""


class AccountCodes(BaseModel):
    """The chart of accounts the export posts to (``BILLING_ACCOUNT_CODES_JSON``, defaults below).

    Discounts are posted **net**: revenue is credited net of each line's discount. Set
    ``discounts`` to post them gross instead, with the discount debited to that contra-revenue
    account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accounts_receivable: Account = Account(code="1100", name="Accounts Receivable")
    revenue: Account = Account(code="4000", name="Sales")
    tax_payable: Account = Account(code="2200", name="Sales Tax Payable")
    cash: Account = Account(code="1000", name="Cash")
    """Out-of-band payments (bank transfer, cheque)."""
    clearing: Account = Account(code="1010", name="Stripe Clearing")
    """Payments and refunds through the payment provider, until the payout reaches the bank."""
    customer_credit: Account = Account(code="2300", name="Customer Credit")
    bad_debt: Account = Account(code="6900", name="Bad Debt")
    discounts: Account | None = None
    """A contra-revenue account (e.g. ``4900 Discounts``): when set, revenue is credited before
    discounts and the discount debited here."""
    tax_accounts: dict[str, Account] = Field(default_factory=dict)
    """Per tax rate id, when a rate posts to its own liability account (default: ``tax_payable``)."""
    xero_tax_rate: str = Field(default="Tax Exempt", min_length=1, max_length=100)
    """Xero's mandatory TaxRate column: every line is posted without tax (tax has its own lines),
    so this names your organisation's no-tax rate ("Tax Exempt", "No GST", "BAS Excluded"...)."""
