"""Customer notifications: the invoice email, delivered by the ``notifier`` function from SQS.

A message names a business key: ``{"kind": "invoice_finalized", "invoice_id": "in_..."}``.
Delivery of one message:

1. the sent-marker ``INVOICE#{id} / NOTIFICATION#{kind}`` exists → done (a duplicate or a
   redelivery: nothing is sent twice once the marker is written);
2. the issued document is stored in S3 if it is not yet (``documents.ensure_document``);
3. the email (HTML + text, jinja2, localized amounts and dates, the hosted link) goes out through
   SES to the customer's billing emails as they were at finalization;
4. the marker is written.

Semantics: **at-least-once**. Writing the marker *before* sending would be at-most-once: a crash
after the marker and before SES accepted the mail would lose it silently. Writing it *after* means
a crash between SES and the marker sends the mail again on redelivery; a rare duplicate email is
the better failure for an invoice. A voided invoice's email is not sent; an invoice without
recipients (``charge_automatically`` without email) is marked ``skipped_no_recipient``.

A credit note (``{"kind": "credit_note_issued", "credit_note_id": "cn_..."}``, enqueued after the
credit note's transaction) takes the same steps: its HTML and PDF are stored once
(``credit_notes/{customer_id}/{credit_note_id}.html|.pdf``), the email links the PDF, and its
sent-marker is ``CREDITNOTE#{id} / NOTIFICATION#credit_note_issued``. Kinds about something other
than one invoice are dispatched through ``HANDLERS`` (kind -> function).

The receipt (``invoice_paid``, ``billing.services.receipts``) and the customer's question to the
seller (``invoice_query`` with ``query_id``, ``billing.services.invoice_queries``) take the same
path without the document; the question's marker is per query (``NOTIFICATION#invoice_query#{id}``).

Dunning emails (``payment_failed``, ``payment_retry_scheduled``, ``payment_final_notice``, enqueued by
``billing.services.dunning`` with the failed ``attempt`` and, with retries left, ``retry_at``) take
the same path without the document; their marker is per attempt (``NOTIFICATION#{kind}#{attempt}``),
and one for an invoice already paid or voided is skipped (``skipped_settled``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from billing import clock, i18n
from billing.errors import NotFound
from billing.models.account import AccountSettings
from billing.models.dunning import DUNNING_NOTIFICATION_KINDS
from billing.models.invoices import CreditNote, Invoice
from billing.observability import logger, metrics
from billing.payments.declines import decline_reason
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.invoice_queries import InvoiceQueryRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.notifications import NotificationRepository
from billing.repositories.payments import PaymentRepository
from billing.services import documents, invoice_queries, receipts
from billing.services.invoice_queries import NOTIFICATION_INVOICE_QUERY
from billing.services.outbox import NOTIFICATION_CREDIT_NOTE_ISSUED, NOTIFICATION_INVOICE_FINALIZED
from billing.services.receipts import NOTIFICATION_INVOICE_PAID

Outcome = Literal[
    "sent",
    "already_sent",
    "skipped_no_recipient",
    "skipped_void",
    "skipped_settled",
    "skipped_not_paid",
    "skipped_no_support_address",
]
MAX_RECIPIENTS = 50
"""SES takes at most 50 recipients per message."""


class NotificationMessage(BaseModel):
    """The body of a Notifications queue message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal[
        "invoice_finalized",
        "credit_note_issued",
        "payment_failed",
        "payment_retry_scheduled",
        "payment_final_notice",
        "invoice_paid",
        "invoice_query",
    ]
    invoice_id: str | None = Field(default=None, pattern=r"^in_[0-9a-f]{16}$")
    """Every kind but ``credit_note_issued``."""
    credit_note_id: str | None = Field(default=None, pattern=r"^cn_[0-9a-f]{16}$")
    """``credit_note_issued`` only."""
    attempt: int | None = Field(default=None, ge=1)
    """Dunning emails: the failed attempt (part of the sent-marker: one email per step)."""
    retry_at: datetime | None = None
    """Dunning emails with retries left: when the next retry is due."""
    query_id: str | None = Field(default=None, pattern=r"^iq_[0-9a-f]{16}$")
    """``invoice_query``: the customer's question (part of the sent-marker: one email per query)."""

    @model_validator(mode="after")
    def _query_named(self) -> NotificationMessage:
        if (self.kind == "invoice_query") != (self.query_id is not None):
            raise ValueError("query_id is given with kind invoice_query, and only then")
        return self

    @model_validator(mode="after")
    def _one_subject(self) -> NotificationMessage:
        about_credit_note = self.kind == NOTIFICATION_CREDIT_NOTE_ISSUED
        if about_credit_note != (self.credit_note_id is not None) or about_credit_note == (
            self.invoice_id is not None
        ):
            wanted = "credit_note_id" if about_credit_note else "invoice_id"
            raise ValueError(f"a {self.kind} notification names its {wanted} (and nothing else)")
        return self

    @property
    def subject_id(self) -> str:
        """The invoice or credit note the notification is about (its sent-marker's partition)."""
        subject = self.credit_note_id or self.invoice_id
        assert subject is not None  # the validator requires one
        return subject

    @property
    def marker_kind(self) -> str:
        if self.query_id is not None:
            return f"{self.kind}#{self.query_id}"
        return self.kind if self.attempt is None else f"{self.kind}#{self.attempt}"


