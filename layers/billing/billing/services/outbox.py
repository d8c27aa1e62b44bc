"""Notifications committed with a change and enqueued after it (the transactional outbox).

A change that calls for a notification writes its pending marker (``NOTIFICATIONS_PENDING#…``,
``repositories.invoices.pending_notification_put``) in its own transaction; right after the commit
the writer sends the queue message and drops the marker (``send_pending_notification``). If the send
fails the marker stays and the hourly finalizer sends it again; the notifier's sent-marker absorbs
any duplicate. Light on purpose: the customer pages import it without the invoice services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from billing.errors import ProviderUnavailable
from billing.models.invoices import CREDIT_NOTE_ID_PREFIX
from billing.observability import logger, metrics
from billing.repositories.invoices import InvoiceRepository

NOTIFICATION_INVOICE_FINALIZED = "invoice_finalized"
NOTIFICATION_CREDIT_NOTE_ISSUED = "credit_note_issued"


def notification_message(kind: str, subject_id: str) -> dict[str, str]:
    """The Notifications message about an invoice (``invoice_id``) or a credit note
    (``credit_note_id``), when the pending marker holds no message of its own."""
    if subject_id.startswith(CREDIT_NOTE_ID_PREFIX):
        return {"kind": kind, "credit_note_id": subject_id}
    return {"kind": kind, "invoice_id": subject_id}


class NotificationSink(Protocol):
    def send(self, message: Mapping[str, Any]) -> str: ...


def send_pending_notification(
    queue: NotificationSink | None,
    invoices: InvoiceRepository,
    kind: str,
    subject_id: str,
    *,
    message: Mapping[str, Any] | None = None,
) -> bool:
    """Enqueue a committed notification of any kind (``message``, else ``notification_message``) and
    drop its pending marker; False (the marker stays for the finalizer) when it could not be sent."""
    if queue is None:
        logger.warning("no notifications queue configured; notification left pending", subject_id=subject_id)
        return False
    try:
        queue.send(message if message is not None else notification_message(kind, subject_id))
        invoices.clear_notification_pending(
            kind, subject_id, invoice_flag=kind == NOTIFICATION_INVOICE_FINALIZED
        )
    except ProviderUnavailable as exc:
        logger.warning(
            "notification not enqueued; the finalizer will retry",
            subject_id=subject_id,
            kind=kind,
            error=str(exc),
        )
        metrics.add_metric(name="NotificationEnqueueFailures", unit="Count", value=1)
        return False
    return True
