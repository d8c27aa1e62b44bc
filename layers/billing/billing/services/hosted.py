"""The customer's pages (``customer_pages`` function): the hosted invoice page and what hangs off it
(Pay, the return from Checkout, the receipt, questions, the PDFs). Every page function answers a
``Page`` (status, HTML, redirect); none raises for what a visitor sends.

A PDF is served from the documents bucket, where the notifier stored the issued one; until it has
(the notification is queued, or failed for a while), the same document is rendered from the frozen
invoice on the fly and served without being stored: the customer never waits for the queue, and this
function needs no write access to the bucket.

``hosted_page_state`` gathers everything the hosted invoice page shows (the invoice now, the outcome
of a Checkout return, its activity, its questions, whether it can be paid, the card an automatic
invoice is charged to and dunning's next retry, a fresh question-form nonce);
``billing.services.hosted_view`` decides what the page says about it, and ``hosted_invoice_page``
renders ``hosted_invoice.html.j2`` (the invoice document with the status panel, Pay, the payment
history, the documents and the questions around it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from billing import i18n
from billing.errors import BillingError
from billing.models.account import AccountSettings
from billing.models.invoice_queries import MAX_OPEN_QUERIES
from billing.models.invoices import Invoice
from billing.observability import logger
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.dunning import DunningRepository
from billing.repositories.invoice_queries import InvoiceQueryRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.payments import PaymentRepository
from billing.services import documents, hosted_view, invoice_queries, payment_history, receipts
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
HOSTED_TEMPLATE = "hosted_invoice.html.j2"
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


class QuestionForm(BaseModel):
    """A question form that was refused: shown again with what was typed and what to fix."""

    model_config = ConfigDict(frozen=True)

    email: str = ""
    name: str = ""
    message: str = ""
    nonce: str
    """The submitted nonce when it was valid (a corrected resubmission is still one query), else a
    fresh one."""
    errors: dict[str, str]
    """Field (``email``, ``name``, ``message``, ``nonce``) → what is wrong, in the invoice's language."""


class HostedPageState(BaseModel):
    """Everything the hosted invoice page shows (``hosted_view.page_view`` words it)."""

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
    card_on_file: str | None = None
    """An open ``charge_automatically`` invoice: the customer's default card as they know it
    (``Visa •••• 4242``), None without one (or for any other invoice)."""
    next_retry_at: datetime | None = None
    """An open ``charge_automatically`` invoice whose charge failed: when dunning tries again."""
    question_form: QuestionForm | None = None
    """A refused question, shown again in the form (``question_page``)."""


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
    customers: CustomerRepository | None = None
    """Read for an open ``charge_automatically`` invoice only: the card it is charged to."""
    dunning: DunningRepository | None = None
    """Read for an open ``charge_automatically`` invoice whose charge failed: the next retry."""


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
    card_on_file, next_retry_at = _automatic_payment(deps, invoice)
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
        card_on_file=card_on_file,
        next_retry_at=next_retry_at,
    )


def _automatic_payment(deps: CustomerPages, invoice: Invoice) -> tuple[str | None, datetime | None]:
    """For an open ``charge_automatically`` invoice with something to pay: the card it is charged to
    and, after a failed charge, dunning's next retry. Two reads by key, only for such invoices."""
    if (
        invoice.collection_method != "charge_automatically"
        or invoice.status not in ("open", "uncollectible")
        or invoice.amount_remaining <= 0
    ):
        return None, None
    card: str | None = None
    customer = deps.customers.get(invoice.customer_id) if deps.customers is not None else None
    if customer is not None and customer.default_payment_method:
        _ = i18n.gettext_for(documents.locale_of(invoice))
        card = receipts.card_label(customer.payment_method_brand, customer.payment_method_last4, _)
    retry: datetime | None = None
    if invoice.last_payment_error and deps.dunning is not None:
        dunning = deps.dunning.get(invoice.id)
        if dunning is not None and dunning.active and dunning.next_retry_at is not None:
            retry = dunning.next_retry_at
    return card, retry


def hosted_invoice_page(
    deps: CustomerPages,
    token: str,
    *,
    checkout: str | None = None,
    session_id: str | None = None,
    question: str | None = None,
) -> Page:
    """``GET /i/{token}``: the invoice as it is now, with its status panel (what is due and by when,
    Pay; paid, void...), the outcome of a Checkout return, its payment history, documents and
    questions."""
    state = hosted_page_state(deps, token, checkout=checkout, session_id=session_id, question=question)
    if state is None:
        return not_found_page()
    logger.info("hosted invoice viewed", invoice_id=state.invoice.id, number=state.invoice.number)
    return render_hosted_page(deps, state, token)


def render_hosted_page(deps: CustomerPages, state: HostedPageState, token: str, *, status: int = 200) -> Page:
    page_path = urlsplit(documents.hosted_url(deps.public_url, token)).path
    view = hosted_view.page_view(state, seller=_current(state.invoice, deps.seller), page_path=page_path)
    return Page(
        status=status, html=documents.render(HOSTED_TEMPLATE, templates_dir=deps.templates_dir, **view)
    )


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
    """A short page about the invoice (a refusal, an outcome) with a link back to it, under the seller
    who issued it (as frozen on the invoice) and in the invoice's language."""
    seller = documents.seller_of(invoice, _current(invoice, deps.seller))
    locale = documents.locale_of(invoice, seller)
    html = documents.render(
        NOTICE_TEMPLATE,
        templates_dir=deps.templates_dir,
        locale=locale,
        seller=documents.seller_view(seller, i18n.gettext_for(locale), locale=locale),
        brand_text=hosted_view.text_color_on(seller.brand_color),
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
    """``POST /i/{token}/questions``: stored → 303 back to the invoice (``?question=sent``); a bad form
    → the invoice's page again (422) with the form as it was sent and what to fix beside each field;
    too many open questions → a page saying so (429)."""
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
    # What was typed comes back in the form with what to fix, on the invoice's page.
    state = hosted_page_state(deps, token)
    if state is None:
        return not_found_page()
    values = result.values
    nonce = values.get("nonce", "") if "nonce" not in result.errors else state.question_nonce
    refused = QuestionForm(
        email=values.get("email", ""),
        name=values.get("name", ""),
        message=values.get("message", ""),
        nonce=nonce,
        errors=result.errors,
    )
    return render_hosted_page(deps, state.model_copy(update={"question_form": refused}), token, status=422)


__all__ = [
    "CustomerPages",
    "HostedPageState",
    "Page",
    "QuestionForm",
    "hosted_invoice_page",
    "hosted_page_state",
    "not_found_page",
    "pay_page",
    "question_page",
    "receipt_page",
    "render_hosted_page",
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
