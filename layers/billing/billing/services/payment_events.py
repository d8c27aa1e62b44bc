"""Provider webhooks: verify, deduplicate, enqueue (``receive_webhook``); then apply each event to its
invoice (``apply_event``), dispatching by a table of event type -> handler.

Every handler is safe to run twice and in any order:

* payments go through ``collection.apply_payment`` under an id derived from the invoice and attempt
  (``metadata.attempt``, the collector's attempts) or from the provider payment id (Checkout), so an
  attempt the collector already recorded, or a duplicate event, changes nothing;
* a failure never touches an invoice that is no longer open (a late ``payment_failed`` after a
  ``succeeded`` never reopens a paid invoice);
* refunds are recorded once per provider refund (``PROVIDER_REFUND#`` guard);
* a dispute's state is applied only if newer than the one applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from billing import clock
from billing.errors import BadRequest, BillingError, NotFound, ProviderUnavailable, ValidationFailed
from billing.gateways.aws import PaymentEventQueue
from billing.models.payments import CheckoutDecline, Payment, PaymentRecordStatus, Refund
from billing.observability import logger, metrics
from billing.payments.declines import is_hard_decline
from billing.payments.models import PaymentMethodDetails, WebhookEvent
from billing.payments.webhooks import construct_webhook_event
from billing.repositories.payment_events import WebhookEventRepository
from billing.repositories.payments import (
    TransactionConflict,
    dispute_actions,
    payment_id_for_attempt,
    payment_id_for_provider,
    refund_actions,
    refund_id_for_provider,
)
from billing.services.collection import MAX_ATTEMPTS, Collection, apply_payment

Receipt = Literal["enqueued", "duplicate"]
Applied = Literal["applied", "unchanged", "ignored"]

# --------------------------------------------------------------------------------------------- intake


def receive_webhook(
    *,
    payload: bytes | str,
    signature: str | None,
    secrets: Sequence[str],
    events: WebhookEventRepository,
    queue: PaymentEventQueue,
) -> tuple[Receipt, WebhookEvent]:
    """Verify the signature (``BadRequest`` ``invalid_signature`` / ``invalid_payload``: nothing is
    written), record the event id once, enqueue it. A failed enqueue forgets the id and raises
    ``ProviderUnavailable`` so the provider's retry gets through."""
    try:
        event = construct_webhook_event(payload, signature, secrets=list(secrets))
    except ValidationFailed as exc:
        raise BadRequest(exc.message, code=exc.code, param=exc.param) from None
    if not events.mark_received(event_id=event.id, event_type=event.type, at=clock.now()):
        logger.info("webhook event already received", event_id=event.id, event_type=event.type)
        metrics.add_metric(name="WebhookDuplicates", unit="Count", value=1)
        return "duplicate", event
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        queue.send({"event": json.loads(text)})
    except ProviderUnavailable:
        events.forget(event.id)
        raise
    logger.info("webhook event enqueued", event_id=event.id, event_type=event.type)
    metrics.add_metric(name="WebhookEventsReceived", unit="Count", value=1)
    return "enqueued", event


# --------------------------------------------------------------------------------------------- apply


def _invoice_of(deps: Collection, provider_payment_id: str | None, metadata: dict[str, Any]) -> str | None:
    invoice_id = metadata.get("invoice_id")
    if isinstance(invoice_id, str) and invoice_id:
        return invoice_id
    if provider_payment_id:
        existing = deps.payments.get_by_provider_id(provider_payment_id)
        if existing is not None:
            return existing.invoice_id
    return None


def _attempt(metadata: dict[str, Any]) -> int | None:
    try:
        return int(metadata["attempt"])
    except (KeyError, TypeError, ValueError):
        return None


def payment_from_provider(
    deps: Collection,
    *,
    provider_payment_id: str,
    invoice_id: str,
    attempt: int | None,
    amount: int,
    currency: str,
    status: PaymentRecordStatus,
    at: datetime,
    decline_code: str | None = None,
    failure_message: str | None = None,
    hard_decline: bool = False,
    card: PaymentMethodDetails | None = None,
) -> Payment | None:
    """The payment as our books name it: the collector's attempt (invoice, attempt), the payment already
    recorded for this provider payment, or a new one named after the provider payment (Checkout)."""
    invoice = deps.invoices.get(invoice_id)
    if invoice is None:
        return None
    recorded = deps.payments.get_by_provider_id(provider_payment_id)
    if recorded is not None:
        payment_id, number = recorded.id, recorded.attempt
    elif attempt is not None:
        payment_id, number = payment_id_for_attempt(invoice_id, attempt), attempt
    else:
        payment_id, number = payment_id_for_provider(provider_payment_id), 0
    return Payment(
        id=payment_id,
        invoice_id=invoice_id,
        customer_id=invoice.customer_id,
        amount=amount,
        currency=currency,
        status=status,
        provider=deps.provider.name,
        provider_payment_id=provider_payment_id,
        attempt=number,
        decline_code=decline_code,
        failure_message=failure_message,
        hard_decline=hard_decline,
        created_at=at,
        settled_at=at if status == "succeeded" else None,
        payment_method_type=card.type if card else None,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
    )


