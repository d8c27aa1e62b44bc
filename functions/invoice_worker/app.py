"""The `invoice_worker` function (SQS InvoiceJobs): one job = one customer and billing date drafted
exactly once. Partial batch failures: a failed job is retried by SQS, then moved to the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from invoice_worker_job import handle_record

from billing.observability import logger, metrics, tracer

# Every record's failure is reported as such, even when all fail (SQS retries each, then the DLQ).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
