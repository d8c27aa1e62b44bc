"""Payment setup and collection: the real stripe SDK against the stand-in, DynamoDB Local, moto SQS."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.invoice_helpers import get_customer, get_invoice, make_customer, one_off, sqs_event
from tests.integration.payflow_helpers import standin_env

pytestmark = pytest.mark.integration
SECRET = "whsec_tests"


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    with standin_env(SECRET) as server:
        yield server


def collect(message: dict[str, Any]) -> dict[str, Any]:
    from local.functions import function_specs, invoke

    return invoke(function_specs()["CollectorFunction"], sqs_event([message]))  # type: ignore[no-any-return]


def payment_jobs(invoice_id: str, app_env: dict[str, str]) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs")
    found = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=app_env["PAYMENT_ATTEMPTS_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=600
        ).get("Messages", [])
        if not batch:
            break
        found += [json.loads(m["Body"]) for m in batch]
    return [m for m in found if m.get("invoice_id") == invoice_id]


def charges(standin: Any, invoice_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{standin.url}/_standin/charges", params={"invoice_id": invoice_id}, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return body["data"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


def customer_with_card(call: Any, key: str, card: str = "pm_card_visa") -> dict[str, Any]:
    customer = make_customer(call, key)
    status, _, method = call(
        "POST", f"/v1/customers/{customer['id']}/payment-methods", key=key, json_body={"payment_method": card}
    )
    assert status == 201, method
    assert method["id"].startswith("pm_") and method["is_default"] is True
    return customer


def automatic_invoice(call: Any, key: str, customer: dict[str, Any], amount: int = 12_345) -> dict[str, Any]:
    invoice = one_off(
        call,
        key,
        customer,
        collection_method="charge_automatically",
        lines=[{"description": "Licence", "quantity": 1, "unit_amount": amount}],
        auto_finalize=True,
    )
    assert invoice["status"] == "open", invoice
    return invoice


def test_setup_intent_and_attach_store_the_provider_customer_and_default_method(call, admin_key, standin):
    customer = make_customer(call, admin_key)
    status, _, intent = call("POST", f"/v1/customers/{customer['id']}/setup-intents", key=admin_key)
    assert status == 201, intent
    assert intent["client_secret"].startswith("seti_")
    status, _, method = call(
        "POST",
        f"/v1/customers/{customer['id']}/payment-methods",
        key=admin_key,
        json_body={"payment_method": "pm_card_mastercard"},
    )
    assert status == 201, method
    assert method["brand"] == "mastercard" and method["last4"]
    # The same provider customer is reused (created once, lazily).
    assert method["provider_customer_id"].startswith("cus_")
    status, _, refused = call(
        "POST",
        f"/v1/customers/{customer['id']}/payment-methods",
        key=admin_key,
        json_body={"payment_method": "4242424242424242"},
    )
    assert status in {400, 422}, refused


def test_finalizing_enqueues_one_attempt_and_the_collector_pays_once(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer)
    jobs = payment_jobs(invoice["id"], app_env)
    assert jobs == [{"kind": "collect", "invoice_id": invoice["id"], "attempt": 1}]

    assert collect(jobs[0]) == {"batchItemFailures": []}
    paid = get_invoice(call, admin_key, invoice["id"])
    assert paid["status"] == "paid" and paid["amount_paid"] == 12_345 and paid["amount_remaining"] == 0
    # Redelivered job: the attempt is decided, the provider is not called again.
    assert collect(jobs[0]) == {"batchItemFailures": []}
    succeeded = [c for c in charges(standin, invoice["id"]) if c.get("status") == "succeeded"]
    assert len(succeeded) == 1

    from billing.repositories.payments import PaymentRepository

    payments = PaymentRepository(table_name=app_env["BILLING_TABLE"]).list_for_invoice(invoice["id"])
    assert [(p.status, p.amount, p.attempt) for p in payments] == [("succeeded", 12_345, 1)]
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 0


def test_a_charge_retried_after_a_timeout_charges_once(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=5_000)
    job = payment_jobs(invoice["id"], app_env)[0]
    # The answer of the charge is lost after Stripe executed it, on every try of this delivery.
    requests.post(
        f"{standin.url}/_standin/faults",
        json={"kind": "timeout", "count": 12, "path": "/v1/payment_intents", "method": "POST",
              "seconds": 1, "when": "after"},
        timeout=10,
    ).raise_for_status()  # fmt: skip
    os.environ["STRIPE_TIMEOUT_SECONDS"] = "0.5"
    os.environ["STRIPE_RETRY_DEADLINE_SECONDS"] = "2"
    os.environ["STRIPE_MAX_NETWORK_RETRIES"] = "0"
    os.environ["STRIPE_RETRY_ATTEMPTS"] = "1"
    try:
        first = collect(job)
    finally:
        for name in ("STRIPE_TIMEOUT_SECONDS", "STRIPE_RETRY_DEADLINE_SECONDS", "STRIPE_MAX_NETWORK_RETRIES",
                     "STRIPE_RETRY_ATTEMPTS"):  # fmt: skip
            os.environ.pop(name, None)
        requests.delete(f"{standin.url}/_standin/faults", timeout=10)
    assert len(first["batchItemFailures"]) == 1  # SQS will redeliver the same attempt
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "open"

    assert collect(job) == {"batchItemFailures": []}
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    made = charges(standin, invoice["id"])
    assert len([c for c in made if c.get("status") == "succeeded"]) == 1
    assert {c.get("idempotency_key") for c in made} == {f"invoice-{invoice['id']}-attempt-1"}


def test_a_decline_is_recorded_on_the_payment_history(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key, card="pm_card_chargeCustomerFail")
    invoice = automatic_invoice(call, admin_key, customer, amount=7_000)
    job = payment_jobs(invoice["id"], app_env)[0]
    assert collect(job) == {"batchItemFailures": []}

    from billing.repositories.invoices import InvoiceRepository
    from billing.repositories.payments import PaymentRepository

    stored = InvoiceRepository(table_name=app_env["BILLING_TABLE"]).get(invoice["id"])
    assert stored is not None and stored.status == "open" and not stored.payment_in_flight
    assert stored.last_payment_error is not None and stored.last_payment_error["code"] == "generic_decline"
    payments = PaymentRepository(table_name=app_env["BILLING_TABLE"]).list_for_invoice(invoice["id"])
    assert [(p.status, p.decline_code, p.attempt) for p in payments] == [("failed", "generic_decline", 1)]
    # A stale redelivery of attempt 1 does not start attempt 2.
    assert collect(job) == {"batchItemFailures": []}
    assert len(charges(standin, invoice["id"])) == 1