def with_payment_method(deps: Collection, payment: Payment, card: PaymentMethodDetails | None) -> Payment:
    """The payment with the brand and last digits of its card (asked of the provider when not given:
    best effort, a receipt without them says "Card"; never a reason to delay recording money)."""
    if card is None and payment.provider_payment_id:
        try:
            card = deps.provider.payment_method_details(provider_payment_id=payment.provider_payment_id)
        except BillingError as exc:
            logger.warning(
                "payment method not readable; recorded without it",
                provider_payment_id=payment.provider_payment_id,
                code=exc.code,
            )
    if card is None:
        return payment
    return payment.model_copy(
        update={"payment_method_type": card.type, "card_brand": card.brand, "card_last4": card.last4}
    )


def _apply_succeeded(
    deps: Collection,
    *,
    reference: str,
    provider_payment_id: str,
    metadata: dict[str, Any],
    amount: int,
    currency: str,
    at: datetime,
    card: PaymentMethodDetails | None = None,
) -> Applied:
    """Record a succeeded provider payment (``reference``: the event or session, for the logs)."""
    invoice_id = _invoice_of(deps, provider_payment_id, metadata)
    if invoice_id is None:
        logger.warning(
            "payment without invoice", provider_payment_id=provider_payment_id, reference=reference
        )
        return "ignored"
    payment = payment_from_provider(
        deps,
        provider_payment_id=provider_payment_id,
        invoice_id=invoice_id,
        attempt=_attempt(metadata),
        amount=amount,
        currency=currency,
        status="succeeded",
        at=at,
    )
    if payment is None:
        logger.warning("payment for an unknown invoice", invoice_id=invoice_id, reference=reference)
        return "ignored"
    invoice = deps.invoices.get(invoice_id)
    if invoice is not None and invoice.status in ("draft", "void"):
        # Money for an invoice that asks for none: never applied here; reconciliation reports it.
        logger.warning(
            "payment for an invoice that is not due",
            invoice_id=invoice_id,
            status=invoice.status,
            reference=reference,
        )
        metrics.add_metric(name="PaymentsUnapplied", unit="Count", value=1)
        return "ignored"
    before = deps.payments.get(payment.id)
    if before is None:
        payment = with_payment_method(deps, payment, card)
    apply_payment(deps, payment)
    return "unchanged" if before is not None and before.status != "processing" else "applied"


def on_payment_succeeded(deps: Collection, event: WebhookEvent) -> Applied:
    intent = event.data_object
    amount = int(intent.get("amount_received") or intent.get("amount") or 0)
    return _apply_succeeded(
        deps,
        reference=event.id,
        provider_payment_id=str(intent["id"]),
        metadata=intent.get("metadata") or {},
        amount=amount,
        currency=str(intent.get("currency") or ""),
        at=event.created,
    )


def on_payment_failed(deps: Collection, event: WebhookEvent) -> Applied:
    intent = event.data_object
    metadata = intent.get("metadata") or {}
    attempt = _attempt(metadata)
    invoice_id = _invoice_of(deps, str(intent["id"]), metadata)
    if invoice_id is not None and attempt is None and metadata.get("source") == "checkout":
        # A card refused on the Checkout page is not an attempt of ours (no dunning, the invoice is
        # untouched: the same PaymentIntent may still succeed with another card); kept for the history.
        return _record_checkout_decline(deps, event, invoice_id)
    if invoice_id is None or attempt is None:
        logger.info("payment failure not recorded", provider_payment_id=intent["id"], event_id=event.id)
        return "ignored"
    invoice = deps.invoices.get(invoice_id)
    if invoice is None or invoice.status != "open":
        logger.info(
            "late payment failure ignored",
            invoice_id=invoice_id,
            invoice_status=invoice.status if invoice else None,
            event_id=event.id,
        )
        return "ignored"
    error = intent.get("last_payment_error") or {}
    code = error.get("code")
    decline = error.get("decline_code")
    payment = payment_from_provider(
        deps,
        provider_payment_id=str(intent["id"]),
        invoice_id=invoice_id,
        attempt=attempt,
        amount=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or invoice.currency),
        status="failed",
        at=event.created,
        decline_code=decline or code or "payment_failed",
        failure_message=error.get("message"),
        hard_decline=is_hard_decline(code=code, decline_code=decline),
    )
    if payment is None:
        return "ignored"
    before = deps.payments.get(payment.id)
    apply_payment(deps, payment)
    return "unchanged" if before is not None else "applied"