class EmailSender(Protocol):
    def send(
        self, *, to: Sequence[str], subject: str, html: str, text: str, reply_to: Sequence[str] = ()
    ) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What the notifier works with (built once per container by the handler)."""

    invoices: InvoiceRepository
    markers: NotificationRepository
    store: documents.DocumentStore
    email: EmailSender
    seller: Callable[[], AccountSettings]
    """The current seller (``billing.services.account``): printed on invoices finalized before their
    seller was frozen on them."""
    public_url: str
    templates_dir: str | None = None
    credit_notes: CreditNoteRepository | None = None
    """Defaults to the invoices' table."""
    payments: PaymentRepository | None = None
    """Receipts (``invoice_paid``): the invoice's payments."""
    queries: InvoiceQueryRepository | None = None
    """``invoice_query``: the customer's question."""
    api_url: str | None = None
    """The API's base URL (the query's link in the support email); default ``public_url``."""

    @property
    def support_email(self) -> str | None:
        """Where customers' questions go: the seller's ``support_email`` (``/v1/account``)."""
        return self.seller().support_email

    @property
    def credit_note_repository(self) -> CreditNoteRepository:
        return self.credit_notes or CreditNoteRepository(table_name=self.invoices.table_name)


def deliver(deps: Delivery, message: NotificationMessage) -> Outcome:
    """Deliver one notification (steps and semantics in the module docstring)."""
    handler = HANDLERS.get(message.kind)
    if handler is not None:
        return handler(deps, message)
    kind = message.marker_kind
    invoice_id = message.subject_id
    if deps.markers.sent(invoice_id, kind) is not None:
        logger.info("notification already sent", invoice_id=invoice_id, kind=kind)
        return "already_sent"
    invoice = deps.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id!r}", code="invoice_not_found", param="invoice_id")
    if invoice.status == "draft":  # never enqueued for a draft; refuse rather than send a non-invoice
        raise NotFound(f"invoice {invoice.id} is not finalized", code="invoice_not_finalized")
    if message.kind in DUNNING_NOTIFICATION_KINDS:
        return _deliver_dunning(deps, message, invoice)
    if message.kind == NOTIFICATION_INVOICE_PAID:
        return receipts.deliver_receipt(deps, invoice)
    if message.kind == NOTIFICATION_INVOICE_QUERY:
        return invoice_queries.deliver_query_email(deps, message, invoice)
    documents.ensure_document(
        invoice,
        store=deps.store,
        invoices=deps.invoices,
        seller=deps.seller(),
        templates_dir=deps.templates_dir,
    )
    now = clock.now()
    if invoice.status == "void":
        deps.markers.mark_sent(invoice.id, kind, at=now, outcome="skipped_void")
        return "skipped_void"
    recipients = [str(e) for e in invoice.customer_snapshot.get("emails") or []][:MAX_RECIPIENTS]
    if not recipients:
        logger.info("invoice has no recipient; email skipped", invoice_id=invoice.id)
        deps.markers.mark_sent(invoice.id, kind, at=now, outcome="skipped_no_recipient")
        return "skipped_no_recipient"
    subject, html, text = render_invoice_email(
        invoice, seller=deps.seller(), public_url=deps.public_url, templates_dir=deps.templates_dir
    )
    message_id = deps.email.send(to=recipients, subject=subject, html=html, text=text)
    deps.markers.mark_sent(
        invoice.id, kind, at=clock.now(), outcome="sent", recipients=recipients, message_id=message_id
    )
    logger.info("invoice email sent", invoice_id=invoice.id, number=invoice.number, message_id=message_id)
    metrics.add_metric(name="InvoiceEmailsSent", unit="Count", value=1)
    return "sent"


