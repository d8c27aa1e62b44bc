"""The `reconciliation` function. Two triggers, told apart by the event's shape:

* SQS PaymentEvents (``Records``): each record is one verified provider event, applied to its invoice
  (``billing.services.payment_events``); partial batch failures are reported, so one bad event is
  retried alone and ends in the dead-letter queue after 5 receives.
* the nightly EventBridge schedule (``detail-type: Scheduled Event``): compares the provider's payments
  and refunds with the books, fixes what is unambiguous and stores a report
  (``billing.services.reconciliation``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from reconciliation_events import handle_record
from reconciliation_run import is_scheduled, run_scheduled

from billing.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_scheduled(event):
        return run_scheduled(event)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