def _record_checkout_decline(deps: Collection, event: WebhookEvent, invoice_id: str) -> Applied:
    intent = event.data_object
    error = intent.get("last_payment_error") or {}
    method = error.get("payment_method") if isinstance(error.get("payment_method"), dict) else {}
    card = (method or {}).get("card") or {}
    decline = CheckoutDecline(
        id=str(error.get("charge") or event.id),
        invoice_id=invoice_id,
        provider_payment_id=str(intent["id"]),
        amount=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        decline_code=str(error.get("decline_code") or error.get("code") or "payment_failed"),
        failure_message=error.get("message"),
        card_brand=card.get("brand"),
        card_last4=card.get("last4"),
        at=event.created,
    )
    if deps.invoices.get(invoice_id) is None:
        logger.warning("checkout decline for an unknown invoice", invoice_id=invoice_id, event_id=event.id)
        return "ignored"
    if not deps.payments.record_decline(decline):
        return "unchanged"
    logger.info(
        "checkout card declined",
        invoice_id=invoice_id,
        provider_payment_id=decline.provider_payment_id,
        decline_code=decline.decline_code,
    )
    metrics.add_metric(name="CheckoutDeclines", unit="Count", value=1)
    return "applied"


def apply_paid_checkout(
    deps: Collection,
    *,
    session_id: str,
    invoice_id: str,
    provider_payment_id: str,
    amount: int,
    currency: str,
    at: datetime,
    card: PaymentMethodDetails | None = None,
) -> Applied:
    """Record the payment of a paid Checkout Session: the one path of the ``checkout.session.completed``
    webhook and of the customer's return to the hosted page (``services.checkout``), so either may come
    first, twice or not at all: the payment is named after its PaymentIntent and recorded once."""
    return _apply_succeeded(
        deps,
        reference=session_id,
        provider_payment_id=provider_payment_id,
        metadata={"invoice_id": invoice_id},
        amount=amount,
        currency=currency,
        at=at,
        card=card,
    )


def on_checkout_completed(deps: Collection, event: WebhookEvent) -> Applied:
    session = event.data_object
    if session.get("mode") == "setup":
        return on_setup_checkout_completed(deps, event)
    intent_id = session.get("payment_intent")
    if session.get("payment_status") != "paid" or not isinstance(intent_id, str):
        logger.info("checkout session not paid", session_id=session.get("id"), event_id=event.id)
        return "ignored"
    invoice_id = (session.get("metadata") or {}).get("invoice_id") or session.get("client_reference_id")
    if not isinstance(invoice_id, str) or not invoice_id:
        logger.warning(
            "paid checkout session without invoice", session_id=session.get("id"), event_id=event.id
        )
        return "ignored"
    return apply_paid_checkout(
        deps,
        session_id=str(session.get("id")),
        invoice_id=invoice_id,
        provider_payment_id=intent_id,
        amount=int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or ""),
        at=event.created,
    )


def on_setup_checkout_completed(deps: Collection, event: WebhookEvent) -> Applied:
    """A card saved on the Checkout page a customer portal started (setup mode) becomes the default,
    unless the customer's return came first or a newer card was saved since (``services.portal``);
    then the invoices in dunning are retried with it. Sessions the portal did not start are ignored."""
    from billing.repositories.portal import PortalRepository
    from billing.services.portal import apply_setup_checkout

    session_id = str(event.data_object.get("id") or "")
    outcome = apply_setup_checkout(
        PortalRepository(table_name=deps.invoices.table_name),
        deps.customers,
        deps.provider,
        session_id,
        dunning=deps.dunning,
    )
    if outcome == "pending":  # the provider does not show it complete yet: the queue redelivers
        raise ProviderUnavailable(f"checkout session {session_id} is not complete yet")
    return {"applied": "applied", "ignored": "ignored"}.get(outcome, "unchanged")  # type: ignore[return-value]


