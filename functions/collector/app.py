"""The `collector` function (SQS PaymentAttempts, at most 5 concurrent: Stripe's rate limits): one
job = one charge attempt of one invoice, idempotent per (invoice, attempt). A provider outage
raises, so SQS redelivers the same attempt (same idempotency key: never a second charge)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from collector_job import handle_record

from billing.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
