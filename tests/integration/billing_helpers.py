"""Shared steps of the subscription and billing-run tests: catalog through the API, the clock, the
billing_run and invoice_worker handlers fed with the SQS messages the run enqueued (moto)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from local.functions import LambdaContext, function_specs, load_handler

Call = Any


def uid() -> str:
    return secrets.token_hex(4)


@contextmanager
def frozen(at: datetime) -> Iterator[Any]:
    """billing.clock frozen at ``at`` (moved with ``.current = ...``), restored afterwards."""
    from billing.clock import FrozenClock, set_clock

    clock = FrozenClock(at)
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def post(call: Call, key: str, path: str, body: dict[str, Any], status: int = 201) -> Any:
    got_status, _, got = call("POST", path, key=key, json_body=body)
    assert got_status == status, got
    return got


def make_metric(call: Call, key: str, aggregation: str = "count", **fields: Any) -> dict[str, Any]:
    return post(
        call,
        key,
        "/v1/metrics",
        {"code": f"m_{uid()}", "name": "API calls", "aggregation": aggregation, **fields},
    )  # type: ignore[no-any-return]


def make_plan(call: Call, key: str, **fields: Any) -> dict[str, Any]:
    body = {
        "code": f"p_{uid()}",
        "name": "Plan",
        "interval": "month",
        "currency": "usd",
        "amount": 0,
        **fields,
    }
    return post(call, key, "/v1/plans", body)  # type: ignore[no-any-return]


def make_customer(call: Call, key: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Customer {uid()}", "currency": "usd", "emails": ["billing@example.com"], **fields}
    body.setdefault("address", {"country": "US", "state": "OR"})
    return post(call, key, "/v1/customers", body)  # type: ignore[no-any-return]


def subscribe(call: Call, key: str, customer: str, *plans: str, **fields: Any) -> dict[str, Any]:
    body = {"customer": customer, "items": [{"plan": p} for p in plans], **fields}
    return post(call, key, "/v1/subscriptions", body)  # type: ignore[no-any-return]


def send_usage(
    call: Call, key: str, customer: str, metric: str, *, at: datetime, count: int, **props: Any
) -> None:
    events = [
        {
            "id": f"e-{uid()}-{n}",
            "customer": customer,
            "metric": metric,
            "timestamp": at.isoformat(),
            "properties": props,
        }
        for n in range(count)
    ]
    status, _, body = call("POST", "/v1/events/batch", key=key, json_body={"events": events})
    assert status == 202, body


# --------------------------------------------------------------------------- functions and SQS


def handler(logical_id: str) -> Any:
    spec = function_specs()[logical_id]
    fn = load_handler(spec)
    return lambda event: fn(event, LambdaContext(spec))


def sqs() -> Any:
    from billing.gateways.aws import client

    return client("sqs")


def jobs_queue() -> str:
    import os

    return os.environ["INVOICE_JOBS_QUEUE_URL"]


def ensure_queues(moto_endpoint: str) -> None:
    """The template's queues exist (another test may have reset moto) and InvoiceJobs is empty."""
    from local.moto_server import create_resources
    from local.template import load_template

    create_resources(load_template(), moto_endpoint)
    for m in receive_all():  # PurgeQueue is limited to once a minute: drain instead
        sqs().delete_message(QueueUrl=jobs_queue(), ReceiptHandle=m["ReceiptHandle"])


def scheduled_event(at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"ev-{uid()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/billing-hourly"],
        "detail": {},
    }


def run_billing(at: datetime) -> dict[str, Any]:
    return handler("BillingRunFunction")(scheduled_event(at))  # type: ignore[no-any-return]


def receive_all() -> list[dict[str, Any]]:
    """Every message on InvoiceJobs (received, so invisible until deleted or timed out)."""
    out: list[dict[str, Any]] = []
    while True:
        got = (
            sqs()
            .receive_message(
                QueueUrl=jobs_queue(), MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            )
            .get("Messages", [])
        )
        if not got:
            return out
        out += got


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    from local.sqs import sqs_record

    arn = sqs().get_queue_attributes(QueueUrl=jobs_queue(), AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return {"Records": [sqs_record(m, arn) for m in messages]}


def work(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The invoice worker on these messages (deleted when they succeed, as Lambda does)."""
    result = handler("InvoiceWorkerFunction")(sqs_event(messages))
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] not in failed:
            sqs().delete_message(QueueUrl=jobs_queue(), ReceiptHandle=m["ReceiptHandle"])
    return result  # type: ignore[no-any-return]


def jobs_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages]


def invoices_of(app_env: dict[str, str], customer_id: str) -> list[Any]:
    from billing.repositories.invoices import InvoiceRepository

    repo = InvoiceRepository(table_name=app_env["BILLING_TABLE"])
    page = repo.list_for_customer(customer_id, limit=100, cursor=None)
    return sorted(page.invoices, key=lambda i: (i.billing_date, i.created_at))
