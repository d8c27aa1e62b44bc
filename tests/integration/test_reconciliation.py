"""Reconciliation runs: the stand-in drops a webhook (its `drop_next` mode), the run finds the payment
and applies it through the same path as the webhook; a second run has nothing left to fix."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.invoice_helpers import get_invoice
from tests.integration.test_payment_webhooks import (
    SECRET,
    apply,
    deliver_and_apply,
    event_for,
    payments_of,
    provider,
    provider_customer,
    queued_events,
)
from tests.integration.test_payments_collection import (
    automatic_invoice,
    collect,
    customer_with_card,
    payment_jobs,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    """The stand-in sending signed webhooks to a local gateway serving the template's routes."""
    from billing.payments import reset_payment_provider
    from local.dispatch import Dispatcher
    from local.gateway import Gateway
    from local.stripe_standin import start

    gateway = Gateway(Dispatcher(), port=0, log=lambda line: None).start()
    server = start(0, webhook_url=f"{gateway.url}/v1/webhooks/stripe", webhook_secret=SECRET)
    names = ("STRIPE_API_BASE", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY_PARAM",
             "STRIPE_WEBHOOK_SECRET_PARAM")  # fmt: skip
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(
        {"STRIPE_API_BASE": server.url, "STRIPE_API_KEY": "sk_test_tests", "STRIPE_WEBHOOK_SECRET": SECRET}
    )
    for name in ("STRIPE_API_KEY_PARAM", "STRIPE_WEBHOOK_SECRET_PARAM"):
        os.environ.pop(name, None)
    reset_payment_provider()
    yield server
    server.stop()
    gateway.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_payment_provider()


def webhooks(standin: Any, body: dict[str, Any]) -> None:
    requests.post(f"{standin.url}/_standin/webhooks/mode", json=body, timeout=10).raise_for_status()


def settle(standin: Any, app_env: dict[str, str]) -> None:
    """Wait for the stand-in's deliveries, then apply whatever the webhook function queued."""
    requests.post(
        f"{standin.url}/_standin/webhooks/wait", json={"timeout": 10}, timeout=20
    ).raise_for_status()
    queued = queued_events(app_env)
    if queued:
        assert apply(queued) == {"batchItemFailures": []}


def reconcile(call: Any, key: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    status, _, report = call(
        "POST",
        "/v1/reconciliations",
        key=key,
        json_body={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat(),
        },
    )
    assert status == 201, report
    return report  # type: ignore[no-any-return]


def test_a_dropped_webhook_is_found_and_fixed_once(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    jobs = {}
    dropped = automatic_invoice(call, admin_key, customer, amount=6_600)
    jobs[dropped["id"]] = payment_jobs(dropped["id"], app_env)[0]
    delivered = automatic_invoice(call, admin_key, customer, amount=7_700)
    jobs[delivered["id"]] = payment_jobs(delivered["id"], app_env)[0]
    cus = provider_customer(app_env, customer["id"])

    webhooks(standin, {"mode": "drop_next", "count": 1})
    lost = provider().charge(invoice_id=dropped["id"], attempt=1, amount=6_600, currency="usd",
                             provider_customer_id=cus)  # fmt: skip
    kept = provider().charge(invoice_id=delivered["id"], attempt=1, amount=7_700, currency="usd",
                             provider_customer_id=cus)  # fmt: skip
    assert lost.status == kept.status == "succeeded"
    settle(standin, app_env)
    log = requests.get(f"{standin.url}/_standin/webhooks", timeout=10).json()
    assert "dropped" in str(log)
    assert get_invoice(call, admin_key, dropped["id"])["status"] == "open"
    assert get_invoice(call, admin_key, delivered["id"])["status"] == "paid"
    # A refund whose webhook is dropped too.
    webhooks(standin, {"mode": "drop_next", "count": 1})
    refund = provider().refund(provider_payment_id=str(kept.provider_payment_id), amount=700,
                               credit_note_id="cn_reconciletest1")  # fmt: skip
    settle(standin, app_env)

    ours = {dropped["id"], delivered["id"]}
    report = reconcile(call, admin_key)
    mine = [m for m in report["mismatches"] if m["invoice_id"] in ours]
    assert sorted((m["code"], m["fixed"], m["invoice_id"]) for m in mine) == [
        ("paid_at_provider_open_here", True, dropped["id"]),
        ("refund_not_recorded", True, delivered["id"]),
    ]
    [missed] = [m for m in mine if m["code"] == "paid_at_provider_open_here"]
    assert missed["provider_payment_id"] == lost.provider_payment_id and missed["provider_amount"] == 6_600
    [refund_mismatch] = [m for m in mine if m["code"] == "refund_not_recorded"]
    assert refund_mismatch["provider_refund_id"] == refund.provider_refund_id

    fixed = get_invoice(call, admin_key, dropped["id"])
    assert fixed["status"] == "paid" and fixed["amount_paid"] == 6_600 and fixed["amount_remaining"] == 0
    from billing.repositories.payments import payment_id_for_attempt

    [payment] = payments_of(app_env, dropped["id"])
    assert (payment.id, payment.status, payment.attempt) == (
        payment_id_for_attempt(dropped["id"], 1),
        "succeeded",
        1,
    )
    [refunded] = payments_of(app_env, delivered["id"])
    assert (refunded.status, refunded.amount_refunded) == ("partially_refunded", 700)

    # The dropped webhook arriving late, and the collector's job running late, change nothing.
    late = event_for(standin, "payment_intent.succeeded", str(lost.provider_payment_id))
    assert deliver_and_apply(call, app_env, [late]) == [False]
    for invoice_id, job in jobs.items():
        assert collect(job) == {"batchItemFailures": []}
        assert len(payments_of(app_env, invoice_id)) == 1
    charges = requests.get(
        f"{standin.url}/_standin/charges", params={"invoice_id": dropped["id"]}, timeout=10
    ).json()
    assert len([c for c in charges["data"] if c["status"] == "succeeded"]) == 1
    assert get_invoice(call, admin_key, dropped["id"])["amount_paid"] == 6_600

    time.sleep(0.01)
    again = reconcile(call, admin_key)
    assert [m for m in again["mismatches"] if m["invoice_id"] in ours] == []
    assert again["mismatches_fixed"] == 0 and again["id"] != report["id"]

    status, _, stored = call("GET", f"/v1/reconciliations/{report['id']}", key=admin_key)
    assert status == 200 and stored == report
    status, _, listed = call("GET", "/v1/reconciliations?limit=2", key=admin_key)
    assert status == 200 and [r["id"] for r in listed["data"]] == [again["id"], report["id"]]


def test_the_window_is_bounded(call, admin_key, standin):
    now = datetime.now(UTC)
    status, _, answer = call(
        "POST",
        "/v1/reconciliations",
        key=admin_key,
        json_body={"from": (now - timedelta(days=32)).isoformat(), "to": now.isoformat()},
    )
    assert status == 422 and answer["error"]["code"] == "window_too_long", answer
    status, _, answer = call("GET", "/v1/reconciliations/rc_0000000000000000", key=admin_key)
    assert status == 404 and answer["error"]["code"] == "reconciliation_not_found"


def test_the_nightly_schedule_runs_a_report(app_env, standin):
    from local.functions import function_specs, invoke

    result = invoke(
        function_specs()["ReconciliationFunction"],
        {"version": "0", "id": "nightly-test", "detail-type": "Scheduled Event", "source": "aws.events",
         "time": datetime.now(UTC).isoformat(), "detail": {}},
    )  # fmt: skip
    assert result["reconciliation_id"].startswith("rc_") and result["mismatches_fixed"] >= 0
