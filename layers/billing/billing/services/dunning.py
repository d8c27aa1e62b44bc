"""Dunning: retrying a failed automatic payment on a schedule, telling the customer at each step,
then a final action. See docs/payments.md#dunning.

The flow of one invoice (state ``INVOICE#{id} / DUNNING``, ``billing.models.dunning``):

1. The collector records a failed attempt and, **in the same transaction**, the dunning state
   (``failure_action``): ``step_due``, on the due-index at once. Right after the commit it takes
   the step (``advance``); if that fails, the hourly ``dunning`` run takes it.
2. The step: the subscription(s) go ``past_due``; with retries left, the customer is emailed
   (``payment_failed`` the first time, with the hosted link to update the payment method, then
   ``payment_retry_scheduled``) and the state waits (``scheduled``) for the retry day
   (``BILLING_DUNNING_RETRY_DAYS`` after the first failure). After the last retry, or at once on a
   hard decline: the ``payment_final_notice`` email and the final action
   (``BILLING_DUNNING_FINAL_ACTION``); ``exhausted``.
3. The hourly run finds due retries on the sharded due-index (no scan), claims each with a
   conditional write (``retrying``: two runs at once enqueue it once) and enqueues
   ``{"kind": "collect", "invoice_id", "attempt": n}``: the collector charges attempt ``n`` under
   the provider idempotency key of ``(invoice, n)``. The claim keeps a watchdog date: a retry whose
   outcome never came back is enqueued again (the same attempt: the collector skips it if decided).
4. Any step first looks at the invoice: paid (by any path), voided or written off → ``resolved``,
   and a paid invoice's subscriptions go back to ``active`` (unless another invoice of the
   subscription is still in dunning). Every path that settles an invoice also ends its dunning
   right after its commit (best effort: the hourly run still catches it): a recorded payment
   (collector, webhook, Checkout, reconciliation: ``after_payment``), and ``POST /v1/invoices/{id}/pay``,
   ``/void``, ``/mark-uncollectible`` and a credit note settling the invoice (``after_settlement``). A new payment method
   (``retry_now_for_customer``) enqueues the next attempt at once instead of waiting.

Side effects of a step (emails enqueued, ``past_due``, the final action) are idempotent and are
done before the state is saved: a crash or a lost race repeats them harmlessly (the notifier's
sent-marker is per invoice, kind and attempt).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from billing import clock
from billing.errors import BillingError, Conflict, ProviderUnavailable
from billing.models.dunning import (
    NOTIFICATION_PAYMENT_FAILED,
    NOTIFICATION_PAYMENT_FINAL_NOTICE,
    NOTIFICATION_PAYMENT_RETRY_SCHEDULED,
    DunningState,
    FinalAction,
)
from billing.models.invoices import Invoice
from billing.models.payments import Payment
from billing.observability import logger, metrics
from billing.repositories import keys
from billing.repositories.dunning import DunningConflict, DunningRepository, put_action
from billing.services import invoices as invoice_service
from billing.services import subscriptions as subscription_service
from billing.services.billing_runs import Billing, billing_from_settings

RETRY_WATCHDOG = timedelta(hours=6)
"""A claimed retry whose outcome is not recorded after this long is enqueued again."""
MAX_RACES = 10
DunningOutcome = Literal[
    "none", "not_due", "resolved", "retry_scheduled", "final_action", "retry_enqueued", "already_retrying"
]


@dataclass(frozen=True, kw_only=True)
class Dunning:
    """What dunning works with (built once per container)."""

    states: DunningRepository
    invoicing: invoice_service.Invoicing
    """The invoices, the Notifications queue (emails) and PaymentAttempts (retries)."""
    billing: Billing
    """Subscriptions (``past_due``, the ``cancel_subscription`` final action)."""
    retry_days: tuple[int, ...] = (3, 5, 7)
    final_action: FinalAction = "mark_uncollectible"


def dunning_from_settings(settings: Any) -> Dunning:
    return Dunning(
        states=DunningRepository(table_name=settings.require("billing_table")),
        invoicing=invoice_service.invoicing_from_settings(settings),
        billing=billing_from_settings(settings, queue=False, usage=True),
        retry_days=settings.dunning_retry_schedule,
        final_action=settings.dunning_final_action,
    )


@dataclass
class DunningRunSummary:
    due: int = 0
    retries_enqueued: int = 0
    steps: int = 0
    resolved: int = 0
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- from the collector


def _subscription_ids(invoice: Invoice) -> list[str]:
    return list(invoice.subscription_ids)


def failure_action(
    deps: Dunning, invoice: Invoice, payment: Payment, *, now: datetime
) -> dict[str, Any] | None:
    """The transaction action that starts (or advances) dunning for the failed ``payment`` of the open
    ``invoice``: written with the failed payment, conditional on the state read here. None when
    dunning does not apply (the invoice is not open, dunning is over, the attempt is known)."""
    if (
        invoice.status != "open"
        or invoice.amount_remaining <= 0
        or invoice.collection_method != "charge_automatically"  # a failed checkout is not dunned
    ):
        return None
    previous = deps.states.get(invoice.id)
    if previous is not None and (not previous.active or previous.last_attempt >= payment.attempt):
        return None
    state = DunningState(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        subscription_ids=_subscription_ids(invoice),
        status="step_due",
        failures=(previous.failures if previous else 0) + 1,
        first_failed_at=previous.first_failed_at if previous else now,
        last_failed_at=now,
        last_attempt=payment.attempt,
        last_decline_code=payment.decline_code,
        hard_decline=payment.hard_decline,
        next_retry_at=now,
        version=previous.version + 1 if previous else 1,
        updated_at=now,
    )
    return put_action(state, previous=previous)


def after_payment(deps: Dunning, invoice_id: str) -> None:
    """Right after a payment outcome is recorded: take the dunning step now (best effort; the
    hourly run takes it if this fails)."""
    try:
        outcome = advance(deps, invoice_id)
    except Exception:  # the payment is recorded whatever happens here; the hourly run retries the step
        logger.exception("dunning step left to the dunning run", invoice_id=invoice_id)
        metrics.add_metric(name="DunningStepErrors", unit="Count", value=1)
        return
    if outcome != "none":
        logger.info("dunning advanced", invoice_id=invoice_id, outcome=outcome)


def after_settlement(deps: Dunning, invoice_id: str) -> None:
    """Right after an invoice is settled outside the collector (paid out of band, settled by a credit
    note, voided, marked uncollectible by hand): end its dunning now (best effort, idempotent; the
    hourly run ends it at its next due time if this fails). Never takes a step or a retry."""
    try:
        outcome = end_if_settled(deps, invoice_id)
    except Exception:  # the invoice change is committed whatever happens here
        logger.exception("dunning resolution left to the dunning run", invoice_id=invoice_id)
        metrics.add_metric(name="DunningStepErrors", unit="Count", value=1)
        return
    if outcome == "resolved":
        logger.info("dunning ended by the settlement of the invoice", invoice_id=invoice_id)


def end_if_settled(deps: Dunning, invoice_id: str) -> DunningOutcome:
    """Resolve the invoice's active dunning if the invoice is no longer owed (paid, void, written
    off): ``resolved``; ``none`` when there is no active dunning, ``not_due`` when it is still owed."""
    for race in range(MAX_RACES):
        state = deps.states.get(invoice_id)
        if state is None or not state.active:
            return "none"
        invoice = deps.invoicing.invoices.get(invoice_id)
        if invoice is not None and invoice.status == "open" and invoice.amount_remaining > 0:
            return "not_due"
        try:
            return _resolve(deps, state, invoice, clock.now())
        except DunningConflict:
            _backoff(race)
    raise ProviderUnavailable(f"the dunning of invoice {invoice_id} is being changed concurrently")


# --------------------------------------------------------------------------- steps


def _backoff(race: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.004 * 2**race)))  # noqa: S311 - jitter


def advance(deps: Dunning, invoice_id: str, *, retry_now: bool = False) -> DunningOutcome:
    """Take whatever is due for the invoice's dunning: resolve it, its step, or its retry
    (``retry_now``: the retry even before its day, for a new payment method)."""
    for race in range(MAX_RACES):
        state = deps.states.get(invoice_id)
        if state is None or not state.active:
            return "none"
        now = clock.now()
        invoice = deps.invoicing.invoices.get(invoice_id)
        try:
            if invoice is None or invoice.status != "open" or invoice.amount_remaining <= 0:
                return _resolve(deps, state, invoice, now)
            if state.status == "step_due":
                return _take_step(deps, state, invoice, now)
            if retry_now and state.status == "retrying":
                return "already_retrying"
            if retry_now or (state.next_retry_at is not None and state.next_retry_at <= now):
                return _retry(deps, state, invoice, now)
            return "not_due"
        except DunningConflict:
            _backoff(race)
    raise ProviderUnavailable(f"the dunning of invoice {invoice_id} is being changed concurrently")


def _still_dunned(deps: Dunning, state: DunningState) -> set[str]:
    """The subscriptions of ``state`` that another invoice of the customer is still in dunning for."""
    wanted = set(state.subscription_ids)
    if not wanted:
        return set()
    held: set[str] = set()
    for invoice_id in deps.states.active_for_customer(state.customer_id):
        if invoice_id == state.invoice_id:
            continue
        other = deps.states.get(invoice_id)  # the index is eventually consistent: read the state
        if other is not None and other.active:
            held |= wanted & set(other.subscription_ids)
    return held


def _recover(deps: Dunning, state: DunningState, subscription_ids: set[str]) -> None:
    for subscription_id in state.subscription_ids:
        if subscription_id in subscription_ids:
            subscription_service.set_past_due(
                deps.billing, subscription_id, past_due=False, invoice_id=state.invoice_id
            )


def _resolve(deps: Dunning, state: DunningState, invoice: Invoice | None, now: datetime) -> DunningOutcome:
    # Paid, or voided (nothing is owed on it any more: Stripe's rule too), the subscriptions go back
    # to active; written off as uncollectible, the debt stays and so does past_due.
    settled = invoice is not None and invoice.status in ("paid", "void")
    held: set[str] = set()
    if settled:
        # Back to active, unless another invoice of the subscription is still in dunning.
        held = _still_dunned(deps, state)
        _recover(deps, state, set(state.subscription_ids) - held)
    _save(deps, state, now, status="resolved", next_retry_at=None, next_attempt=None)
    if held:  # that other invoice may have been resolved meanwhile, seeing this one still active
        _recover(deps, state, held - _still_dunned(deps, state))
    logger.info(
        "dunning stopped",
        invoice_id=state.invoice_id,
        invoice_status=invoice.status if invoice else None,
        failures=state.failures,
    )
    metrics.add_metric(name="DunningRecovered" if invoice and invoice.status == "paid" else "DunningStopped",
                       unit="Count", value=1)  # fmt: skip
    return "resolved"


def _take_step(deps: Dunning, state: DunningState, invoice: Invoice, now: datetime) -> DunningOutcome:
    for subscription_id in state.subscription_ids:
        subscription_service.set_past_due(
            deps.billing, subscription_id, past_due=True, invoice_id=state.invoice_id
        )
    if state.hard_decline or state.failures > len(deps.retry_days):
        _notify(deps, NOTIFICATION_PAYMENT_FINAL_NOTICE, state)
        _final_action(deps, state, invoice)
        _save(
            deps, state, now, status="exhausted", next_retry_at=None, next_attempt=None,
            final_action=deps.final_action,
        )  # fmt: skip
        logger.info(
            "dunning exhausted",
            invoice_id=state.invoice_id,
            failures=state.failures,
            hard_decline=state.hard_decline,
            final_action=deps.final_action,
        )
        metrics.add_metric(name="DunningExhausted", unit="Count", value=1)
        return "final_action"
    retry_at = max(now, state.first_failed_at + timedelta(days=deps.retry_days[state.failures - 1]))
    kind = NOTIFICATION_PAYMENT_FAILED if state.failures == 1 else NOTIFICATION_PAYMENT_RETRY_SCHEDULED
    _notify(deps, kind, state, retry_at=retry_at)
    _save(deps, state, now, status="scheduled", next_retry_at=retry_at)
    logger.info("dunning retry scheduled", invoice_id=state.invoice_id, failures=state.failures, at=retry_at)
    metrics.add_metric(name="DunningRetriesScheduled", unit="Count", value=1)
    return "retry_scheduled"


def _retry(deps: Dunning, state: DunningState, invoice: Invoice, now: datetime) -> DunningOutcome:
    """Claim the retry (conditional write: enqueued once), then enqueue it."""
    if state.status == "retrying" and state.next_attempt is not None:
        attempt = state.next_attempt  # the watchdog: the same attempt again
    else:
        attempt = invoice.payment_attempts if invoice.payment_in_flight else invoice.payment_attempts + 1
    _save(deps, state, now, status="retrying", next_attempt=attempt, next_retry_at=now + RETRY_WATCHDOG)
    queue = deps.invoicing.payments_queue
    if queue is None:
        logger.warning(
            "no payment attempts queue configured; retry left to the watchdog", invoice_id=invoice.id
        )
        return "retry_enqueued"
    try:
        queue.send({"kind": "collect", "invoice_id": invoice.id, "attempt": attempt})
    except ProviderUnavailable as exc:
        logger.warning("dunning retry not enqueued; the watchdog enqueues it", invoice_id=invoice.id,
                       error=str(exc))  # fmt: skip
        return "retry_enqueued"
    logger.info("dunning retry enqueued", invoice_id=invoice.id, attempt=attempt)
    metrics.add_metric(name="DunningRetriesEnqueued", unit="Count", value=1)
    return "retry_enqueued"


def _save(deps: Dunning, state: DunningState, now: datetime, **update: Any) -> DunningState:
    new = state.model_copy(update={**update, "version": state.version + 1, "updated_at": now})
    deps.states.save(new, previous=state)
    return new


def _notify(deps: Dunning, kind: str, state: DunningState, *, retry_at: datetime | None = None) -> None:
    """Enqueue the step's email (the notifier deduplicates per invoice, kind and attempt)."""
    if deps.invoicing.queue is None:
        logger.warning(
            "no notifications queue configured; dunning email not sent", invoice_id=state.invoice_id
        )
        return
    message: dict[str, Any] = {"kind": kind, "invoice_id": state.invoice_id, "attempt": state.last_attempt}
    if retry_at is not None:
        message["retry_at"] = retry_at.isoformat()
    deps.invoicing.queue.send(message)


