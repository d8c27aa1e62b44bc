"""The customer's pages (``customer_pages`` function): the hosted invoice page and what hangs off it
(Pay, the return from Checkout, the receipt, questions, the PDFs). Every page function answers a
``Page`` (status, HTML, redirect); none raises for what a visitor sends.

A PDF is served from the documents bucket, where the notifier stored the issued one; until it has
(the notification is queued, or failed for a while), the same document is rendered from the frozen
invoice on the fly and served without being stored: the customer never waits for the queue, and this
function needs no write access to the bucket.

For the page rework, ``hosted_page_state`` gathers everything the hosted invoice page shows (the
invoice now, the outcome of a Checkout return, its activity, its questions, whether it can be paid,
a fresh question-form nonce); ``hosted_invoice_page`` renders today's template from it, with a
minimal notice for a Checkout return or a sent question until the page shows them itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from billing import i18n
from billing.errors import BillingError
from billing.models.account import AccountSettings
from billing.models.invoice_queries import MAX_OPEN_QUERIES
from billing.models.invoices import Invoice
from billing.money import format_money
from billing.observability import logger
from billing.payments.declines import customer_decline_reason
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.invoice_queries import InvoiceQueryRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.payments import PaymentRepository
from billing.services import documents, invoice_queries, payment_history, receipts
from billing.services.checkout import (
    Checkout,
    CheckoutOutcome,
    CheckoutReturn,
    CheckoutStart,
    checkout_refusal,
    confirm_checkout_return,
    start_invoice_checkout,
)
from billing.services.outbox import NotificationSink
from billing.settings import ConfigurationError

NOT_FOUND_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invoice not found</title>'
    '<meta name="robots" content="noindex"></head><body><h1>Invoice not found</h1>'
    "<p>This link is not valid. Please use the link in your invoice email.</p></body></html>"
)
NOTICE_TEMPLATE = "customer_notice.html.j2"
HOSTED_NOTICE_TEMPLATE = "hosted_notice.html.j2"
CHECKOUT_REFUSAL_STATUS: dict[CheckoutOutcome, int] = {
    "not_found": 404,
    "draft": 404,
    "void": 409,
    "paid": 409,
    "nothing_due": 409,
    "payment_in_flight": 409,
    "amount_too_small": 422,
    "unavailable": 503,
}
"""A refused Pay is answered with a page explaining why: 409 (the invoice's state refuses it), 422
(below the provider's minimum), 503 (the provider cannot be reached: try again)."""


class Page(BaseModel):
    """A customer page answer: ``location`` set → 303 redirect there; otherwise HTML."""

    model_config = ConfigDict(frozen=True)

    status: int
    html: str = ""
    location: str | None = None


class HostedPageState(BaseModel):
    """Everything the hosted invoice page shows (the page rework renders it)."""

    model_config = ConfigDict(frozen=True)

    invoice: Invoice
    checkout_return: CheckoutReturn | None = None
    """Set when the visitor comes back from Checkout with ``?checkout=success&session_id=…``."""
    checkout_canceled: bool = False
    """``?checkout=canceled``: the visitor left the Checkout page (nothing changed)."""
    question_sent: bool = False
    """``?question=sent``: the visitor's question was stored (the redirect after the form)."""
    payable: bool
    """Show the Pay button (``checkout.checkout_refusal`` is None)."""
    activity: list[payment_history.ActivityEntry]
    """Payments, refunds, declines, credit notes, oldest first (amounts as ints + currency)."""
    settled: payment_history.Settlement | None
    """How a paid invoice was settled (None until paid)."""
    receipt_available: bool
    """Money was received: ``/i/{token}/receipt`` exists."""
    queries: list[invoice_queries.PageQuery]
    """The invoice's questions and their answers, newest first."""
    question_nonce: str
    """The hidden ``nonce`` field of this render's question form."""


@dataclass(frozen=True, kw_only=True)
class CustomerPages:
    """What the customer pages work with (built once per container by the handler). ``checkout`` is
    called only by Pay and the Checkout return: the plain page never builds the payment provider."""

    invoices: InvoiceRepository
    payments: PaymentRepository
    credit_notes: CreditNoteRepository
    queries: InvoiceQueryRepository
    checkout: Callable[[], Checkout]
    notifications: NotificationSink | None
    seller: Callable[[], AccountSettings]
    """The current seller (``billing.services.account``), read only for an invoice finalized before
    its seller was frozen on it."""
    public_url: str
    templates_dir: str | None = None


def _history(deps: CustomerPages) -> payment_history.History:
    return payment_history.History(payments=deps.payments, credit_notes=deps.credit_notes)


def _queries(deps: CustomerPages) -> invoice_queries.Queries:
    return invoice_queries.Queries(
        invoices=deps.invoices, queries=deps.queries, notifications=deps.notifications
    )


def _checkout_deps(deps: CustomerPages) -> Checkout | None:
    """The payment path (the provider built now); None when its settings cannot be read now."""
    try:
        return deps.checkout()
    except (BillingError, ConfigurationError) as exc:
        logger.error("payment provider unavailable", error=type(exc).__name__, detail=str(exc)[:300])
        return None


def _page_invoice(deps: CustomerPages, token: str) -> Invoice | None:
    invoice = deps.invoices.get_by_hosted_token(token)
    return invoice if invoice is not None and invoice.status != "draft" else None


def not_found_page() -> Page:
    return Page(status=404, html=NOT_FOUND_PAGE)


# --------------------------------------------------------------------------- the hosted invoice page


def hosted_page_state(
    deps: CustomerPages,
    token: str,
    *,
    checkout: str | None = None,
    session_id: str | None = None,
    question: str | None = None,
) -> HostedPageState | None:
    """The page's state for ``token`` (None: no finalized invoice has it). With ``checkout=success``
    and a ``session_id`` the Checkout return is confirmed first (``confirm_checkout_return``)."""
    invoice = _page_invoice(deps, token)
    if invoice is None:
        return None
    returned: CheckoutReturn | None = None
    if checkout == "success" and session_id:
        payments = _checkout_deps(deps)
        if payments is None:
            returned = CheckoutReturn(outcome="unavailable", invoice=invoice)
        else:
            returned = confirm_checkout_return(payments, token=token, session_id=session_id)
            invoice = returned.invoice or invoice
    return HostedPageState(
        invoice=invoice,
        checkout_return=returned,
        checkout_canceled=checkout == "canceled",
        question_sent=question == "sent",
        payable=checkout_refusal(invoice) is None,
        activity=payment_history.invoice_activity(_history(deps), invoice),
        settled=payment_history.how_settled(invoice),
        receipt_available=payment_history.money_received(invoice),
        queries=invoice_queries.queries_for_invoice(_queries(deps), invoice),
        question_nonce=invoice_queries.new_question_nonce(),
    )


def hosted_invoice_page(
    deps: CustomerPages,
    token: str,
    *,
    checkout: str | None = None,
    session_id: str | None = None,
    question: str | None = None,
) -> Page:
    """``GET /i/{token}``: the invoice rendered from the frozen invoice (its current state), with a
    notice after a Checkout return or a question."""
    state = hosted_page_state(deps, token, checkout=checkout, session_id=session_id, question=question)
    if state is None:
        return not_found_page()
    invoice = state.invoice
    logger.info("hosted invoice viewed", invoice_id=invoice.id, number=invoice.number)
    view = documents.invoice_view(invoice, seller=_current(invoice, deps.seller), hosted=True)
    # The "Download PDF" link, relative to /i/{token} (page-only: the issued document has none).
    html = documents.render(
        documents.INVOICE_TEMPLATE, templates_dir=deps.templates_dir, **view, pdf_href=f"{token}/pdf"
    )
    notice = _notice(state, receipt_url=f"{documents.hosted_url(deps.public_url, token)}/receipt")
    if notice is not None:
        fragment = documents.render(
            HOSTED_NOTICE_TEMPLATE,
            templates_dir=deps.templates_dir,
            locale=documents.locale_of(invoice),
            notice=notice,
        )
        html = _insert_notice(html, fragment)
    return Page(status=200, html=html)


def _notice(state: HostedPageState, *, receipt_url: str) -> dict[str, str | None] | None:
    """The minimal notice until the page rework shows these itself: ``kind`` is ``paid``,
    ``partially_paid``, ``unapplied``, ``not_paid``, ``expired``, ``pending``, ``canceled`` or
    ``question_sent`` (``hosted_notice.html.j2``)."""
    invoice = state.invoice
    locale = documents.locale_of(invoice)
    _ = i18n.gettext_for(locale)
    returned = state.checkout_return
    if state.question_sent:
        return {"kind": "question_sent", "reason": None}
    if returned is not None:
        if returned.outcome in ("recorded", "already_recorded"):
            kind = "paid" if invoice.status == "paid" else "partially_paid"
            return {
                "kind": kind,
                "reason": None,
                "remaining": format_money(invoice.amount_remaining, invoice.currency, locale),
                "receipt_url": receipt_url,
            }
        if returned.outcome == "not_paid":
            code = (returned.decline or {}).get("decline_code") or (returned.decline or {}).get("code")
            return {"kind": "not_paid", "reason": customer_decline_reason(code, _) if code else None}
        if returned.outcome in ("unapplied", "expired"):
            return {"kind": returned.outcome, "reason": None}
        if returned.outcome == "unavailable":
            return {"kind": "pending", "reason": None}
        return None
    if state.checkout_canceled:
        last = state.activity[-1] if state.activity else None
        reason = last.decline_reason if last is not None and last.kind == "payment_failed" else None
        return {"kind": "canceled", "reason": reason}
    return None


def _insert_notice(html: str, fragment: str) -> str:
    """``fragment``: HTML rendered by an autoescaping template."""
    for anchor in ('<main class="sheet">', "<body>"):
        at = html.find(anchor)
        if at >= 0:
            at += len(anchor)
            return html[:at] + "\n" + fragment + html[at:]
    return fragment + html


# --------------------------------------------------------------------------- pay


def pay_page(deps: CustomerPages, token: str) -> Page:
    """``POST /i/{token}/pay``: 303 to the provider's Checkout page, or a page saying why not (no
    provider call for a refused invoice)."""
    payments = _checkout_deps(deps)
    if payments is None:
        invoice = _page_invoice(deps, token)
        started = (
            CheckoutStart(outcome="unavailable", invoice=invoice)
            if invoice
            else CheckoutStart(outcome="not_found")
        )
    else:
        started = start_invoice_checkout(payments, token=token)
    if started.outcome == "redirect" and started.url:
        return Page(status=303, location=started.url)
    if started.invoice is None:
        return not_found_page()
    invoice = started.invoice
    _ = i18n.gettext_for(documents.locale_of(invoice))
    number = invoice.number or invoice.id
    texts: dict[CheckoutOutcome, tuple[str, str]] = {
        "void": (
            _("This invoice was voided"),
            _("Invoice %(number)s was voided: nothing is due and nothing was charged.", number=number),
        ),
        "paid": (
            _("This invoice is paid"),
            _("Invoice %(number)s is already paid: nothing was charged.", number=number),
        ),
        "nothing_due": (
            _("Nothing to pay"),
            _("Nothing remains to pay on invoice %(number)s: nothing was charged.", number=number),
        ),
        "payment_in_flight": (
            _("A payment is in progress"),
            _(
                "A payment of invoice %(number)s is being processed: nothing was charged now. Look at this "
                "page again in a few minutes.",
                number=number,
            ),
        ),
        "amount_too_small": (
            _("This amount cannot be paid online"),
            _(
                "What remains on invoice %(number)s is below the smallest card payment: please contact us.",
                number=number,
            ),
        ),
        "unavailable": (
            _("Online payment is unavailable"),
            _("We could not open the payment page: nothing was charged. Please try again in a few minutes."),
        ),
    }
    title, message = texts.get(started.outcome, (_("This invoice cannot be paid"), ""))
    return notice_page(
        deps,
        invoice,
        token,
        status=CHECKOUT_REFUSAL_STATUS.get(started.outcome, 409),
        title=title,
        messages=[message],
        tone="refused" if started.outcome != "paid" else "paid",
    )


def notice_page(
    deps: CustomerPages,
    invoice: Invoice,
    token: str,
    *,
    status: int,
    title: str,
    messages: list[str],
    tone: str = "refused",
) -> Page:
    """A short page about the invoice (a refusal, an outcome) with a link back to it."""
    html = documents.render(
        NOTICE_TEMPLATE,
        templates_dir=deps.templates_dir,
        locale=documents.locale_of(invoice),
        seller=documents.seller_view(
            _current(invoice, deps.seller), i18n.gettext_for(documents.locale_of(invoice))
        ),
        title=title,
        messages=[m for m in messages if m],
        tone=tone,
        invoice_number=invoice.number or "",
        back_url=documents.hosted_url(deps.public_url, token),
    )
    return Page(status=status, html=html)


# --------------------------------------------------------------------------- receipt


def receipt_page(deps: CustomerPages, token: str) -> Page:
    """``GET /i/{token}/receipt``: what was received for the invoice (404 page before any money)."""
    invoice = _page_invoice(deps, token)
    if invoice is None or not payment_history.money_received(invoice):
        return not_found_page()
    payments = deps.payments.list_for_invoice(invoice.id)
    view = receipts.receipt_view(
        invoice, payments, seller=_current(invoice, deps.seller), public_url=deps.public_url
    )
    logger.info("receipt viewed", invoice_id=invoice.id)
    return Page(
        status=200, html=documents.render(receipts.RECEIPT_TEMPLATE, templates_dir=deps.templates_dir, **view)
    )


# --------------------------------------------------------------------------- questions


def question_page(deps: CustomerPages, token: str, form: Mapping[str, object]) -> Page:
    """``POST /i/{token}/questions``: stored → 303 back to the invoice (``?question=sent``); otherwise
    a page saying what to fix (422) or that too many questions are open (429)."""
    result = invoice_queries.submit_invoice_question(_queries(deps), token=token, form=form)
    if result.invoice is None:
        return not_found_page()
    invoice = result.invoice
    back = documents.hosted_url(deps.public_url, token)
    if result.outcome in ("stored", "duplicate"):
        return Page(status=303, location=f"{back}?question=sent")
    _ = i18n.gettext_for(documents.locale_of(invoice))
    if result.outcome == "too_many_open":
        return notice_page(
            deps,
            invoice,
            token,
            status=429,
            title=_("Your questions are waiting for an answer"),
            messages=[
                _(
                    "This invoice has %(count)s questions waiting for an answer: we will reply to them "
                    "before you can ask another one.",
                    count=MAX_OPEN_QUERIES,
                )
            ],
        )
    return notice_page(
        deps,
        invoice,
        token,
        status=422,
        title=_("Your question was not sent"),
        messages=list(result.errors.values()),
    )


__all__ = [
    "CustomerPages",
    "HostedPageState",
    "Page",
    "hosted_invoice_page",
    "hosted_page_state",
    "not_found_page",
    "pay_page",
    "question_page",
    "receipt_page",
]


# --------------------------------------------------------------------------- PDFs

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_CREDIT_NOTE_ID = re.compile(r"^cn_[0-9a-f]{16}$")


class DocumentReader(Protocol):
    def get(self, key: str) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class PdfFile:
    filename: str
    """``{number}.pdf``, safe in a ``Content-Disposition`` header."""
    body: bytes


def hosted_invoice(invoices: InvoiceRepository, token: str) -> Invoice | None:
    """The finalized invoice whose hosted token is ``token`` (None for anything else)."""
    if not _TOKEN.match(token):
        return None
    invoice_id = invoices.invoice_id_for_token(token)
    invoice = invoices.get(invoice_id) if invoice_id else None
    if invoice is None or invoice.hosted_token != token or invoice.status == "draft":
        return None
    return invoice


def hosted_invoice_pdf(
    invoices: InvoiceRepository, store: DocumentReader, token: str, *, seller: Callable[[], AccountSettings]
) -> PdfFile | None:
    """The issued PDF of the invoice behind ``token`` (rendered if not stored yet), or None."""
    invoice = hosted_invoice(invoices, token)
    if invoice is None:
        return None
    body = store.get(invoice.pdf_key) if invoice.pdf_key else None
    if body is None:
        logger.info("invoice PDF not stored yet: rendered", invoice_id=invoice.id)
        body = documents.render_invoice_pdf(invoice, seller=_current(invoice, seller))
    logger.info("invoice PDF downloaded", invoice_id=invoice.id, number=invoice.number)
    return PdfFile(filename=_filename(invoice.number or invoice.id), body=body)


def hosted_credit_note_pdf(
    invoices: InvoiceRepository,
    credit_notes: CreditNoteRepository,
    store: DocumentReader,
    token: str,
    credit_note_id: str,
    *,
    seller: Callable[[], AccountSettings],
) -> PdfFile | None:
    """The PDF of a credit note of the invoice behind ``token``, or None (unknown token, unknown
    credit note, or one of another invoice: the same answer for all three)."""
    invoice = hosted_invoice(invoices, token)
    if invoice is None or not _CREDIT_NOTE_ID.match(credit_note_id):
        return None
    note = credit_notes.get(credit_note_id)
    if note is None or note.invoice_id != invoice.id:
        return None
    body = store.get(note.pdf_key) if note.pdf_key else None
    if body is None:
        logger.info("credit note PDF not stored yet: rendered", credit_note_id=note.id)
        body = documents.render_credit_note_pdf(note, invoice, seller=_current(invoice, seller))
    logger.info("credit note PDF downloaded", credit_note_id=note.id, number=note.number)
    return PdfFile(filename=_filename(note.number), body=body)


def _filename(number: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", number) + ".pdf"


def _current(invoice: Invoice, seller: Callable[[], AccountSettings]) -> AccountSettings:
    """The current seller, read only for an invoice that has no frozen one."""
    return AccountSettings() if invoice.seller_snapshot else seller()
