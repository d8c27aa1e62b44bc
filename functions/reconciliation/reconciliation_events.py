"""One PaymentEvents record: ``{"event": <the Stripe event as received and verified>}``."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from billing.errors import ValidationFailed
from billing.observability import logger, metrics
from billing.payments import get_payment_provider
from billing.payments.webhooks import event_from_json
from billing.services.collection import collection_from_settings
from billing.services.payment_events import apply_event
from billing.settings import get_settings


def handle_record(record: SQSRecord) -> None:
    """Raises on failure: SQS redelivers the event (every handler is idempotent), then dead-letters it."""
    try:
        event = event_from_json(json.loads(record.body)["event"])
    except (ValidationFailed, ValueError, KeyError, TypeError):
        logger.error("payment event unreadable", message_id=record.message_id, body=record.body[:500])
        raise
    deps = collection_from_settings(get_settings(), get_payment_provider())
    try:
        apply_event(deps, event)
    except Exception:
        logger.exception(
            "payment event failed; it will be retried",
            event_id=event.id,
            event_type=event.type,
            receive_count=record.attributes.approximate_receive_count,
        )
        metrics.add_metric(name="PaymentEventErrors", unit="Count", value=1)
        raise
