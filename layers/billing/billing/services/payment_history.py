"""An invoice's activity for its hosted page and receipt: payments, refunds, out-of-band payment,
credit notes, cards refused on the Checkout page, oldest first; and how a paid invoice was settled.

Everything comes from items the invoice already has, by key, never a scan: its payments and refunds
(``INVOICE#{id} / PAYMENT#…``, ``REFUND#…``), the Checkout declines (``DECLINE#…``), its credit
notes (gsi1 ``INVOICE_CREDIT_NOTES#{id}``) and the invoice itself (out of band, credit balance).
Amounts are ints in minor units with the currency: the page formats them; texts meant for the
customer (the method, a decline's reason) are in the invoice's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from billing import i18n
from billing.models.invoices import CreditNote, Invoice
from billing.models.payments import Payment
from billing.payments.declines import customer_decline_reason
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.payments import PaymentRepository
from billing.services import documents, receipts

ActivityKind = Literal[
    "payment", "payment_failed", "refund", "out_of_band_payment", "credit_note", "credit_balance_applied"
]
ActivityStatus = Literal["succeeded", "failed", "refunded", "partially_refunded", "disputed", "processing"]
Settlement = Literal["payments", "out_of_band", "credit_notes", "credit_balance", "zero_total", "mixed"]
MAX_CREDIT_NOTES = 100


class ActivityEntry(BaseModel):
    """One line of the invoice's history."""

    model_config = ConfigDict(frozen=True)

    kind: ActivityKind
    """``payment``: money received through the provider (its ``status`` may since be refunded or
    disputed); ``payment_failed``: an automatic charge or a card on the Checkout page that was refused;
    ``refund``; ``out_of_band_payment`` (bank transfer, cheque... recorded by the seller);
    ``credit_note``; ``credit_balance_applied`` (the customer's credit at finalization)."""
    at: datetime
    amount: int
    currency: str
    status: ActivityStatus | None = None
    method: str | None = None
    """How, for the customer: "Visa •••• 4242", "Bank transfer"."""
    decline_code: str | None = None
    decline_reason: str | None = None
    """``payment_failed``: why, in the customer's words."""
    credit_note_number: str | None = None
    reference: str
    """The payment, refund, credit note or decline id (or the invoice's, for what the invoice records)."""


@dataclass(frozen=True, kw_only=True)
class History:
    payments: PaymentRepository
    credit_notes: CreditNoteRepository


def invoice_activity(deps: History, invoice: Invoice) -> list[ActivityEntry]:
    """Everything that happened to the invoice's money, oldest first."""
    _ = i18n.gettext_for(documents.locale_of(invoice))
    entries: list[ActivityEntry] = []
    if invoice.credit_applied:
        entries.append(
            ActivityEntry(
                kind="credit_balance_applied",
                at=invoice.finalized_at or invoice.created_at,
                amount=invoice.credit_applied,
                currency=invoice.currency,
                reference=invoice.id,
            )
        )
    for payment in deps.payments.list_for_invoice(invoice.id):
        entries.append(_payment_entry(payment, _))
    for refund in deps.payments.list_refunds_for_invoice(invoice.id):
        entries.append(
            ActivityEntry(
                kind="refund",
                at=refund.created_at,
                amount=refund.amount,
                currency=refund.currency,
                status="succeeded",
                reference=refund.id,
            )
        )
    for decline in deps.payments.list_declines_for_invoice(invoice.id):
        entries.append(
            ActivityEntry(
                kind="payment_failed",
                at=decline.at,
                amount=decline.amount,
                currency=decline.currency,
                status="failed",
                method=receipts.card_label(decline.card_brand, decline.card_last4, _),
                decline_code=decline.decline_code,
                decline_reason=customer_decline_reason(decline.decline_code, _),
                reference=decline.id,
            )
        )
    if invoice.paid_out_of_band and invoice.out_of_band_amount and invoice.paid_at is not None:
        entries.append(
            ActivityEntry(
                kind="out_of_band_payment",
                at=invoice.paid_at,
                amount=invoice.out_of_band_amount,
                currency=invoice.currency,
                status="succeeded",
                method=receipts.out_of_band_label(invoice.out_of_band_method, _),
                reference=invoice.id,
            )
        )
    for note in _credit_notes(deps, invoice):
        entries.append(
            ActivityEntry(
                kind="credit_note",
                at=note.created_at,
                amount=note.total,
                currency=note.currency,
                credit_note_number=note.number,
                reference=note.id,
            )
        )
    return sorted(entries, key=lambda e: (e.at, e.reference))


def _payment_entry(payment: Payment, _: i18n.Gettext) -> ActivityEntry:
    received = payment.status in ("succeeded", "refunded", "partially_refunded", "disputed")
    status: ActivityStatus = "failed" if payment.status == "requires_action" else payment.status
    return ActivityEntry(
        kind="payment" if received or payment.status == "processing" else "payment_failed",
        at=payment.settled_at or payment.created_at,
        amount=payment.amount,
        currency=payment.currency,
        status=status,
        method=receipts.payment_label(payment, _),
        decline_code=None if received else payment.decline_code,
        decline_reason=None
        if received or payment.status == "processing"
        else customer_decline_reason(payment.decline_code, _),
        reference=payment.id,
    )


def _credit_notes(deps: History, invoice: Invoice) -> list[CreditNote]:
    if not invoice.credit_notes_count:
        return []
    notes, _ = deps.credit_notes.list_for_invoice(invoice.id, limit=MAX_CREDIT_NOTES, cursor=None)
    return notes


def money_received(invoice: Invoice) -> bool:
    """Whether the invoice has had money paid into it (payments or out of band): it has a receipt."""
    return invoice.amount_paid > 0 and invoice.status != "draft"


def how_settled(invoice: Invoice) -> Settlement | None:
    """How a paid invoice was settled, for its page (None until it is paid): by ``payments``
    (provider), ``out_of_band`` (recorded by the seller), ``credit_notes``, the ``credit_balance``
    at finalization, a ``zero_total``, or ``mixed`` (several of these)."""
    if invoice.status != "paid":
        return None
    if invoice.total == 0:
        return "zero_total"
    parts: list[tuple[Settlement, bool]] = [
        ("out_of_band", invoice.out_of_band_amount > 0),
        ("payments", invoice.amount_paid - invoice.out_of_band_amount > 0),
        ("credit_notes", invoice.credit_notes_total > 0),
        ("credit_balance", invoice.credit_applied > 0),
    ]
    used = [name for name, present in parts if present]
    if len(used) == 1:
        return used[0]
    return "mixed" if used else "zero_total"


__all__ = [
    "ActivityEntry",
    "History",
    "how_settled",
    "invoice_activity",
    "money_received",
]
