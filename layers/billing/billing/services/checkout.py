"""Paying an invoice from its hosted page: the Pay button (``start_invoice_checkout``) and the
customer's return from the provider's page (``confirm_checkout_return``). See docs/payments.md.

**Pay.** The invoice is read again; if it is open (or uncollectible) with something remaining and no
charge of ours in flight, the customer is sent to a Checkout Session (provider adapter, payment mode)
for exactly ``amount_remaining`` in its currency. The invoice keeps its current session
(``INVOICE#{id} / CHECKOUT``, ``CheckoutRepository``) and never has two live sessions asking for
money:

* the same amount, the session still open and not about to expire → the same session (pressing
  Pay twice, or two tabs: one link, so one payment);
* the amount changed (a partial payment, a credit note) or the session is about to expire → the
  old session is expired at the provider **first**, then a new one is made (``generation`` + 1);
* the old session turns out paid (its webhook has not arrived) → its payment is recorded now,
  through the webhook's path, and the invoice is looked at again (paid: the refusal page).

Creating a session is idempotent: its key is derived from the invoice, the amount, the URLs and the
generation (``payments.idempotency.checkout_key``), so a retry, a crash between the provider call
and the write, or two racing presses get the same session; the write of the new generation is
conditional on the one read, so two racing replacements cannot both win.

**Return.** ``?checkout=success&session_id=cs_…`` on the hosted page: the session is retrieved from
the provider, must be this invoice's (``metadata.invoice_id`` / ``client_reference_id``), and a paid
one is recorded through ``payment_events.apply_paid_checkout``, the path of the
``checkout.session.completed`` webhook: whichever comes first records the payment (and the receipt),
the other changes nothing. ``?checkout=canceled`` changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from billing import clock, i18n
from billing.errors import BillingError, NotFound, ValidationFailed
from billing.models.invoices import Invoice
from billing.models.payments import InvoiceCheckout
from billing.observability import logger, metrics
from billing.payments.models import CheckoutSession
from billing.repositories.checkouts import CheckoutRepository
from billing.services import documents
from billing.settings import ConfigurationError

if TYPE_CHECKING:
    from billing.services.collection import Collection

CheckoutOutcome = Literal[
    "redirect",
    "not_found",
    "draft",
    "void",
    "paid",
    "nothing_due",
    "payment_in_flight",
    "amount_too_small",
    "unavailable",
]
"""``redirect``: go to ``url``. ``not_found``: no invoice has this token. ``draft``, ``void``,
``paid``, ``nothing_due``, ``payment_in_flight`` (an automatic charge of ours is running):
refused, nothing asked of the provider. ``amount_too_small``: below the provider's minimum charge.
``unavailable``: the provider could not be reached or is not configured (try again later)."""

ReturnOutcome = Literal[
    "recorded",
    "already_recorded",
    "not_paid",
    "expired",
    "not_this_invoice",
    "unknown_session",
    "unapplied",
    "unavailable",
    "not_found",
]
"""``recorded``: the paid session was recorded now; ``already_recorded``: by the webhook (or an earlier
return) before. ``not_paid``: the session is open and unpaid (see ``decline``). ``expired``.
``not_this_invoice``: the session pays another invoice (nothing done). ``unknown_session``: no such
session (or a malformed id). ``unapplied``: paid, but the invoice is no longer due (voided meanwhile):
the money is not applied, reconciliation reports it for a refund. ``unavailable``: the provider
could not be asked; the webhook will record the payment. ``not_found``: no invoice has this token."""

MIN_LIFETIME = timedelta(minutes=10)
"""A session that expires sooner than this is replaced rather than handed out."""
SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")


class CheckoutStart(BaseModel):
    """What ``POST /i/{token}/pay`` does: redirect (303) to ``url``, or explain ``outcome``."""

    model_config = ConfigDict(frozen=True)

    outcome: CheckoutOutcome
    url: str | None = None
    session_id: str | None = None
    invoice: Invoice | None = None
    """The invoice as read (absent for ``not_found``): the refusal page shows its state."""


class CheckoutReturn(BaseModel):
    """The customer is back from the provider's page: what happened, and the invoice now."""

    model_config = ConfigDict(frozen=True)

    outcome: ReturnOutcome
    invoice: Invoice | None = None
    decline: dict[str, str] | None = None
    """``not_paid``: the session's last failure (``code``, ``decline_code``, ``message``), if any."""


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """What paying from the hosted page works with. ``collection.provider`` is the adapter;
    ``collection.dunning`` may be None (the webhook's and the hourly run's settlement end dunning)."""

    collection: Collection
    checkouts: CheckoutRepository
    public_url: str


