"""One SQS record: parse the job, bill it, log and count the outcome."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from billing.models.billing_runs import InvoiceJob
from billing.observability import logger, metrics
from billing.services.billing_runs import billing_from_settings, process_job
from billing.settings import get_settings

billing = billing_from_settings(get_settings(), queue=False)


def handle_record(record: SQSRecord) -> None:
    """Raises on failure (the record is reported failed; a poison job ends in the DLQ, logged)."""
    try:
        job = InvoiceJob.model_validate_json(record.body)
    except ValueError:
        logger.error("invoice job unreadable", message_id=record.message_id, body=record.body[:500])
        raise
    try:
        result = process_job(billing, job)
    except Exception:
        logger.exception(
            "invoice job failed",
            customer_id=job.customer_id,
            billing_date=job.billing_date.isoformat(),
            run_id=job.run_id,
            receive_count=record.attributes.approximate_receive_count,
        )
        raise
    logger.info(
        "invoice job done",
        customer_id=job.customer_id,
        billing_date=job.billing_date.isoformat(),
        run_id=job.run_id,
        outcome=result.outcome,
        invoices=[i.id for i in result.invoices],
        conflicts=result.conflicts,
    )
    if result.invoices:
        metrics.add_metric(name="InvoicesDrafted", unit="Count", value=len(result.invoices))