def render_invoice_email(
    invoice: Invoice, *, seller: AccountSettings, public_url: str, templates_dir: str | None = None
) -> tuple[str, str, str]:
    """Subject, HTML and text of the invoice email."""
    assert invoice.hosted_token is not None
    view = documents.invoice_view(invoice, seller=seller, hosted=False)
    context = {
        **view,
        "hosted_url": documents.hosted_url(public_url, invoice.hosted_token),
        "pdf_url": documents.invoice_pdf_url(public_url, invoice.hosted_token),
    }
    subject = documents.render("invoice_email_subject.txt.j2", templates_dir=templates_dir, **context)
    html = documents.render("invoice_email.html.j2", templates_dir=templates_dir, **context)
    text = documents.render("invoice_email.txt.j2", templates_dir=templates_dir, **context)
    return " ".join(subject.split()), html, text


def _deliver_dunning(deps: Delivery, message: NotificationMessage, invoice: Invoice) -> Outcome:
    kind = message.marker_kind
    now = clock.now()
    if invoice.status in ("paid", "void"):
        logger.info("dunning email skipped: invoice settled", invoice_id=invoice.id, status=invoice.status)
        deps.markers.mark_sent(invoice.id, kind, at=now, outcome="skipped_settled")
        return "skipped_settled"
    return send_to_customer(
        deps,
        invoice,
        kind,
        lambda: render_dunning_email(
            invoice,
            kind=message.kind,
            retry_at=message.retry_at,
            seller=deps.seller(),
            public_url=deps.public_url,
            templates_dir=deps.templates_dir,
        ),
        metric="DunningEmailsSent",
    )


def send_to_customer(
    deps: Delivery,
    invoice: Invoice,
    kind: str,
    render: Callable[[], tuple[str, str, str]],
    *,
    metric: str,
) -> Outcome:
    """Email the invoice's customer (its billing emails at finalization) what ``render`` gives
    (subject, HTML, text), then write the sent-marker ``kind``; none to send to: ``skipped_no_recipient``."""
    recipients = [str(e) for e in invoice.customer_snapshot.get("emails") or []][:MAX_RECIPIENTS]
    if not recipients:
        logger.info("invoice has no recipient; email skipped", invoice_id=invoice.id, kind=kind)
        deps.markers.mark_sent(invoice.id, kind, at=clock.now(), outcome="skipped_no_recipient")
        return "skipped_no_recipient"
    subject, html, text = render()
    message_id = deps.email.send(to=recipients, subject=subject, html=html, text=text)
    deps.markers.mark_sent(
        invoice.id, kind, at=clock.now(), outcome="sent", recipients=recipients, message_id=message_id
    )
    logger.info("customer email sent", invoice_id=invoice.id, kind=kind, message_id=message_id)
    metrics.add_metric(name=metric, unit="Count", value=1)
    return "sent"


