"""The `invoice_finalizer` function (hourly): finalize the drafts whose grace period is over, and
re-enqueue notifications whose enqueue after a finalization was never confirmed."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from billing.observability import logger, metrics, tracer
from billing.services import invoices as service
from billing.settings import get_settings


@cache
def invoicing() -> service.Invoicing:
    return service.invoicing_from_settings(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = service.run_finalizer(
        invoicing(), time_left=lambda: context.get_remaining_time_in_millis() / 1000
    )
    logger.info("invoice finalizer run", **asdict(summary))
    return asdict(summary)