def checkout_refusal(invoice: Invoice) -> CheckoutOutcome | None:
    """Why ``invoice`` cannot be paid from its page now (None: it can)."""
    if invoice.status in ("draft", "void", "paid"):
        return invoice.status
    if invoice.amount_remaining <= 0:
        return "nothing_due"
    if invoice.payment_in_flight:
        return "payment_in_flight"
    return None


def checkout_urls(public_url: str, token: str) -> tuple[str, str]:
    """Where the provider sends the customer back: paid (with the session id), or canceled."""
    page = documents.hosted_url(public_url, token)
    return f"{page}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}", f"{page}?checkout=canceled"


# --------------------------------------------------------------------------- pay


def start_invoice_checkout(deps: Checkout, *, token: str) -> CheckoutStart:
    """The Pay button of the hosted page (see the module docstring). Never raises for a provider
    problem: ``unavailable``."""
    invoice = deps.collection.invoices.get_by_hosted_token(token)
    if invoice is None or invoice.status == "draft":
        return CheckoutStart(outcome="not_found")
    try:
        return _start(deps, invoice, token)
    except ValidationFailed as exc:
        if exc.code == "provider_amount_too_small":
            return _refused(invoice, "amount_too_small")
        logger.error("checkout refused by the provider", invoice_id=invoice.id, code=exc.code)
        return _refused(invoice, "unavailable")
    except (BillingError, ConfigurationError) as exc:
        logger.error(
            "checkout unavailable", invoice_id=invoice.id, error=type(exc).__name__, detail=str(exc)[:300]
        )
        metrics.add_metric(name="CheckoutUnavailable", unit="Count", value=1)
        return _refused(invoice, "unavailable")


def _refused(invoice: Invoice, outcome: CheckoutOutcome) -> CheckoutStart:
    logger.info("checkout refused", invoice_id=invoice.id, reason=outcome, status=invoice.status)
    metrics.add_metric(name="CheckoutRefused", unit="Count", value=1)
    return CheckoutStart(outcome=outcome, invoice=invoice)


def _start(deps: Checkout, invoice: Invoice, token: str) -> CheckoutStart:
    refusal = checkout_refusal(invoice)
    if refusal is not None:
        return _refused(invoice, refusal)
    current = deps.checkouts.get(invoice.id)
    if current is not None:
        verdict = _previous_session(deps, invoice, current)
        if verdict == "reuse":
            logger.info("checkout resumed", invoice_id=invoice.id, session_id=current.session_id)
            return CheckoutStart(
                outcome="redirect", url=current.url, session_id=current.session_id, invoice=invoice
            )
        if verdict == "paid":
            invoice = deps.collection.invoices.get(invoice.id) or invoice
            refusal = checkout_refusal(invoice)
            if refusal is not None:
                return _refused(invoice, refusal)
    return _new_session(deps, invoice, token, current)


def _previous_session(
    deps: Checkout, invoice: Invoice, current: InvoiceCheckout
) -> Literal["reuse", "gone", "paid"]:
    """The invoice's last session: still right for what remains (``reuse``), paid meanwhile (its payment
    recorded now: ``paid``), or ``gone`` (expired here if it was open: never two live sessions)."""
    provider = deps.collection.provider
    fresh = current.expires_at is None or current.expires_at - clock.now() > MIN_LIFETIME
    same = current.amount == invoice.amount_remaining and current.currency == invoice.currency
    try:
        if same and fresh:
            session = provider.retrieve_checkout_session(session_id=current.session_id)
            if session.status == "open":
                return "reuse"
        else:
            session = provider.expire_checkout_session(session_id=current.session_id)
            if session.status == "expired":
                logger.info(
                    "checkout session replaced",
                    invoice_id=invoice.id,
                    session_id=current.session_id,
                    amount=current.amount,
                    amount_remaining=invoice.amount_remaining,
                )
    except NotFound:
        return "gone"
    if session.status == "complete" and session.payment_status == "paid":
        _record_paid(deps, invoice, session)
        return "paid"
    return "gone"


