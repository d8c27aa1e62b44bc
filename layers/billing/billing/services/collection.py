"""Collecting an open ``charge_automatically`` invoice through the payment provider.

One collection job (PaymentAttempts) names ``(invoice_id, attempt)``. The attempt number is taken
on the invoice (``payment_attempts``, ``payment_in_flight``) before the provider is called, and the
provider charge is idempotent per ``(invoice, attempt)``, so:

* a redelivered job, a Lambda crash after the charge, a provider timeout: the retry finds the
  attempt in flight and charges it again under the same key: the provider answers the first result;
* a stale job (its attempt is already decided) is acknowledged without calling the provider;
* a new attempt number is taken only once the previous attempt's outcome is recorded.

Recording a payment is one transaction: the payment (conditional on not existing: a second record
of the same payment is noticed), the invoice's amounts and status, the customer's open count and,
for an overpayment, the customer's credit balance (used by the next invoice). A failed attempt
of an open invoice also writes its dunning state in that transaction (``billing.services.dunning``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from billing import clock
from billing.errors import NotFound, ProviderUnavailable
from billing.models.invoices import Invoice
from billing.models.payments import Payment, PaymentRecordStatus
from billing.observability import logger, metrics
from billing.payments.models import PaymentMethodDetails, PaymentResult
from billing.payments.provider import PaymentProvider
from billing.repositories.customers import CustomerRepository
from billing.repositories.invoices import (
    InvoiceRepository,
    InvoiceWriteConflict,
    credit_balance_action,
    open_invoices_action,
    update_action,
)
from billing.repositories.payments import (
    PaymentRepository,
    TransactionConflict,
    payment_id_for_attempt,
    payment_puts,
    payment_updates,
)
from billing.services import dunning as dunning_service
from billing.services import outbox, receipts

MAX_ATTEMPTS = 25
CollectOutcome = Literal["paid", "partially_paid", "failed", "requires_action", "processing", "skipped"]


@dataclass(frozen=True, kw_only=True)
class Collection:
    invoices: InvoiceRepository
    customers: CustomerRepository
    payments: PaymentRepository
    provider: PaymentProvider
    dunning: dunning_service.Dunning | None = None
    """Set: a failed attempt starts (or advances) dunning, a recorded outcome takes its step."""
    notifications: outbox.NotificationSink | None = None
    """The Notifications queue: the receipt of a payment that settles the invoice is sent there after
    the commit (None: its pending marker waits for the finalizer)."""


def collection_from_settings(settings: object, provider: PaymentProvider) -> Collection:
    table = settings.require("billing_table")  # type: ignore[attr-defined]
    dunning = dunning_service.dunning_from_settings(settings)
    return Collection(
        invoices=InvoiceRepository(table_name=table),
        customers=CustomerRepository(table_name=table),
        payments=PaymentRepository(table_name=table),
        provider=provider,
        dunning=dunning,
        notifications=dunning.invoicing.queue,
    )


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.004 * 2**attempt)))  # noqa: S311 - jitter


def _start_attempt(deps: Collection, invoice_id: str, attempt: int) -> tuple[Invoice, int] | None:
    """The invoice and the attempt to charge (started here or already in flight); None if stale."""
    for race in range(MAX_ATTEMPTS):
        invoice = deps.invoices.get(invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found", code="invoice_not_found", param="invoice_id")
        if invoice.status not in ("open", "uncollectible") or invoice.amount_remaining <= 0:
            return None
        if invoice.payment_in_flight:
            # An earlier delivery started this attempt and its outcome is unknown: finish it first.
            return invoice, invoice.payment_attempts
        if invoice.payment_attempts >= attempt:
            return None
        new = invoice.model_copy(
            update={
                "payment_attempts": invoice.payment_attempts + 1,
                "payment_in_flight": True,
                "payment_in_flight_amount": invoice.amount_remaining,
                "updated_at": clock.now(),
                "version": invoice.version + 1,
            }
        )
        try:
            deps.invoices.update(invoice, new)
        except InvoiceWriteConflict:
            _backoff(race)
            continue
        return new, new.payment_attempts
    raise ProviderUnavailable(f"invoice {invoice_id} is being changed concurrently")


def collect(deps: Collection, invoice_id: str, *, attempt: int) -> CollectOutcome:
    """Charge attempt ``attempt`` of the invoice (or finish the attempt in flight) and record it.

    Raises ``ProviderUnavailable`` when the provider could not be reached: the job is retried and
    charges the same attempt under the same idempotency key."""
    started = _start_attempt(deps, invoice_id, attempt)
    if started is None:
        deps.payments.clear_pending(invoice_id)
        logger.info("collection skipped: nothing due or attempt already decided", invoice_id=invoice_id)
        return "skipped"
    invoice, number = started
    customer = deps.customers.get(invoice.customer_id)
    if customer is None or not customer.provider_customer_id:
        result = PaymentResult(
            status="failed",
            invoice_id=invoice.id,
            attempt=number,
            amount=invoice.payment_in_flight_amount,
            currency=invoice.currency,
            idempotency_key="",
            failure_code="payment_method_missing",
            failure_message="the customer has no payment method",
            hard_decline=True,
        )
    else:
        result = deps.provider.charge(
            invoice_id=invoice.id,
            attempt=number,
            amount=invoice.payment_in_flight_amount,
            currency=invoice.currency,
            provider_customer_id=customer.provider_customer_id,
            description=f"Invoice {invoice.number}" if invoice.number else None,
        )
    card = None
    if (
        customer is not None
        and result.payment_method_id
        and (result.payment_method_id == customer.default_payment_method)
    ):
        # The customer's default method was charged: its brand and last digits are on file.
        card = PaymentMethodDetails(
            id=result.payment_method_id,
            brand=customer.payment_method_brand,
            last4=customer.payment_method_last4,
        )
    outcome = record_attempt(deps, result, customer_id=invoice.customer_id, card=card)
    deps.payments.clear_pending(invoice_id)
    return outcome


def record_attempt(
    deps: Collection,
    result: PaymentResult,
    *,
    customer_id: str,
    card: PaymentMethodDetails | None = None,
) -> CollectOutcome:
    """Record the outcome of one charge attempt (from the collector or a webhook), exactly once."""
    now = clock.now()
    status: PaymentRecordStatus = result.status
    payment = Payment(
        id=payment_id_for_attempt(result.invoice_id, result.attempt),
        invoice_id=result.invoice_id,
        customer_id=customer_id,
        amount=result.amount,
        currency=result.currency,
        status=status,
        provider=deps.provider.name,
        provider_payment_id=result.provider_payment_id,
        attempt=result.attempt,
        decline_code=result.decline_code or (result.failure_code if status != "succeeded" else None),
        failure_message=result.failure_message,
        hard_decline=result.hard_decline,
        created_at=now,
        settled_at=now if status == "succeeded" else None,
        payment_method_type=card.type if card else None,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
    )
    return apply_payment(deps, payment)


def apply_payment(deps: Collection, payment: Payment) -> CollectOutcome:
    """Write ``payment`` and its effect on the invoice in one transaction; a payment already
    recorded in a final state changes nothing (duplicates, a webhook racing the collector)."""
    for race in range(MAX_ATTEMPTS):
        invoice = deps.invoices.get(payment.invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {payment.invoice_id} not found", code="invoice_not_found")
        existing = deps.payments.get(payment.id)
        actions: list[dict[str, object]] = []
        if existing is not None:
            if existing.status == payment.status or existing.status != "processing":
                # Recorded already (succeeded/failed are final); only release the attempt if needed.
                _release(deps, invoice, payment.attempt)
                if deps.dunning is not None and invoice.status != "open":
                    # A redelivery: end the dunning if the first delivery could not (idempotent).
                    dunning_service.after_settlement(deps.dunning, invoice.id)
                return _outcome(existing, invoice)
            actions += payment_updates(
                existing, payment.model_copy(update={"created_at": existing.created_at})
            )
        else:
            actions += payment_puts(payment)
        new = _invoice_after(invoice, payment, clock.now())
        actions.append(update_action(invoice, new))
        if deps.dunning is not None and payment.status in ("failed", "requires_action"):
            dunning_action = dunning_service.failure_action(deps.dunning, invoice, payment, now=clock.now())
            if dunning_action is not None:
                actions.append(dunning_action)
        if payment.status == "succeeded":
            overpaid = (
                payment.amount - invoice.amount_remaining if invoice.status != "paid" else payment.amount
            )
            if overpaid > 0:
                actions.append(credit_balance_action(invoice.customer_id, invoice.currency, overpaid))
            if invoice.status == "open" and new.status == "paid":
                actions.append(open_invoices_action(invoice.customer_id, -1))
        actions += receipts.receipt_actions(invoice, new, at=clock.now())
        try:
            deps.payments.write(actions)
        except TransactionConflict:
            _backoff(race)
            continue
        _log(payment, new)
        if receipts.receipt_due(invoice, new):
            outbox.send_pending_notification(
                deps.notifications, deps.invoices, receipts.NOTIFICATION_INVOICE_PAID, new.id
            )
        if deps.dunning is not None and payment.status in ("succeeded", "failed", "requires_action"):
            dunning_service.after_payment(deps.dunning, payment.invoice_id)
        return _outcome(payment, new)
    raise ProviderUnavailable(f"invoice {payment.invoice_id} is being changed concurrently")


def _invoice_after(invoice: Invoice, payment: Payment, now: datetime) -> Invoice:
    update: dict[str, object] = {"updated_at": now, "version": invoice.version + 1}
    if invoice.payment_in_flight and invoice.payment_attempts == payment.attempt:
        update["payment_in_flight"] = False
    if payment.status == "succeeded" and invoice.status != "paid":
        applied = min(payment.amount, invoice.amount_remaining)
        remaining = invoice.amount_remaining - applied
        update["amount_paid"] = invoice.amount_paid + applied
        update["amount_remaining"] = remaining
        update["last_payment_error"] = None
        if remaining == 0:
            update |= {"status": "paid", "paid_at": payment.settled_at or now, "paid_out_of_band": False}
    elif payment.status in ("failed", "requires_action"):
        update["last_payment_error"] = {
            "code": payment.decline_code or "payment_failed",
            "message": payment.failure_message or "",
            "hard_decline": "true" if payment.hard_decline else "false",
        }
    return invoice.model_copy(update=update)


def _release(deps: Collection, invoice: Invoice, attempt: int) -> None:
    if not (invoice.payment_in_flight and invoice.payment_attempts == attempt):
        return
    new = invoice.model_copy(
        update={"payment_in_flight": False, "updated_at": clock.now(), "version": invoice.version + 1}
    )
    try:
        deps.invoices.update(invoice, new)
    except InvoiceWriteConflict as exc:
        raise ProviderUnavailable(f"invoice {invoice.id} changed while releasing its attempt") from exc


def _outcome(payment: Payment, invoice: Invoice) -> CollectOutcome:
    if payment.status == "succeeded":
        return "paid" if invoice.status == "paid" else "partially_paid"
    if payment.status in ("failed", "requires_action", "processing"):
        return payment.status
    return "skipped"


def _log(payment: Payment, invoice: Invoice) -> None:
    if payment.status == "succeeded":
        logger.info(
            "payment succeeded",
            invoice_id=invoice.id,
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            attempt=payment.attempt,
            invoice_status=invoice.status,
        )
        metrics.add_metric(name="PaymentsSucceeded", unit="Count", value=1)
    elif payment.status in ("failed", "requires_action"):
        logger.info(
            "payment failed",
            invoice_id=invoice.id,
            payment_id=payment.id,
            decline_code=payment.decline_code,
            hard_decline=payment.hard_decline,
            attempt=payment.attempt,
        )
        metrics.add_metric(name="PaymentsFailed", unit="Count", value=1)


__all__ = ["Collection", "apply_payment", "collect", "collection_from_settings", "record_attempt"]
