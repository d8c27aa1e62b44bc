"""Invoice queries: "Question about this invoice?" on the hosted page → a stored query, an email to
the seller's support address, and the API to list and resolve them. See docs/invoices.md#questions.

* **Asking** (``submit_invoice_question``, ``POST /i/{token}/questions``): the customer's email, an
  optional name and a message (at most 2,000 characters). The form carries a nonce made per render
  (``new_question_nonce``); the query's id is derived from the invoice and the nonce, so a double
  submit stores one query. An invoice has at most ``MAX_OPEN_QUERIES`` open queries (counted in the
  creating transaction). Every input gets an answer (``QuestionResult``), never an exception.
* **Telling the seller**: the query, its copy on the invoice, the open count and the pending
  ``invoice_query`` notification are one transaction; the notification is enqueued after the commit
  (the finalizer re-enqueues a lost one) and the notifier emails the seller's support address
  (``support_email`` of ``/v1/account``) with Reply-To the customer's email
  (``deliver_query_email``), once.
* **Answering** (API): list (by status, invoice or customer, newest first), get, resolve (once:
  resolving again answers the resolved query unchanged).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from billing import clock, i18n
from billing.errors import Conflict, NotFound, ValidationFailed
from billing.models.invoice_queries import (
    INVOICE_QUERY_ID_PREFIX,
    MAX_MESSAGE_LENGTH,
    MAX_OPEN_QUERIES,
    MAX_RESOLUTION_LENGTH,
    InvoiceQuery,
    InvoiceQueryStatus,
)
from billing.models.invoices import Invoice
from billing.observability import logger, metrics
from billing.repositories.customers import CustomerRepository
from billing.repositories.invoice_queries import (
    InvoiceQueryRepository,
    QueryExists,
    QueryNotOpen,
    TooManyOpenQueries,
)
from billing.repositories.invoices import InvoiceRepository, pending_notification_put
from billing.services import documents
from billing.services.outbox import NotificationSink, send_pending_notification

if TYPE_CHECKING:
    from billing.services.notifications import Delivery, NotificationMessage, Outcome

NOTIFICATION_INVOICE_QUERY = "invoice_query"
QUERY_ID = re.compile(r"^iq_[0-9a-f]{16}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
PAGE_QUERIES = 50
"""Queries the hosted page shows (newest first)."""

QuestionOutcome = Literal["stored", "duplicate", "invalid", "too_many_open", "not_found"]


class QuestionResult(BaseModel):
    """What became of a question asked from the hosted page."""

    model_config = ConfigDict(frozen=True)

    outcome: QuestionOutcome
    """``stored``; ``duplicate`` (the same form submitted again: the query stored the first time);
    ``invalid`` (see ``errors``); ``too_many_open`` (the invoice has ``MAX_OPEN_QUERIES`` open
    queries); ``not_found`` (no invoice has this token)."""
    query: InvoiceQuery | None = None
    invoice: Invoice | None = None
    errors: dict[str, str] = Field(default_factory=dict)
    """``invalid``: field (``email``, ``name``, ``message``, ``nonce``) → what is wrong, in the
    invoice's language."""
    values: dict[str, str] = Field(default_factory=dict)
    """``invalid``: the form's values as cleaned (the page shows them again beside the errors)."""


class PageQuery(BaseModel):
    """A query as the hosted page shows it to the customer."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None
    message: str
    status: InvoiceQueryStatus
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True, kw_only=True)
class Queries:
    invoices: InvoiceRepository
    queries: InvoiceQueryRepository
    customers: CustomerRepository | None = None
    """The API resolves ``customer`` filters (an id or external id) through it."""
    notifications: NotificationSink | None = None


def queries_from_settings(settings: Any, *, notifications: bool) -> Queries:
    table = settings.require("billing_table")
    sink: NotificationSink | None = None
    if notifications and settings.notifications_queue_url:
        from billing.gateways.aws import NotificationQueue

        sink = NotificationQueue(url=settings.notifications_queue_url)
    return Queries(
        invoices=InvoiceRepository(table_name=table),
        queries=InvoiceQueryRepository(table_name=table),
        customers=CustomerRepository(table_name=table),
        notifications=sink,
    )


# --------------------------------------------------------------------------- asking (hosted page)


def new_question_nonce() -> str:
    """The hidden field of one render of the question form (a double submit of it is one query)."""
    return secrets.token_urlsafe(18)


def query_id_for(invoice_id: str, nonce: str) -> str:
    digest = hashlib.sha256(f"{invoice_id}#{nonce}".encode()).hexdigest()[:16]
    return f"{INVOICE_QUERY_ID_PREFIX}{digest}"


def _clean(value: object) -> str:
    text = value if isinstance(value, str) else ""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check_question(form: Mapping[str, object], *, locale: str) -> tuple[dict[str, str], dict[str, str]]:
    """The form's values, cleaned, and what is wrong with them (field → message). Pure."""
    _ = i18n.gettext_for(locale)
    email = _clean(form.get("email"))
    name = " ".join(_clean(form.get("name")).split())
    message = _clean(form.get("message"))
    nonce = _clean(form.get("nonce"))
    errors: dict[str, str] = {}
    if not email or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        errors["email"] = _("Enter a valid email address, so that we can answer you.")
    if len(name) > MAX_NAME_LENGTH:
        errors["name"] = _("Your name is at most %(count)s characters.", count=MAX_NAME_LENGTH)
    if not message:
        errors["message"] = _("Write your question.")
    elif len(message) > MAX_MESSAGE_LENGTH:
        errors["message"] = _("Your question is at most %(count)s characters.", count=MAX_MESSAGE_LENGTH)
    if not _NONCE.match(nonce):
        errors["nonce"] = _("This form has expired: reload the page and send your question again.")
    return {"email": email, "name": name, "message": message, "nonce": nonce}, errors


