"""The `dunning` function (hourly EventBridge schedule): find the invoices whose dunning step or retry
is due (the sharded due-index, no scan), take the step and enqueue each due retry once to
PaymentAttempts. See billing.services.dunning."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from billing import clock
from billing.observability import logger, metrics, tracer
from billing.services.dunning import Dunning, dunning_from_settings, run_dunning
from billing.settings import get_settings


@cache
def dunning() -> Dunning:
    """Built once per container, on the first run (never at import)."""
    return dunning_from_settings(get_settings())


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run_dunning(dunning(), now=clock.now())
    logger.info("dunning run done", due=summary.due, retries_enqueued=summary.retries_enqueued,
                steps=summary.steps, resolved=summary.resolved, failed=summary.failed)  # fmt: skip
    return {
        "due": summary.due,
        "retries_enqueued": summary.retries_enqueued,
        "steps": summary.steps,
        "resolved": summary.resolved,
        "failed": summary.failed,
    }
