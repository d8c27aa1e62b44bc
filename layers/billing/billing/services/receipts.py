"""Receipts: when an invoice is paid with money received, the customer gets a receipt email and can
open a receipt page (``GET /i/{token}/receipt``). See docs/invoices.md#receipts.

**When.** A transition to ``paid`` in which money was received writes the pending marker of the
``invoice_paid`` notification in its own transaction (``receipt_actions``), and the writer enqueues
it after the commit (the finalizer re-enqueues a lost one). The transitions that receive money:
a provider payment recorded by ``collection.apply_payment`` (the collector and dunning retries,
webhooks, the Checkout return, reconciliation) and ``POST /v1/invoices/{id}/pay`` (out of band).
An invoice settled without money (credit notes, a zero total, the credit balance at finalization)
gets no receipt email; its page says how it was settled (``payment_history.how_settled``). Partial
payments are not emailed one by one: the receipt of the payment that settles the invoice lists
every payment, and the receipt page shows what was received so far and what remains.

**Sending** is the notifier's (``deliver_receipt``): once per invoice (sent-marker
``INVOICE#{id} / NOTIFICATION#invoice_paid``, at-least-once like the invoice email), in the
invoice's locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from billing import clock, i18n
from billing.models.account import AccountSettings
from billing.models.invoices import Invoice
from billing.models.payments import Payment
from billing.money import format_money
from billing.observability import logger
from billing.repositories.invoices import pending_notification_put
from billing.services import documents

if TYPE_CHECKING:
    from billing.i18n import Gettext
    from billing.services.notifications import Delivery, Outcome

NOTIFICATION_INVOICE_PAID = "invoice_paid"
RECEIPT_TEMPLATE = "receipt.html.j2"
_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "eftpos",
    "interac": "Interac",
}
"""Card brands as printed (proper names: not translated)."""


def receipt_due(current: Invoice, new: Invoice) -> bool:
    """Whether the change ``current`` → ``new`` paid the invoice with money received in it."""
    return current.status != "paid" and new.status == "paid" and new.amount_paid > current.amount_paid


def receipt_actions(current: Invoice, new: Invoice, *, at: datetime) -> list[dict[str, Any]]:
    """The pending marker of the receipt, for the transaction of the change (none if not due)."""
    if not receipt_due(current, new):
        return []
    return [pending_notification_put(NOTIFICATION_INVOICE_PAID, new.id, at)]


# --------------------------------------------------------------------------- how it was paid


def card_label(brand: str | None, last4: str | None, _: Gettext) -> str:
    """``Visa •••• 4242``; ``Card`` when the card is not known."""
    if not brand and not last4:
        return _("Card")
    name = _BRANDS.get(str(brand or "").lower()) or (
        str(brand).replace("_", " ").title() if brand else _("Card")
    )
    return f"{name} •••• {last4}" if last4 else name


def out_of_band_label(method: str | None, _: Gettext) -> str:
    labels = {
        "bank_transfer": _("Bank transfer"),
        "cheque": _("Cheque"),
        "cash": _("Cash"),
        "other": _("Other payment method"),
    }
    return labels.get(method or "", _("Payment recorded by the seller"))


def payment_label(payment: Payment, _: Gettext) -> str:
    """How a provider payment was made, for the customer."""
    if payment.payment_method_type not in (None, "card"):
        return str(payment.payment_method_type).replace("_", " ").capitalize()
    return card_label(payment.card_brand, payment.card_last4, _)


# --------------------------------------------------------------------------- the receipt


RECEIVED = frozenset({"succeeded", "refunded", "partially_refunded", "disputed"})
"""Payment statuses whose money was received (a later refund or dispute does not undo the receipt)."""


def received_payments(invoice: Invoice, payments: Sequence[Payment], _: Gettext) -> list[dict[str, Any]]:
    """The money received for the invoice, oldest first: ``{at, amount, method}`` (amount in minor
    units of the invoice's currency)."""
    found: list[dict[str, Any]] = [
        {"at": p.settled_at or p.created_at, "amount": p.amount, "method": payment_label(p, _)}
        for p in payments
        if p.status in RECEIVED
    ]
    if invoice.paid_out_of_band and invoice.out_of_band_amount and invoice.paid_at is not None:
        found.append(
            {
                "at": invoice.paid_at,
                "amount": invoice.out_of_band_amount,
                "method": out_of_band_label(invoice.out_of_band_method, _),
            }
        )
    return sorted(found, key=lambda p: p["at"])


def receipt_view(
    invoice: Invoice, payments: Sequence[Payment], *, seller: AccountSettings, public_url: str | None = None
) -> dict[str, Any]:
    """Everything the receipt page and email print, formatted in the invoice's locale (the invoice
    view's helpers: ``documents.invoice_view``)."""
    view = documents.invoice_view(invoice, seller=seller, hosted=True)
    locale = view["locale"]
    zone = documents.customer_zone(invoice)
    _ = i18n.gettext_for(locale)
    received = received_payments(invoice, payments, _)
    last = received[-1] if received else None
    view["receipt"] = {
        "amount_paid": format_money(invoice.amount_paid, invoice.currency, locale),
        "amount_remaining": format_money(invoice.amount_remaining, invoice.currency, locale),
        "paid_in_full": invoice.status == "paid",
        "date": documents.format_date(
            invoice.paid_at or (last["at"] if last else None), locale=locale, zone=zone
        ),
        "method": last["method"] if last else None,
        "payments": [
            {
                "date": documents.format_date(p["at"], locale=locale, zone=zone),
                "amount": format_money(p["amount"], invoice.currency, locale),
                "method": p["method"],
            }
            for p in received
        ],
    }
    if public_url and invoice.hosted_token:
        page = documents.hosted_url(public_url, invoice.hosted_token)
        view["hosted_url"] = page
        view["receipt_url"] = f"{page}/receipt"
    return view


def render_receipt_page(
    invoice: Invoice,
    payments: Sequence[Payment],
    *,
    seller: AccountSettings,
    templates_dir: str | None = None,
) -> str:
    view = receipt_view(invoice, payments, seller=seller)
    return documents.render(RECEIPT_TEMPLATE, templates_dir=templates_dir, **view)


def render_receipt_email(
    invoice: Invoice,
    payments: Sequence[Payment],
    *,
    seller: AccountSettings,
    public_url: str,
    templates_dir: str | None = None,
) -> tuple[str, str, str]:
    """Subject, HTML and text of the receipt email."""
    view = receipt_view(invoice, payments, seller=seller, public_url=public_url)
    subject = documents.render("receipt_email_subject.txt.j2", templates_dir=templates_dir, **view)
    html = documents.render("receipt_email.html.j2", templates_dir=templates_dir, **view)
    text = documents.render("receipt_email.txt.j2", templates_dir=templates_dir, **view)
    return " ".join(subject.split()), html, text


def deliver_receipt(deps: Delivery, invoice: Invoice) -> Outcome:
    """The notifier's part: the receipt email, once per invoice (the caller checked the sent-marker)."""
    from billing.services.notifications import send_to_customer

    if invoice.status != "paid" or invoice.amount_paid <= 0:  # never enqueued so: no wrong receipt
        logger.warning("receipt skipped: invoice not paid", invoice_id=invoice.id, status=invoice.status)
        deps.markers.mark_sent(
            invoice.id, NOTIFICATION_INVOICE_PAID, at=clock.now(), outcome="skipped_not_paid"
        )
        return "skipped_not_paid"
    payments = deps.payments

    def render() -> tuple[str, str, str]:
        assert payments is not None
        return render_receipt_email(
            invoice,
            payments.list_for_invoice(invoice.id),
            seller=deps.seller(),
            public_url=deps.public_url,
            templates_dir=deps.templates_dir,
        )

    return send_to_customer(deps, invoice, NOTIFICATION_INVOICE_PAID, render, metric="ReceiptEmailsSent")


__all__ = [
    "NOTIFICATION_INVOICE_PAID",
    "card_label",
    "deliver_receipt",
    "out_of_band_label",
    "payment_label",
    "receipt_actions",
    "receipt_due",
    "receipt_view",
    "received_payments",
    "render_receipt_email",
    "render_receipt_page",
]
