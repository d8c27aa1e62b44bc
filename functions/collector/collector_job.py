"""One PaymentAttempts record: ``{"kind": "collect", "invoice_id", "attempt"}``."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field

from billing.observability import logger, metrics
from billing.payments import get_payment_provider
from billing.services.collection import collect, collection_from_settings
from billing.settings import get_settings


class CollectJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str = "collect"
    invoice_id: str = Field(pattern=r"^in_[A-Za-z0-9]{1,64}$")
    attempt: int = Field(ge=1, le=100)


def handle_record(record: SQSRecord) -> None:
    """Raises on failure (SQS retries the same attempt; a poison job ends in the DLQ, logged)."""
    try:
        job = CollectJob.model_validate_json(record.body)
    except ValueError:
        logger.error("payment job unreadable", message_id=record.message_id, body=record.body[:500])
        raise
    deps = collection_from_settings(get_settings(), get_payment_provider())
    try:
        outcome = collect(deps, job.invoice_id, attempt=job.attempt)
    except Exception:
        logger.exception(
            "payment attempt failed; it will be retried with the same idempotency key",
            invoice_id=job.invoice_id,
            attempt=job.attempt,
            receive_count=record.attributes.approximate_receive_count,
        )
        metrics.add_metric(name="PaymentAttemptErrors", unit="Count", value=1)
        raise
    logger.info("payment attempt done", invoice_id=job.invoice_id, attempt=job.attempt, outcome=outcome)