def _final_action(deps: Dunning, state: DunningState, invoice: Invoice) -> None:
    if deps.final_action == "mark_uncollectible":
        try:
            invoice_service.mark_uncollectible(deps.invoicing, invoice.id, actor="dunning")
        except Conflict as exc:  # already written off, paid or voided meanwhile
            logger.info("dunning final action not needed", invoice_id=invoice.id, reason=exc.code)
    elif deps.final_action == "cancel_subscription":
        for subscription_id in state.subscription_ids:
            try:
                subscription_service.cancel_subscription(deps.billing, subscription_id, actor="dunning")
            except Conflict as exc:  # already canceled
                logger.info(
                    "dunning final action not needed", subscription_id=subscription_id, reason=exc.code
                )


# --------------------------------------------------------------------------- entry points


def retry_now_for_customer(deps: Dunning, customer_id: str) -> list[str]:
    """A new payment method: retry each of the customer's invoices waiting in dunning at once (the
    retry takes the place of the next scheduled one). Returns the invoices retried."""
    retried = []
    for invoice_id in deps.states.active_for_customer(customer_id):
        try:
            outcome = advance(deps, invoice_id, retry_now=True)
        except BillingError as exc:  # the method is attached; the scheduled retry still comes
            logger.warning("dunning retry not started", invoice_id=invoice_id, error=str(exc))
            continue
        if outcome == "retry_enqueued":
            retried.append(invoice_id)
    if retried:
        logger.info("new payment method: dunning retries enqueued", customer_id=customer_id, invoices=retried)
    return retried


def run_dunning(deps: Dunning, *, now: datetime | None = None) -> DunningRunSummary:
    """The hourly ``dunning`` run: every shard of the due-index, each due invoice advanced."""
    at = now or clock.now()
    summary = DunningRunSummary()
    for shard in range(keys.DUNNING_SHARDS):
        for invoice_id in deps.states.due(shard, at):
            summary.due += 1
            try:
                outcome = advance(deps, invoice_id)
            except BillingError as exc:
                summary.failed += 1
                logger.warning("dunning step failed; retried next run", invoice_id=invoice_id, error=str(exc))
                continue
            summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + 1
            if outcome == "retry_enqueued":
                summary.retries_enqueued += 1
            elif outcome in ("retry_scheduled", "final_action"):
                summary.steps += 1
            elif outcome == "resolved":
                summary.resolved += 1
    return summary


__all__ = [
    "Dunning",
    "DunningRunSummary",
    "advance",
    "after_payment",
    "after_settlement",
    "dunning_from_settings",
    "end_if_settled",
    "failure_action",
    "retry_now_for_customer",
    "run_dunning",
]
