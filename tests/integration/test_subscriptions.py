"""/v1/subscriptions through the API on DynamoDB Local: create, list, change, cancel, pause, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.billing_helpers import (
    frozen,
    invoices_of,
    make_customer,
    make_metric,
    make_plan,
    subscribe,
)

pytestmark = pytest.mark.integration

START = datetime(2035, 3, 1, tzinfo=UTC)


def test_create_get_list_and_schedule(call, admin_key, app_env):
    plan = make_plan(call, admin_key, amount=1000, pay_in_advance=True, trial_days=14)
    with frozen(START):
        customer = make_customer(call, admin_key, external_id=f"ext-{START.timestamp()}-{id(plan)}")
        sub = subscribe(call, admin_key, customer["external_id"], plan["code"])
        assert sub["status"] == "trialing" and sub["customer_id"] == customer["id"]
        assert sub["trial_end"].startswith("2035-03-15") and sub["next_billing_at"].startswith("2035-03-15")
        assert sub["items"][0]["plan_version"] == 1 and sub["version"] == 1
        status, _, got = call("GET", f"/v1/subscriptions/{sub['id']}", key=admin_key)
        assert status == 200 and got["id"] == sub["id"]
        status, _, listed = call(
            "GET", f"/v1/subscriptions?customer={customer['id']}&status=trialing", key=admin_key
        )
        assert [s["id"] for s in listed["data"]] == [sub["id"]]
        status, _, listed = call(
            "GET", f"/v1/subscriptions?customer={customer['id']}&status=active", key=admin_key
        )
        assert listed["data"] == []
        status, _, plan_after = call("GET", f"/v1/plans/{plan['code']}", key=admin_key)
        assert plan_after.get("subscriptions_count", 1) == 1


def test_currency_mismatch_and_unknown_plan_are_refused(call, admin_key):
    eur = make_plan(call, admin_key, currency="eur", amount=100)
    customer = make_customer(call, admin_key)
    status, _, body = call(
        "POST",
        "/v1/subscriptions",
        key=admin_key,
        json_body={"customer": customer["id"], "items": [{"plan": eur["code"]}]},
    )
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        422,
        "currency_mismatch",
        "items.0.plan",
    )
    status, _, body = call(
        "POST",
        "/v1/subscriptions",
        key=admin_key,
        json_body={"customer": customer["id"], "items": [{"plan": "nope_x"}]},
    )
    assert (status, body["error"]["code"]) == (404, "plan_not_found")
    status, _, body = call(
        "POST",
        "/v1/subscriptions",
        key=admin_key,
        json_body={
            "customer": customer["id"],
            "items": [{"plan": eur["code"]}],
            "collection_method": "send_invoice",
        },
    )
    assert status == 422


def test_a_metric_is_billed_by_one_subscription_at_a_time(call, admin_key):
    metric = make_metric(call, admin_key)
    charges = [{"metric": metric["code"], "model": "standard", "unit_amount": 1}]
    plan = make_plan(call, admin_key, charges=charges)
    customer = make_customer(call, admin_key)
    subscribe(call, admin_key, customer["id"], plan["code"])
    status, _, body = call(
        "POST",
        "/v1/subscriptions",
        key=admin_key,
        json_body={"customer": customer["id"], "items": [{"plan": plan["code"]}]},
    )
    assert (status, body["error"]["code"]) == (409, "metric_already_subscribed")


def test_cancel_now_makes_a_final_invoice_and_later_changes_are_409(call, admin_key, app_env):
    plan = make_plan(call, admin_key, amount=3000, pay_in_advance=True)
    other = make_plan(call, admin_key, amount=5000, pay_in_advance=True)
    start = datetime(2035, 4, 1, tzinfo=UTC)
    with frozen(start) as clock:
        customer = make_customer(call, admin_key)
        sub = subscribe(call, admin_key, customer["id"], plan["code"])
        # bill April in advance (as the worker would)
        from billing.services.billing_runs import bill_customer, billing_from_settings
        from billing.settings import Settings

        bill_customer(
            billing_from_settings(Settings.from_env()), customer_id=customer["id"], up_to=clock.now()
        )
        clock.current = datetime(2035, 4, 21, 12, tzinfo=UTC)
        status, _, canceled = call(
            "POST", f"/v1/subscriptions/{sub['id']}/cancel", key=admin_key, json_body={}
        )
        assert status == 200, canceled
        assert canceled["status"] == "canceled" and canceled["next_billing_at"] is None
        final = next(i for i in invoices_of(app_env, customer["id"]) if i.id == canceled["latest_invoice_id"])
        # April 21..30 unused = 10 of 30 days: −3000 × 10/30 = −1000
        assert [(line.kind, line.amount) for line in final.lines] == [("proration", -1000)]
        assert final.credit_created == 1000
        for method, path, request in [
            ("PATCH", f"/v1/subscriptions/{sub['id']}", {"item": {"plan": other["code"]}}),
            ("POST", f"/v1/subscriptions/{sub['id']}/cancel", {}),
            ("POST", f"/v1/subscriptions/{sub['id']}/pause", {}),
        ]:
            status, _, body = call(method, path, key=admin_key, json_body=request)
            assert (status, body["error"]["code"]) == (409, "subscription_canceled"), (path, body)


def test_cancel_at_period_end_pause_resume_and_version(call, admin_key):
    plan = make_plan(call, admin_key, amount=1000)
    start = datetime(2035, 6, 1, tzinfo=UTC)
    with frozen(start) as clock:
        customer = make_customer(call, admin_key)
        sub = subscribe(call, admin_key, customer["id"], plan["code"])
        clock.current += timedelta(days=3)
        path = f"/v1/subscriptions/{sub['id']}"
        status, _, body = call(
            "POST", f"{path}/cancel", key=admin_key, json_body={"at_period_end": True, "version": 7}
        )
        assert (status, body["error"]["code"]) == (409, "version_mismatch")
        status, _, scheduled = call(
            "POST", f"{path}/cancel", key=admin_key, json_body={"at_period_end": True, "version": 1}
        )
        assert status == 200 and scheduled["cancel_at_period_end"] and scheduled["status"] == "active"
        assert scheduled["pending_changes"][0]["kind"] == "cancel"
        status, _, undone = call("PATCH", path, key=admin_key, json_body={"cancel_at_period_end": False})
        assert status == 200 and not undone["cancel_at_period_end"] and undone["pending_changes"] == []
        status, _, paused = call("POST", f"{path}/pause", key=admin_key, json_body={})
        assert status == 200 and paused["status"] == "paused"
        status, _, resumed = call("POST", f"{path}/resume", key=admin_key, json_body={})
        assert status == 200 and resumed["status"] == "active"
        status, _, changes = call("GET", f"{path}/changes", key=admin_key)
        assert [c["action"] for c in changes["data"]] == [
            "created",
            "cancel_scheduled",
            "updated",
            "paused",
            "resumed",
        ]
        assert all(c["actor"] and c["at"] for c in changes["data"])