def _new_session(
    deps: Checkout, invoice: Invoice, token: str, current: InvoiceCheckout | None
) -> CheckoutStart:
    collection = deps.collection
    customer = collection.customers.get(invoice.customer_id)
    provider_customer = customer.provider_customer_id if customer is not None else None
    emails = [str(e) for e in invoice.customer_snapshot.get("emails") or []]
    success_url, cancel_url = checkout_urls(deps.public_url, token)
    _ = i18n.gettext_for(documents.locale_of(invoice))
    generation = (current.generation if current is not None else 0) + 1
    link = collection.provider.create_checkout_session(
        invoice_id=invoice.id,
        amount=invoice.amount_remaining,
        currency=invoice.currency,
        success_url=success_url,
        cancel_url=cancel_url,
        provider_customer_id=provider_customer,
        customer_email=None if provider_customer else (emails[0] if emails else None),
        description=_("Invoice %(number)s", number=invoice.number or invoice.id),
        generation=generation,
    )
    stored = InvoiceCheckout(
        invoice_id=invoice.id,
        session_id=link.session_id,
        url=link.url,
        amount=invoice.amount_remaining,
        currency=invoice.currency,
        generation=generation,
        expires_at=link.expires_at,
        created_at=clock.now(),
    )
    if not deps.checkouts.replace(stored, previous_generation=current.generation if current else None):
        # Another press stored its session first: the same one when it saw the same invoice.
        winner = deps.checkouts.get(invoice.id)
        if winner is None or winner.session_id != link.session_id:
            collection.provider.expire_checkout_session(session_id=link.session_id)
            if winner is None or winner.amount != invoice.amount_remaining:
                return _refused(invoice, "unavailable")
            link = link.model_copy(update={"session_id": winner.session_id, "url": winner.url})
    logger.info(
        "checkout started",
        invoice_id=invoice.id,
        session_id=link.session_id,
        amount=invoice.amount_remaining,
        currency=invoice.currency,
        generation=generation,
    )
    metrics.add_metric(name="CheckoutStarted", unit="Count", value=1)
    return CheckoutStart(outcome="redirect", url=link.url, session_id=link.session_id, invoice=invoice)


def _record_paid(deps: Checkout, invoice: Invoice, session: CheckoutSession) -> str:
    from billing.services.payment_events import apply_paid_checkout  # the payment path: loaded when used

    if session.provider_payment_id is None or session.invoice_id != invoice.id:
        return "ignored"
    return apply_paid_checkout(
        deps.collection,
        session_id=session.id,
        invoice_id=invoice.id,
        provider_payment_id=session.provider_payment_id,
        amount=session.amount_total or 0,
        currency=session.currency or invoice.currency,
        at=clock.now(),
        card=session.payment_method,
    )


# --------------------------------------------------------------------------- return


def confirm_checkout_return(deps: Checkout, *, token: str, session_id: str) -> CheckoutReturn:
    """The customer's return with ``?checkout=success&session_id=…`` (see the module docstring).
    Never raises for a provider problem or a bad id."""
    invoice = deps.collection.invoices.get_by_hosted_token(token)
    if invoice is None or invoice.status == "draft":
        return CheckoutReturn(outcome="not_found")
    if not SESSION_ID.match(session_id or ""):
        return CheckoutReturn(outcome="unknown_session", invoice=invoice)
    try:
        session = deps.collection.provider.retrieve_checkout_session(session_id=session_id)
    except NotFound:
        return CheckoutReturn(outcome="unknown_session", invoice=invoice)
    except (BillingError, ConfigurationError) as exc:
        logger.warning("checkout return not confirmed", invoice_id=invoice.id, error=type(exc).__name__)
        return CheckoutReturn(outcome="unavailable", invoice=invoice)
    if session.mode != "payment" or session.invoice_id != invoice.id:
        logger.warning(
            "checkout return for another invoice",
            invoice_id=invoice.id,
            session_id=session.id,
            session_invoice=session.invoice_id,
        )
        return CheckoutReturn(outcome="not_this_invoice", invoice=invoice)
    if session.status == "expired":
        return CheckoutReturn(outcome="expired", invoice=invoice)
    if session.status != "complete" or session.payment_status != "paid":
        return CheckoutReturn(outcome="not_paid", invoice=invoice, decline=session.last_payment_error)
    try:
        applied = _record_paid(deps, invoice, session)
    except BillingError as exc:  # DynamoDB contention past the retries: the webhook records it
        logger.warning("checkout return not recorded", invoice_id=invoice.id, code=exc.code)
        return CheckoutReturn(outcome="unavailable", invoice=invoice)
    outcome: ReturnOutcome = (
        "recorded" if applied == "applied" else "already_recorded" if applied == "unchanged" else "unapplied"
    )
    logger.info("checkout return confirmed", invoice_id=invoice.id, session_id=session.id, outcome=outcome)
    metrics.add_metric(name="CheckoutReturnsConfirmed", unit="Count", value=1)
    return CheckoutReturn(outcome=outcome, invoice=deps.collection.invoices.get(invoice.id) or invoice)


__all__ = [
    "Checkout",
    "CheckoutOutcome",
    "CheckoutReturn",
    "CheckoutStart",
    "ReturnOutcome",
    "checkout_refusal",
    "checkout_urls",
    "confirm_checkout_return",
    "start_invoice_checkout",
]
