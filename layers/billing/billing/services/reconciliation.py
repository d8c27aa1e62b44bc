"""Reconciliation: the provider's payments and refunds of a window against our books.

Every mismatch is reported (``billing.models.reconciliations.MismatchCode``). What is unambiguous is
fixed through the same idempotent paths as the webhooks, so a run repeated (or racing a late webhook)
never applies anything twice:

* ``paid_at_provider_open_here``: a succeeded provider payment whose invoice (``metadata.invoice_id``)
  is open here: a missed webhook; applied with ``collection.apply_payment``;
* ``refund_not_recorded`` of a payment we recorded: recorded with ``payment_events.record_refund``.

The rest (``amount_differs``, ``payment_without_invoice``, ``recorded_but_not_at_provider``, and the
above when the invoice is not open or the payment unknown) is listed for a person to look at.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from billing import clock
from billing.errors import ValidationFailed
from billing.models.payments import Payment
from billing.models.reconciliations import (
    MAX_STORED_MISMATCHES,
    RECONCILIATION_ID_PREFIX,
    Mismatch,
    ReconciliationReport,
)
from billing.observability import logger, metrics
from billing.payments.models import PaymentRecord
from billing.repositories.reconciliations import ReconciliationRepository
from billing.services.collection import Collection, apply_payment
from billing.services.payment_events import payment_from_provider, record_refund, with_payment_method

MAX_WINDOW = timedelta(days=31)
LOOKBACK = timedelta(days=1)
"""Provider payments created this long before the window are still matched against our records of the
window (we record a payment when it settles, which can be after the PaymentIntent was created)."""
SCHEDULED_WINDOW = timedelta(days=2)
"""The nightly run covers the two UTC days before it fired: Stripe retries a webhook for 3 days, and a
payment missed on one night is seen again (and, if fixed meanwhile, no longer reported) on the next."""
_COLLECTED = ("succeeded", "partially_refunded", "refunded", "disputed")


@dataclass(frozen=True, kw_only=True)
class Reconciliation:
    collection: Collection
    reports: ReconciliationRepository


def reconciliation_from_settings(settings: object, collection: Collection) -> Reconciliation:
    table = settings.require("billing_table")  # type: ignore[attr-defined]
    return Reconciliation(collection=collection, reports=ReconciliationRepository(table_name=table))


def scheduled_window(fired_at: datetime) -> tuple[datetime, datetime]:
    end = fired_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - SCHEDULED_WINDOW, end


def scheduled_report_id(start: datetime, end: datetime) -> str:
    """One report per scheduled window: a retried firing replaces its own report."""
    digest = hashlib.sha256(f"schedule#{start.isoformat()}#{end.isoformat()}".encode()).hexdigest()[:16]
    return f"{RECONCILIATION_ID_PREFIX}{digest}"


def check_window(start: datetime, end: datetime, *, now: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("from and to must carry a time zone", code="invalid_window", param="from")
    if end <= start:
        raise ValidationFailed("to must be after from", code="invalid_window", param="to")
    if end - start > MAX_WINDOW:
        raise ValidationFailed("the window is at most 31 days", code="window_too_long", param="to")
    if start > now:
        raise ValidationFailed("the window starts in the future", code="invalid_window", param="from")


def run_reconciliation(
    deps: Reconciliation,
    *,
    start: datetime,
    end: datetime,
    trigger: Literal["schedule", "api"],
    report_id: str | None = None,
    created_by: str | None = None,
) -> ReconciliationReport:
    """Compare the window ``[start, end)`` with the books, fix what is unambiguous, store the report."""
    check_window(start, end, now=clock.now())
    books = deps.collection
    provider = books.provider
    found: list[Mismatch] = []

    listed = list(provider.list_payments(created_gte=start - LOOKBACK, created_lt=end))
    at_provider = {p.provider_payment_id: p for p in listed}
    in_window = [p for p in listed if start <= p.created < end]
    for record in in_window:
        if record.status == "succeeded":
            mismatch = _check_provider_payment(books, record)
            if mismatch is not None:
                found.append(mismatch)

    recorded = [
        p
        for p in books.payments.list_created_between(start, end)
        if p.provider != "manual" and p.status in _COLLECTED
    ]
    for payment in recorded:
        mismatch = _check_recorded_payment(payment, at_provider)
        if mismatch is not None:
            found.append(mismatch)

    refunds = [
        r
        for r in provider.list_refunds(created_gte=start, created_lt=end)
        if r.status in ("succeeded", "pending")
    ]
    for refund in refunds:
        if books.payments.refund_recorded(refund.provider_refund_id):
            continue
        paid = (
            books.payments.get_by_provider_id(refund.provider_payment_id)
            if refund.provider_payment_id
            else None
        )
        fixed = False
        if paid is not None and refund.provider_payment_id:
            record_refund(
                books,
                provider_refund_id=refund.provider_refund_id,
                provider_payment_id=refund.provider_payment_id,
                amount=refund.amount,
                currency=refund.currency,
                credit_note_id=refund.credit_note_id,
                at=refund.created,
            )
            fixed = True
        found.append(
            Mismatch(
                code="refund_not_recorded",
                fixed=fixed,
                provider_refund_id=refund.provider_refund_id,
                provider_payment_id=refund.provider_payment_id,
                invoice_id=paid.invoice_id if paid else None,
                payment_id=paid.id if paid else None,
                provider_amount=refund.amount,
                currency=refund.currency,
                note=None if fixed else "the refunded payment is not in our books",
            )
        )

    fixed_count = sum(1 for m in found if m.fixed)
    report = ReconciliationReport(
        id=report_id or f"{RECONCILIATION_ID_PREFIX}{uuid.uuid4().hex[:16]}",
        trigger=trigger,
        window_from=start,
        window_to=end,
        provider_payments=len(in_window),
        provider_refunds=len(refunds),
        recorded_payments=len(recorded),
        mismatches_found=len(found),
        mismatches_fixed=fixed_count,
        counts=dict(Counter(m.code for m in found)),
        mismatches=found[:MAX_STORED_MISMATCHES],
        truncated=len(found) > MAX_STORED_MISMATCHES,
        created_at=clock.now(),
        created_by=created_by,
    )
    deps.reports.save(report)
    logger.info(
        "reconciliation done",
        reconciliation_id=report.id,
        found=report.mismatches_found,
        fixed=report.mismatches_fixed,
        counts=report.counts,
    )
    metrics.add_metric(name="ReconciliationMismatches", unit="Count", value=report.mismatches_found)
    metrics.add_metric(name="ReconciliationFixes", unit="Count", value=report.mismatches_fixed)
    return report


def _check_provider_payment(books: Collection, record: PaymentRecord) -> Mismatch | None:
    pi = record.provider_payment_id
    common = {
        "provider_payment_id": pi,
        "provider_amount": record.amount_received,
        "currency": record.currency,
    }
    recorded = books.payments.get_by_provider_id(pi)
    if recorded is not None and recorded.status in _COLLECTED:
        if recorded.amount != record.amount_received:
            return Mismatch(
                code="amount_differs",
                invoice_id=recorded.invoice_id,
                payment_id=recorded.id,
                recorded_amount=recorded.amount,
                **common,
            )
        return None
    invoice_id = record.invoice_id or (recorded.invoice_id if recorded else None)
    invoice = books.invoices.get(invoice_id) if invoice_id else None
    if invoice is None:
        return Mismatch(
            code="payment_without_invoice",
            invoice_id=invoice_id,
            note="no invoice here" if invoice_id else "no metadata.invoice_id",
            **common,
        )
    if recorded is not None:
        return Mismatch(
            code="paid_at_provider_open_here",
            invoice_id=invoice.id,
            payment_id=recorded.id,
            recorded_amount=recorded.amount,
            note=f"succeeded at the provider, recorded here as {recorded.status}",
            **common,
        )
    if invoice.status != "open":
        return Mismatch(
            code="payment_without_invoice",
            invoice_id=invoice.id,
            note=f"succeeded at the provider, not recorded on the invoice ({invoice.status} here)",
            **common,
        )
    payment = payment_from_provider(
        books,
        provider_payment_id=pi,
        invoice_id=invoice.id,
        attempt=record.attempt,
        amount=record.amount_received,
        currency=record.currency,
        status="succeeded",
        at=record.created,
    )
    if payment is None:  # the invoice vanished between two reads
        return Mismatch(code="payment_without_invoice", invoice_id=invoice.id, **common)
    apply_payment(books, with_payment_method(books, payment, None))
    logger.info(
        "missed payment applied", invoice_id=invoice.id, provider_payment_id=pi, payment_id=payment.id
    )
    return Mismatch(
        code="paid_at_provider_open_here",
        fixed=True,
        invoice_id=invoice.id,
        payment_id=payment.id,
        **common,
    )


def _check_recorded_payment(payment: Payment, at_provider: dict[str, PaymentRecord]) -> Mismatch | None:
    if not payment.provider_payment_id:
        return None
    record = at_provider.get(payment.provider_payment_id)
    if record is not None and record.status == "succeeded":
        return None
    return Mismatch(
        code="recorded_but_not_at_provider",
        invoice_id=payment.invoice_id,
        payment_id=payment.id,
        provider_payment_id=payment.provider_payment_id,
        recorded_amount=payment.amount,
        currency=payment.currency,
        note=f"provider status {record.status}" if record else "not listed by the provider for the window",
    )


__all__ = [
    "Reconciliation",
    "check_window",
    "reconciliation_from_settings",
    "run_reconciliation",
    "scheduled_report_id",
    "scheduled_window",
]
