"""The `notifier` function: SQS Notifications -> the documents (HTML and PDF in S3) of each finalized
invoice and credit note and the emails (SES): the invoice, the credit note, dunning steps, receipts,
and customers' questions to the seller's support address.

Each message is one (invoice or credit note, kind); the batch reports partial failures, so only failed messages
come back (after the visibility timeout) and go to NotificationsDLQ after 5 receives. Delivery is
at-least-once and deduplicated by a sent-marker: see billing.services.notifications.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing.gateways.aws import DocumentStore, EmailSender
from billing.observability import logger, metrics, tracer
from billing.repositories.account import AccountRepository
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.invoice_queries import InvoiceQueryRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.notifications import NotificationRepository
from billing.repositories.payments import PaymentRepository
from billing.services.account import AccountDefaults, account_reader
from billing.services.notifications import Delivery, NotificationMessage, deliver
from billing.settings import ConfigurationError, get_settings

# A batch whose every record failed is answered with every record listed (not an exception): SQS
# retries exactly those either way, and failures surface through NotificationsDLQ and its alarm.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def delivery() -> Delivery:
    """Built once per container, on the first message (never at import)."""
    settings = get_settings()
    table = settings.require("billing_table")
    public_url = settings.public_url or settings.api_url
    if not public_url:
        raise ConfigurationError(
            "setting BILLING_PUBLIC_URL (or BILLING_API_URL) is required by this function"
        )
    return Delivery(
        invoices=InvoiceRepository(table_name=table),
        credit_notes=CreditNoteRepository(table_name=table),
        markers=NotificationRepository(table_name=table),
        store=DocumentStore(bucket=settings.require("documents_bucket")),
        email=EmailSender(sender=settings.require("email_from")),
        seller=account_reader(AccountRepository(table_name=table), AccountDefaults.from_settings(settings)),
        public_url=public_url,
        templates_dir=settings.templates_dir,
        payments=PaymentRepository(table_name=table),
        queries=InvoiceQueryRepository(table_name=table),
        api_url=settings.api_url,
    )


def record_handler(record: SQSRecord) -> str:
    message = NotificationMessage.model_validate_json(record.body)
    outcome = deliver(delivery(), message)
    logger.info("notification handled", subject_id=message.subject_id, kind=message.kind, outcome=outcome)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
