"""Stripe webhooks end to end: signed events from the stand-in, delivered through the local gateway to
`stripe_webhook`, queued (moto SQS) and applied by `reconciliation` to DynamoDB Local, duplicated and
out of order."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.invoice_helpers import get_invoice, sqs_event
from tests.integration.payflow_helpers import standin_env
from tests.integration.test_payments_collection import automatic_invoice, customer_with_card, payment_jobs

pytestmark = pytest.mark.integration
SECRET = "whsec_webhook_tests"


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    with standin_env(SECRET) as server:
        yield server


def provider() -> Any:
    from billing.payments import get_payment_provider

    return get_payment_provider()


def stripe_events(standin: Any, **params: str) -> list[dict[str, Any]]:
    """Every event the stand-in made (newest first), delivered or not."""
    answer = requests.get(f"{standin.url}/v1/events", params={"limit": "100", **params},
                          auth=("sk_test_tests", ""), timeout=10)  # fmt: skip
    answer.raise_for_status()
    return answer.json()["data"]  # type: ignore[no-any-return]


def event_for(standin: Any, type_: str, pi: str) -> dict[str, Any]:
    for event in stripe_events(standin, type=type_):
        obj = event["data"]["object"]
        if pi in (obj.get("id"), obj.get("payment_intent")):
            return event
    raise AssertionError(f"no {type_} event for {pi}")


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> str:
    t = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver(call: Any, event: dict[str, Any], *, signature: str | None = None) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    status, _, answer = call(
        "POST", "/v1/webhooks/stripe", raw=body, headers={"stripe-signature": signature or signed(body)}
    )
    return status, answer


def queued_events(app_env: dict[str, str]) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=app_env["PAYMENT_EVENTS_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=600
        ).get("Messages", [])
        if not batch:
            break
        for m in batch:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=app_env["PAYMENT_EVENTS_QUEUE_URL"], ReceiptHandle=m["ReceiptHandle"])
    return found


def apply(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    from local.functions import function_specs, invoke

    return invoke(function_specs()["ReconciliationFunction"], sqs_event(bodies))  # type: ignore[no-any-return]


def deliver_and_apply(call: Any, app_env: dict[str, str], events: list[dict[str, Any]]) -> list[bool]:
    """Each event through the webhook, then whatever it queued through the consumer, one at a time."""
    duplicates = []
    for event in events:
        status, answer = deliver(call, event)
        assert status == 200, answer
        duplicates.append(answer["duplicate"])
        queued = queued_events(app_env)
        assert len(queued) == (0 if answer["duplicate"] else 1)
        if queued:
            assert apply(queued) == {"batchItemFailures": []}
    return duplicates


def payments_of(app_env: dict[str, str], invoice_id: str) -> list[Any]:
    from billing.repositories.payments import PaymentRepository

    return PaymentRepository(table_name=app_env["BILLING_TABLE"]).list_for_invoice(invoice_id)


def provider_customer(app_env: dict[str, str], customer_id: str) -> str:
    from billing.repositories.customers import CustomerRepository

    customer = CustomerRepository(table_name=app_env["BILLING_TABLE"]).get(customer_id)
    assert customer is not None and customer.provider_customer_id
    return customer.provider_customer_id


def test_duplicated_and_reordered_webhooks_leave_each_invoice_right(call, admin_key, app_env, standin):
    # Invoice A: paid by the collector; its succeeded event arrives afterwards, twice, and a refund twice.
    customer = customer_with_card(call, admin_key)
    invoice_a = automatic_invoice(call, admin_key, customer, amount=10_000)
    from tests.integration.test_payments_collection import collect

    assert collect(payment_jobs(invoice_a["id"], app_env)[0]) == {"batchItemFailures": []}
    [paid_a] = payments_of(app_env, invoice_a["id"])
    succeeded_a = event_for(standin, "payment_intent.succeeded", paid_a.provider_payment_id)

    # Invoice B: attempt 1 declined, attempt 2 paid, nothing recorded by the collector: the webhooks are
    # the only news, and the decline arrives last.
    invoice_b = automatic_invoice(call, admin_key, customer, amount=4_200)
    payment_jobs(invoice_b["id"], app_env)  # the collector's job is not run
    cus = provider_customer(app_env, customer["id"])
    failed = provider().charge(invoice_id=invoice_b["id"], attempt=1, amount=4_200, currency="usd",
                               provider_customer_id=cus, payment_method_id="pm_card_visa_chargeDeclined")  # fmt: skip
    assert failed.status == "failed"
    paid = provider().charge(invoice_id=invoice_b["id"], attempt=2, amount=4_200, currency="usd",
                             provider_customer_id=cus)  # fmt: skip
    assert paid.status == "succeeded"
    failed_b = event_for(standin, "payment_intent.payment_failed", str(failed.provider_payment_id))
    succeeded_b = event_for(standin, "payment_intent.succeeded", str(paid.provider_payment_id))

    refund = provider().refund(provider_payment_id=str(paid_a.provider_payment_id), amount=2_500,
                               credit_note_id="cn_webhooktest1")  # fmt: skip
    refunded_a = event_for(standin, "charge.refunded", str(paid_a.provider_payment_id))

    duplicates = deliver_and_apply(
        call, app_env, [succeeded_b, succeeded_a, refunded_a, failed_b, succeeded_a, refunded_a, succeeded_b]
    )
    assert duplicates == [False, False, False, False, True, True, True]
    # SQS delivers at least once: the consumer sees the same events again, in another order.
    assert apply([{"event": e} for e in (failed_b, refunded_a, succeeded_b, succeeded_a)]) == {
        "batchItemFailures": []
    }

    a = get_invoice(call, admin_key, invoice_a["id"])
    assert a["status"] == "paid" and a["amount_paid"] == 10_000
    [payment_a] = payments_of(app_env, invoice_a["id"])
    assert (payment_a.id, payment_a.status, payment_a.amount_refunded) == (
        paid_a.id,
        "partially_refunded",
        2_500,
    )

    b = get_invoice(call, admin_key, invoice_b["id"])
    assert b["status"] == "paid" and b["amount_paid"] == 4_200 and b["amount_remaining"] == 0
    assert [(p.attempt, p.status) for p in payments_of(app_env, invoice_b["id"])] == [(2, "succeeded")]

    from billing.repositories.payments import PaymentRepository, refund_id_for_provider

    repo = PaymentRepository(table_name=app_env["BILLING_TABLE"])
    assert repo.refund_recorded(refund.provider_refund_id)
    from billing.repositories import dynamo, keys

    table = dynamo.table(app_env["BILLING_TABLE"])
    refund_items = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": keys.invoice(invoice_a["id"])["pk"], ":sk": keys.REFUND_SK_PREFIX},
    )["Items"]
    assert [i["id"] for i in refund_items] == [refund_id_for_provider(refund.provider_refund_id)]
    # No customer credit from a duplicate: the payments were applied once.
    from billing.repositories.customers import CustomerRepository

    assert CustomerRepository(table_name=app_env["BILLING_TABLE"]).get(customer["id"]) is not None


def test_a_dispute_opened_and_closed_in_any_order(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=3_000)
    from tests.integration.test_payments_collection import collect

    assert collect(payment_jobs(invoice["id"], app_env)[0]) == {"batchItemFailures": []}
    [payment] = payments_of(app_env, invoice["id"])
    opened = requests.post(f"{standin.url}/_standin/disputes", json={"payment_intent": payment.provider_payment_id},
                           timeout=10).json()  # fmt: skip
    requests.post(f"{standin.url}/_standin/disputes/{opened['id']}/close", json={"outcome": "won"},
                  timeout=10).raise_for_status()  # fmt: skip
    created = event_for(standin, "charge.dispute.created", str(payment.provider_payment_id))
    closed = event_for(standin, "charge.dispute.closed", str(payment.provider_payment_id))
    closed["created"] = max(closed["created"], created["created"] + 1)  # the stand-in's clock has 1 s steps
    deliver_and_apply(call, app_env, [closed, created])
    [after] = payments_of(app_env, invoice["id"])
    assert after.status == "succeeded"  # won, and the late "created" does not reopen it
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"


def test_a_bad_or_stale_signature_is_refused_and_nothing_changes(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=2_000)
    payment_jobs(invoice["id"], app_env)
    cus = provider_customer(app_env, customer["id"])
    paid = provider().charge(invoice_id=invoice["id"], attempt=1, amount=2_000, currency="usd",
                             provider_customer_id=cus)  # fmt: skip
    event = event_for(standin, "payment_intent.succeeded", str(paid.provider_payment_id))
    body = json.dumps(event).encode()
    for signature in (
        signed(body, secret="whsec_wrong"),
        signed(body, at=int(time.time()) - 3600),
        "garbage",
    ):
        status, answer = deliver(call, event, signature=signature)
        assert status == 400, answer
        assert (
            answer["error"]["code"] == "invalid_signature" and answer["error"]["param"] == "Stripe-Signature"
        )
    status, _, answer = call("POST", "/v1/webhooks/stripe", raw=body)
    assert status == 400 and answer["error"]["code"] == "invalid_signature"
    assert queued_events(app_env) == []
    from billing.repositories import dynamo, keys

    assert "Item" not in dynamo.table(app_env["BILLING_TABLE"]).get_item(Key=keys.webhook_event(event["id"]))
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "open"
    # The same event, correctly signed, is then accepted and pays the invoice.
    deliver_and_apply(call, app_env, [event])
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