def submit_invoice_question(deps: Queries, *, token: str, form: Mapping[str, object]) -> QuestionResult:
    """Store the customer's question about the invoice of ``token`` and tell the seller (see the
    module docstring)."""
    invoice = deps.invoices.get_by_hosted_token(token)
    if invoice is None or invoice.status == "draft":
        return QuestionResult(outcome="not_found")
    values, errors = check_question(form, locale=documents.locale_of(invoice))
    if errors:
        logger.info("invoice question refused", invoice_id=invoice.id, fields=sorted(errors))
        return QuestionResult(outcome="invalid", invoice=invoice, errors=errors, values=values)
    now = clock.now()
    query = InvoiceQuery(
        id=query_id_for(invoice.id, values["nonce"]),
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        customer_id=invoice.customer_id,
        email=values["email"],
        name=values["name"] or None,
        message=values["message"],
        created_at=now,
    )
    message = {"kind": NOTIFICATION_INVOICE_QUERY, "invoice_id": invoice.id, "query_id": query.id}
    pending = pending_notification_put(NOTIFICATION_INVOICE_QUERY, query.id, now, message=message)
    try:
        deps.queries.create(query, max_open=MAX_OPEN_QUERIES, extra_actions=[pending])
    except QueryExists:
        stored = deps.queries.get(query.id)
        logger.info("invoice question submitted twice", invoice_id=invoice.id, query_id=query.id)
        return QuestionResult(outcome="duplicate", invoice=invoice, query=stored)
    except TooManyOpenQueries:
        logger.info("invoice question refused: too many open", invoice_id=invoice.id)
        metrics.add_metric(name="InvoiceQueriesRefused", unit="Count", value=1)
        return QuestionResult(outcome="too_many_open", invoice=invoice)
    logger.info("invoice question received", invoice_id=invoice.id, query_id=query.id)
    metrics.add_metric(name="InvoiceQueriesReceived", unit="Count", value=1)
    send_pending_notification(
        deps.notifications, deps.invoices, NOTIFICATION_INVOICE_QUERY, query.id, message=message
    )
    return QuestionResult(outcome="stored", invoice=invoice, query=query)


def queries_for_invoice(deps: Queries, invoice: Invoice, *, limit: int = PAGE_QUERIES) -> list[PageQuery]:
    """The invoice's queries for its hosted page, newest first."""
    page = deps.queries.list_for_invoice(invoice.id, limit=limit, cursor=None)
    return [
        PageQuery(
            id=q.id,
            name=q.name,
            message=q.message,
            status=q.status,
            created_at=q.created_at,
            resolved_at=q.resolved_at,
            resolution=q.resolution,
        )
        for q in page.queries
    ]


# --------------------------------------------------------------------------- answering (API)


def get_invoice_query(deps: Queries, query_id: str) -> InvoiceQuery:
    query = deps.queries.get(query_id) if QUERY_ID.match(query_id) else None
    if query is None:
        raise NotFound(f"no invoice query {query_id!r}", code="invoice_query_not_found", param="query_id")
    return query


def list_invoice_queries(
    deps: Queries,
    *,
    status: InvoiceQueryStatus | None,
    invoice: str | None,
    customer: str | None,
    limit: int,
    cursor: dict[str, Any] | None,
) -> tuple[list[InvoiceQuery], dict[str, Any] | None]:
    """Newest first: an invoice's, a customer's (either filtered by ``status``), a status's, or all
    (the open ones, then the resolved ones)."""
    if invoice is not None:
        found = deps.invoices.get(invoice) if invoice.startswith("in_") else None
        if found is None:
            raise NotFound(f"no invoice {invoice!r}", code="invoice_not_found", param="invoice")
        if customer is not None and _customer_id(deps, customer) != found.customer_id:
            return [], None
        page = deps.queries.list_for_invoice(found.id, limit=limit, cursor=cursor, status=status)
    elif customer is not None:
        page = deps.queries.list_for_customer(
            _customer_id(deps, customer), limit=limit, cursor=cursor, status=status
        )
    elif status is not None:
        page = deps.queries.list_by_status(status, limit=limit, cursor=cursor)
    else:
        page = deps.queries.list_all(limit=limit, cursor=cursor)
    return page.queries, page.last_key


