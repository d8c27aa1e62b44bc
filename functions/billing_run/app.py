"""The `billing_run` function (hourly EventBridge schedule): find the subscriptions whose period has
ended and enqueue one invoice job per customer and billing date. It only fans out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from billing_run_event import fired_at

from billing import clock
from billing.observability import logger, metrics, tracer
from billing.services.billing_runs import billing_from_settings, scheduled_run_id, start_run
from billing.settings import get_settings

billing = billing_from_settings(get_settings(), usage=False)


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = start_run(billing, trigger="schedule", run_id=scheduled_run_id(fired_at(event)), up_to=clock.now())
    logger.info("billing run enqueued", run_id=run.id, jobs=run.jobs_enqueued, due=run.subscriptions_due)
    metrics.add_metric(name="InvoiceJobsEnqueued", unit="Count", value=run.jobs_enqueued)
    return {"run_id": run.id, "subscriptions_due": run.subscriptions_due, "jobs_enqueued": run.jobs_enqueued}
