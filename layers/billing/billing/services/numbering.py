"""Invoice and credit-note numbers: gapless sequences, issued only when a finalization commits.

Two modes (``BILLING_INVOICE_NUMBERING``):

* ``per_customer`` (default): one sequence per invoice prefix, ``{invoice_prefix}-0001``. Each
  customer's counter is its own item, so finalizations of different customers never contend and
  the write load spreads over as many partitions as there are customers.
* ``per_account``: one sequence for the whole account, ``{BILLING_INVOICE_ACCOUNT_PREFIX}-0001``.
  Every finalization writes the same counter item: DynamoDB takes at most ~1,000 writes/s on one
  item and, because each finalization reads the counter then commits conditionally, fewer under
  contention (a loser retries). Plan for a few hundred finalizations a second at most.

How a number is issued (``services.invoices.finalize_invoice``): read the counter (``last``), then one
TransactWriteItems sets ``last = n + 1`` on condition ``last = n``, creates the number's guard
``INVOICE_NUMBER#{number}`` (``attribute_not_exists``) and opens the invoice on condition of its
``version`` and ``draft`` status. Either everything commits or nothing does, so a failed or held
finalization consumes no number: the sequence has no gaps and no duplicates.

Credit notes are numbered per invoice: ``{invoice_number}-CN-01``, from the invoice's
``credit_notes_count``, incremented in the credit note's transaction under the invoice's version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from billing.models.customers import Customer

NumberingMode = Literal["per_customer", "per_account"]
SEQUENCE_WIDTH = 4
"""Zero-padded to 4 digits (``-0001``); the 10,000th number is simply ``-10000``."""


@dataclass(frozen=True, slots=True)
class NumberSequence:
    scope: str
    """The counter's scope (``keys.invoice_number_counter``)."""
    prefix: str
    """What numbers in this sequence start with."""

    def format(self, sequence: int) -> str:
        return format_invoice_number(self.prefix, sequence)


def sequence_for(customer: Customer, *, mode: NumberingMode, account_prefix: str) -> NumberSequence:
    """The sequence a customer's next invoice number comes from."""
    if mode == "per_account":
        # '#' never appears in a customer prefix, so the account counter cannot collide with one.
        return NumberSequence(scope=f"ACCOUNT#{account_prefix}", prefix=account_prefix)
    return NumberSequence(scope=customer.invoice_prefix, prefix=customer.invoice_prefix)


def format_invoice_number(prefix: str, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("invoice sequences start at 1")
    return f"{prefix}-{sequence:0{SEQUENCE_WIDTH}d}"


def format_credit_note_number(invoice_number: str, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("credit note sequences start at 1")
    return f"{invoice_number}-CN-{sequence:02d}"