def render_dunning_email(
    invoice: Invoice,
    *,
    kind: str,
    retry_at: datetime | None,
    seller: AccountSettings,
    public_url: str,
    templates_dir: str | None = None,
) -> tuple[str, str, str]:
    """Subject, HTML and text of a dunning email; the link is the hosted invoice page (pay it, or
    update the payment method)."""
    assert invoice.hosted_token is not None
    view = documents.invoice_view(invoice, seller=seller, hosted=False)
    error = invoice.last_payment_error or {}
    link = documents.hosted_url(public_url, invoice.hosted_token)
    context = {
        **view,
        "kind": kind,
        "hosted_url": link,
        "update_payment_url": link,
        "retry_date": documents.format_date(
            retry_at, locale=view["locale"], zone=documents.customer_zone(invoice)
        ),
        "decline_reason": decline_reason(error, i18n.gettext_for(view["locale"])),
    }
    subject = documents.render("dunning_email_subject.txt.j2", templates_dir=templates_dir, **context)
    html = documents.render("dunning_email.html.j2", templates_dir=templates_dir, **context)
    text = documents.render("dunning_email.txt.j2", templates_dir=templates_dir, **context)
    return " ".join(subject.split()), html, text


# --------------------------------------------------------------------------- credit notes


def _deliver_credit_note(deps: Delivery, message: NotificationMessage) -> Outcome:
    """The credit note's documents (S3) and email: the same steps as an invoice's."""
    kind = message.marker_kind
    note_id = message.subject_id
    if deps.markers.sent(note_id, kind) is not None:
        logger.info("notification already sent", credit_note_id=note_id, kind=kind)
        return "already_sent"
    repo = deps.credit_note_repository
    note = repo.get(note_id)
    if note is None:
        raise NotFound(f"no credit note {note_id!r}", code="credit_note_not_found", param="credit_note_id")
    invoice = deps.invoices.get(note.invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {note.invoice_id!r}", code="invoice_not_found", param="invoice_id")
    documents.ensure_credit_note_documents(
        note,
        invoice,
        store=deps.store,
        credit_notes=repo,
        seller=deps.seller(),
        templates_dir=deps.templates_dir,
    )
    now = clock.now()
    recipients = [str(e) for e in invoice.customer_snapshot.get("emails") or []][:MAX_RECIPIENTS]
    if not recipients:
        logger.info("credit note has no recipient; email skipped", credit_note_id=note.id)
        deps.markers.mark_sent(note.id, kind, at=now, outcome="skipped_no_recipient")
        return "skipped_no_recipient"
    subject, html, text = render_credit_note_email(
        note, invoice, seller=deps.seller(), public_url=deps.public_url, templates_dir=deps.templates_dir
    )
    message_id = deps.email.send(to=recipients, subject=subject, html=html, text=text)
    deps.markers.mark_sent(
        note.id, kind, at=clock.now(), outcome="sent", recipients=recipients, message_id=message_id
    )
    logger.info("credit note email sent", credit_note_id=note.id, number=note.number, message_id=message_id)
    metrics.add_metric(name="CreditNoteEmailsSent", unit="Count", value=1)
    return "sent"


def render_credit_note_email(
    note: CreditNote,
    invoice: Invoice,
    *,
    seller: AccountSettings,
    public_url: str,
    templates_dir: str | None = None,
) -> tuple[str, str, str]:
    """Subject, HTML and text of the credit note email (links: its PDF, the invoice's page)."""
    token = note.hosted_token or invoice.hosted_token
    assert token is not None
    view = documents.credit_note_view(note, invoice, seller=seller)
    context = {
        **view,
        "hosted_url": documents.hosted_url(public_url, token),
        "pdf_url": documents.credit_note_pdf_url(public_url, token, note.id),
    }
    subject = documents.render("credit_note_email_subject.txt.j2", templates_dir=templates_dir, **context)
    html = documents.render("credit_note_email.html.j2", templates_dir=templates_dir, **context)
    text = documents.render("credit_note_email.txt.j2", templates_dir=templates_dir, **context)
    return " ".join(subject.split()), html, text


HANDLERS: dict[str, Callable[[Delivery, NotificationMessage], Outcome]] = {
    NOTIFICATION_CREDIT_NOTE_ISSUED: _deliver_credit_note,
}
"""Kinds whose subject is not one invoice; every other kind is about ``invoice_id``."""

KINDS = (
    NOTIFICATION_INVOICE_FINALIZED,
    NOTIFICATION_CREDIT_NOTE_ISSUED,
    *DUNNING_NOTIFICATION_KINDS,
    NOTIFICATION_INVOICE_PAID,
    NOTIFICATION_INVOICE_QUERY,
)
