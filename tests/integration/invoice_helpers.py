"""Helpers shared by the invoice, credit-note and document tests (everything through the API)."""

from __future__ import annotations

import json
import uuid
from typing import Any


def uid() -> str:
    return uuid.uuid4().hex[:10]


def prefix() -> str:
    """A fresh invoice prefix (3-8 upper-case letters/digits), so each test has its own sequence."""
    return "T" + uuid.uuid4().hex[:7].upper()


def make_customer(call: Any, key: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Acme Corp",
        "currency": "usd",
        "emails": ["billing@acme.example"],
        "address": {
            "country": "US",
            "state": "NY",
            "city": "New York",
            "postal_code": "10001",
            "line1": "1 Main St",
        },
        "invoice_prefix": prefix(),
        **fields,
    }
    status, _, created = call("POST", "/v1/customers", key=key, json_body=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


TAX_COUNTRY = "AQ"
"""Tax rates are account-wide and other tests bill customers in real countries: ours are Antarctic."""


def make_tax_rate(call: Any, key: str, **fields: Any) -> dict[str, Any]:
    body = {
        "id": f"test_{uid()}",
        "display_name": "VAT",
        "percentage": "20",
        "country": TAX_COUNTRY,
        **fields,
    }
    status, _, created = call("POST", "/v1/tax-rates", key=key, json_body=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


def one_off(
    call: Any,
    key: str,
    customer: dict[str, Any],
    *,
    lines: list[dict[str, Any]] | None = None,
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "customer": customer["id"],
        "collection_method": "send_invoice",
        "lines": lines or [{"description": "Consulting", "quantity": 1, "unit_amount": 10_000}],
        **fields,
    }
    status, _, created = call("POST", "/v1/invoices", key=key, json_body=body)
    assert status == expect, created
    return created  # type: ignore[no-any-return]


def finalize(call: Any, key: str, invoice_id: str, *, expect: int = 200) -> dict[str, Any]:
    status, _, body = call("POST", f"/v1/invoices/{invoice_id}/finalize", key=key)
    assert status == expect, body
    return body  # type: ignore[no-any-return]


def get_invoice(call: Any, key: str, invoice_id: str) -> dict[str, Any]:
    status, _, body = call("GET", f"/v1/invoices/{invoice_id}", key=key)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def get_customer(call: Any, key: str, customer_id: str) -> dict[str, Any]:
    status, _, body = call("GET", f"/v1/customers/{customer_id}", key=key)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def sqs_event(bodies: list[dict[str, Any]], *, message_ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS event as Lambda delivers it to the notifier."""
    ids = message_ids or [str(uuid.uuid4()) for _ in bodies]
    return {
        "Records": [
            {
                "messageId": mid,
                "receiptHandle": f"handle-{mid}",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795435200000",
                    "SenderId": "000000000000",
                    "ApproximateFirstReceiveTimestamp": "1795435200000",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:NotificationsQueue",
                "awsRegion": "us-east-1",
            }
            for mid, body in zip(ids, bodies, strict=True)
        ]
    }