def _customer_id(deps: Queries, customer: str) -> str:
    found = deps.customers.resolve(customer) if deps.customers is not None else None
    if found is None:
        raise NotFound(f"no customer {customer!r}", code="customer_not_found", param="customer")
    return found.id


def resolve_invoice_query(
    deps: Queries, query_id: str, *, actor: str, resolution: str | None
) -> InvoiceQuery:
    """Mark the query resolved (who, when, an optional resolution text). Resolving a resolved query
    changes nothing and answers it as it is."""
    if resolution is not None:
        resolution = resolution.strip() or None
    if resolution is not None and len(resolution) > MAX_RESOLUTION_LENGTH:
        raise ValidationFailed(
            f"resolution is at most {MAX_RESOLUTION_LENGTH} characters", code="too_long", param="resolution"
        )
    current = get_invoice_query(deps, query_id)
    if current.status == "resolved":
        return current
    new = current.model_copy(
        update={
            "status": "resolved",
            "resolved_at": clock.now(),
            "resolved_by": actor,
            "resolution": resolution,
        }
    )
    try:
        deps.queries.resolve(current, new)
    except QueryNotOpen:
        again = get_invoice_query(deps, query_id)
        if again.status == "resolved":
            return again
        raise Conflict(
            f"invoice query {query_id} is being changed concurrently; retry",
            code="concurrent_update",
            param="query_id",
        ) from None
    logger.info("invoice query resolved", query_id=query_id, invoice_id=new.invoice_id, by=actor)
    metrics.add_metric(name="InvoiceQueriesResolved", unit="Count", value=1)
    return new


# --------------------------------------------------------------------------- the seller's email


def render_query_email(
    query: InvoiceQuery, invoice: Invoice, *, public_url: str, api_url: str, templates_dir: str | None = None
) -> tuple[str, str, str]:
    """Subject, HTML and text of the email to the seller's support address (in English: the seller's
    language is not known yet)."""
    context = {
        "locale": "en",
        "query": query,
        "customer_name": str(invoice.customer_snapshot.get("name") or ""),
        "invoice_number": invoice.number or invoice.id,
        "hosted_url": documents.hosted_url(public_url, invoice.hosted_token or ""),
        "query_url": f"{api_url.rstrip('/')}/v1/invoice-queries/{query.id}",
        "asked": documents.format_date(query.created_at, locale="en", zone=documents.customer_zone(invoice)),
    }
    subject = documents.render("invoice_query_email_subject.txt.j2", templates_dir=templates_dir, **context)
    html = documents.render("invoice_query_email.html.j2", templates_dir=templates_dir, **context)
    text = documents.render("invoice_query_email.txt.j2", templates_dir=templates_dir, **context)
    return " ".join(subject.split()), html, text


def deliver_query_email(deps: Delivery, message: NotificationMessage, invoice: Invoice) -> Outcome:
    """The notifier's part: email the query to the support address once (Reply-To: the customer)."""
    kind = message.marker_kind
    assert message.query_id is not None and deps.queries is not None
    query = deps.queries.get(message.query_id)
    if query is None or query.invoice_id != invoice.id:
        raise NotFound(f"no invoice query {message.query_id!r}", code="invoice_query_not_found")
    if not deps.support_email:
        logger.warning("no support address; invoice question not emailed", query_id=query.id)
        deps.markers.mark_sent(invoice.id, kind, at=clock.now(), outcome="skipped_no_support_address")
        return "skipped_no_support_address"
    subject, html, text = render_query_email(
        query,
        invoice,
        public_url=deps.public_url,
        api_url=deps.api_url or deps.public_url,
        templates_dir=deps.templates_dir,
    )
    message_id = deps.email.send(
        to=[deps.support_email], subject=subject, html=html, text=text, reply_to=[query.email]
    )
    deps.markers.mark_sent(
        invoice.id,
        kind,
        at=clock.now(),
        outcome="sent",
        recipients=[deps.support_email],
        message_id=message_id,
    )
    logger.info("invoice question emailed", query_id=query.id, invoice_id=invoice.id, message_id=message_id)
    metrics.add_metric(name="InvoiceQueryEmailsSent", unit="Count", value=1)
    return "sent"


__all__ = [
    "NOTIFICATION_INVOICE_QUERY",
    "PageQuery",
    "Queries",
    "QuestionResult",
    "check_question",
    "deliver_query_email",
    "get_invoice_query",
    "list_invoice_queries",
    "new_question_nonce",
    "queries_for_invoice",
    "queries_from_settings",
    "resolve_invoice_query",
    "submit_invoice_question",
]