def on_charge_refunded(deps: Collection, event: WebhookEvent) -> Applied:
    charge = event.data_object
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str):
        logger.info("refund of a charge without payment intent", charge_id=charge.get("id"))
        return "ignored"
    payment = deps.payments.get_by_provider_id(intent_id)
    if payment is None:
        # The refund overtook the payment's own event: a refunded charge was captured, record it first.
        outcome = _apply_succeeded(
            deps,
            reference=event.id,
            provider_payment_id=intent_id,
            metadata=charge.get("metadata") or {},
            amount=int(charge.get("amount_captured") or charge.get("amount") or 0),
            currency=str(charge.get("currency") or ""),
            at=event.created,
        )
        if outcome == "ignored":
            return outcome
        payment = deps.payments.get_by_provider_id(intent_id)
        if payment is None:
            raise ProviderUnavailable(f"payment {intent_id} not readable yet")
    applied = False
    for record in deps.provider.list_refunds_of_payment(provider_payment_id=intent_id):
        if record.status not in ("succeeded", "pending"):
            continue
        applied |= record_refund(
            deps,
            provider_refund_id=record.provider_refund_id,
            provider_payment_id=intent_id,
            amount=record.amount,
            currency=record.currency,
            credit_note_id=record.credit_note_id,
            at=record.created,
        )
    return "applied" if applied else "unchanged"


def record_refund(
    deps: Collection,
    *,
    provider_refund_id: str,
    provider_payment_id: str,
    amount: int,
    currency: str,
    credit_note_id: str | None,
    at: datetime,
) -> bool:
    """Record one provider refund against its payment, once. False when it was recorded already."""
    for _ in range(MAX_ATTEMPTS):
        if deps.payments.refund_recorded(provider_refund_id):
            return False
        payment = deps.payments.get_by_provider_id(provider_payment_id)
        if payment is None:
            raise NotFound(f"no payment for {provider_payment_id}", code="payment_not_found")
        refund = Refund(
            id=refund_id_for_provider(provider_refund_id),
            payment_id=payment.id,
            invoice_id=payment.invoice_id,
            credit_note_id=credit_note_id,
            amount=amount,
            currency=currency,
            provider_refund_id=provider_refund_id,
            created_at=at,
        )
        try:
            deps.payments.write(refund_actions(payment, refund))
        except TransactionConflict:
            continue
        logger.info(
            "refund recorded",
            refund_id=refund.id,
            payment_id=payment.id,
            invoice_id=payment.invoice_id,
            amount=amount,
        )
        metrics.add_metric(name="RefundsRecorded", unit="Count", value=1)
        return True
    raise ProviderUnavailable(f"payment {provider_payment_id} is being changed concurrently")


_DISPUTE_OPEN = {"warning_needs_response", "warning_under_review", "needs_response", "under_review"}


def on_dispute(deps: Collection, event: WebhookEvent) -> Applied:
    dispute = event.data_object
    intent_id = dispute.get("payment_intent")
    status = str(dispute.get("status") or "")
    if not isinstance(intent_id, str):
        return "ignored"
    for _ in range(MAX_ATTEMPTS):
        payment = deps.payments.get_by_provider_id(intent_id)
        if payment is None:
            logger.warning("dispute of an unknown payment", provider_payment_id=intent_id, event_id=event.id)
            return "ignored"
        state = deps.payments.dispute_state(str(dispute["id"]))
        if state is not None and state["event_at"] >= _ts(event.created):
            return "unchanged"
        if status in _DISPUTE_OPEN or status == "lost":
            new: PaymentRecordStatus = "disputed"
        elif payment.amount_refunded >= payment.amount:
            new = "refunded"
        else:
            new = "partially_refunded" if payment.amount_refunded else "succeeded"
        try:
            deps.payments.write(
                dispute_actions(
                    payment,
                    dispute_id=str(dispute["id"]),
                    dispute_status=status,
                    event_at=event.created,
                    new_status=new,
                )
            )
        except TransactionConflict:
            continue
        logger.info(
            "dispute applied", payment_id=payment.id, dispute_status=status, invoice_id=payment.invoice_id
        )
        metrics.add_metric(name="DisputesUpdated", unit="Count", value=1)
        return "applied"
    raise ProviderUnavailable(f"payment {intent_id} is being changed concurrently")


def _ts(value: datetime) -> str:
    from billing.repositories.transactions import timestamp

    return timestamp(value)


HANDLERS: dict[str, Callable[[Collection, WebhookEvent], Applied]] = {
    "payment_intent.succeeded": on_payment_succeeded,
    "payment_intent.payment_failed": on_payment_failed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute,
    "charge.dispute.closed": on_dispute,
    "checkout.session.completed": on_checkout_completed,
}


def apply_event(deps: Collection, event: WebhookEvent) -> Applied:
    """Apply one verified event; unknown types are logged and acknowledged."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        logger.info("payment event type not handled", event_id=event.id, event_type=event.type)
        return "ignored"
    outcome = handler(deps, event)
    logger.info("payment event applied", event_id=event.id, event_type=event.type, outcome=outcome)
    return outcome


__all__ = [
    "HANDLERS",
    "apply_event",
    "apply_paid_checkout",
    "payment_from_provider",
    "receive_webhook",
    "record_refund",
    "with_payment_method",
]
