"""Invoices through the api function (and the finalizer schedule), against DynamoDB Local and moto."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billing import clock
from tests.integration.invoice_helpers import (
    finalize,
    get_customer,
    get_invoice,
    make_customer,
    make_tax_rate,
    one_off,
)

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def frozen():
    frozen_clock = clock.FrozenClock(datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    previous = clock.set_clock(frozen_clock)
    yield frozen_clock
    clock.set_clock(previous)


@pytest.fixture
def invoicing(app_env):
    from billing.services.invoices import invoicing_from_settings
    from billing.settings import get_settings

    return invoicing_from_settings(get_settings())


# --------------------------------------------------------------------------- one-off pricing


def test_one_off_lines_are_priced_once_per_line_with_coupons_and_taxes(call, admin_key):
    rate = make_tax_rate(call, admin_key, percentage="20")
    customer = make_customer(call, admin_key)
    coupon = f"ten{customer['invoice_prefix'].lower()}"
    status, _, body = call(
        "POST",
        "/v1/coupons",
        key=admin_key,
        json_body={"code": coupon, "percent_off": "10", "duration": "once"},
    )
    assert status == 201, body
    invoice = one_off(
        call,
        admin_key,
        customer,
        lines=[
            # 3 × 33.3333 = 99.9999 → 100 (rounded once, half-up, on the line)
            {
                "description": "Widgets",
                "quantity": "3",
                "unit_amount_decimal": "33.3333",
                "tax_rates": [rate["id"]],
            },
            # 2 × 1050 = 2100
            {"description": "Setup", "quantity": 2, "unit_amount": 1050, "tax_rates": [rate["id"]]},
        ],
        coupons=[coupon],
    )
    assert invoice["status"] == "draft" and invoice["number"] is None
    lines = invoice["lines"]["data"]
    assert [(li["amount"], li["amount_exact"]) for li in lines] == [(100, "99.9999"), (2100, "2100")]
    # subtotal 2200; 10 % coupon = 220, allocated 10 + 210; taxable 90 + 1890 = 1980; 20 % = 396
    assert invoice["subtotal"] == 2200
    assert invoice["discount"] == 220
    assert [li["discount"] for li in lines] == [10, 210]
    assert invoice["tax"] == 396
    assert invoice["total"] == 2200 - 220 + 396 == 2376
    assert invoice["amount_due"] == invoice["amount_remaining"] == 2376
    assert invoice["coupons"] == [{"coupon": coupon, "amount": 220}]
    assert invoice["taxes"][0]["taxable_amount"] == 1980
    assert invoice["days_until_due"] == 30  # send_invoice default
    assert lines[0]["breakdown"][0]["explanation"].startswith("3 × 33.3333 = 99.9999")


def test_one_off_bad_input_is_4xx_with_code_and_param(call, admin_key):
    customer = make_customer(call, admin_key)

    def post(body):
        return call("POST", "/v1/invoices", key=admin_key, json_body={"customer": customer["id"], **body})

    status, _, body = post({"lines": [{"description": "x", "unit_amount": 1, "unit_amount_decimal": "1"}]})
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        422,
        "unit_amount_required",
        "lines.0.unit_amount",
    )
    status, _, body = post({"lines": [{"description": "x", "unit_amount": 1, "tax_rates": ["no_such_rate"]}]})
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        422,
        "unknown_tax_rate",
        "lines.0.tax_rates.0",
    )
    status, _, body = post({"lines": [{"description": "x", "quantity": 1.5, "unit_amount": 1}]})
    assert status == 422 and body["error"]["param"].startswith("lines.0.quantity")
    status, _, body = post({"lines": [{"description": "x", "quantity": "0", "unit_amount": 1}]})
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        422,
        "out_of_range",
        "lines.0.quantity",
    )
    status, _, body = post({"lines": [{"description": "x", "quantity": "abc", "unit_amount": 1}]})
    assert (status, body["error"]["code"]) == (422, "invalid_decimal")
    status, _, body = post({"lines": []})
    assert status == 422 and body["error"]["param"] == "lines"
    status, _, body = post({"lines": [{"description": "x", "unit_amount": 1}], "coupons": ["nope-nope"]})
    assert (status, body["error"]["code"], body["error"]["param"]) == (422, "unknown_coupon", "coupons.0")
    status, _, body = call(
        "POST",
        "/v1/invoices",
        key=admin_key,
        json_body={"customer": "cus_0000000000000000", "lines": [{"description": "x", "unit_amount": 1}]},
    )
    assert (status, body["error"]["code"], body["error"]["param"]) == (404, "customer_not_found", "customer")


# --------------------------------------------------------------------------- finalization and numbering


def test_finalize_issues_gapless_numbers_per_customer_and_freezes_the_invoice(call, admin_key, frozen):
    customer = make_customer(call, admin_key)
    prefix = customer["invoice_prefix"]
    first = one_off(call, admin_key, customer)
    second = one_off(call, admin_key, customer)

    done = finalize(call, admin_key, first["id"])
    assert done["status"] == "open"
    assert done["number"] == f"{prefix}-0001"
    assert done["finalized_at"].startswith("2026-05-04T09:30")
    assert done["due_date"].startswith("2026-06-03T09:30")  # 30 days later
    assert done["customer_details"]["name"] == "Acme Corp"
    assert done["hosted_invoice_url"].startswith("https://billing.example.com/i/")
    assert done["hold_reasons"] == []
    assert finalize(call, admin_key, second["id"])["number"] == f"{prefix}-0002"
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 2

    # The snapshot is frozen: renaming the customer does not change the finalized invoice.
    status, _, _ = call(
        "PATCH", f"/v1/customers/{customer['id']}", key=admin_key, json_body={"name": "Renamed"}
    )
    assert status == 200
    assert get_invoice(call, admin_key, first["id"])["customer_details"]["name"] == "Acme Corp"


def test_finalizing_twice_is_a_409(call, admin_key):
    customer = make_customer(call, admin_key)
    invoice = one_off(call, admin_key, customer)
    finalize(call, admin_key, invoice["id"])
    body = finalize(call, admin_key, invoice["id"], expect=409)
    assert (body["error"]["code"], body["error"]["param"]) == ("invoice_not_draft", "invoice_id")


def test_a_held_invoice_lists_its_reasons_and_consumes_no_number(call, admin_key):
    customer = make_customer(call, admin_key, emails=[])
    prefix = customer["invoice_prefix"]
    invoice = one_off(call, admin_key, customer)
    body = finalize(call, admin_key, invoice["id"], expect=409)
    assert body["error"]["code"] == "invoice_held"
    assert "missing_billing_email" in body["error"]["message"]
    held = get_invoice(call, admin_key, invoice["id"])
    assert held["status"] == "draft" and held["number"] is None
    assert [r["code"] for r in held["hold_reasons"]] == ["missing_billing_email"]
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 0

    # Fixed, it gets the first number of the sequence: the held attempt consumed none.
    status, _, _ = call(
        "PATCH", f"/v1/customers/{customer['id']}", key=admin_key, json_body={"emails": ["ap@acme.example"]}
    )
    assert status == 200
    done = finalize(call, admin_key, invoice["id"])
    assert (done["number"], done["hold_reasons"]) == (f"{prefix}-0001", [])


@pytest.mark.parametrize(
    ("customer_fields", "invoice_fields", "code"),
    [
        ({}, {"currency": "eur"}, "currency_mismatch"),
        ({}, {"collection_method": "charge_automatically"}, "missing_payment_method"),
        ({}, {"lines": [{"description": "Refund", "unit_amount": -500}]}, "negative_total"),
        ({}, {"lines": [{"description": "  ", "unit_amount": 500}]}, "line_without_description"),
        ({"address": {"country": "AQ"}}, {"state_rate": True}, "missing_address"),
    ],
)
def test_pre_send_checks_hold_the_invoice(call, admin_key, customer_fields, invoice_fields, code):
    customer = make_customer(call, admin_key, **customer_fields)
    if invoice_fields.pop("state_rate", False):
        rate = make_tax_rate(call, admin_key, percentage="4", state="ZZ", display_name="State sales tax")
        invoice_fields["lines"] = [{"description": "Service", "unit_amount": 1000, "tax_rates": [rate["id"]]}]
    invoice = one_off(call, admin_key, customer, auto_finalize=True, **invoice_fields)
    assert invoice["status"] == "draft" and invoice["number"] is None
    assert code in [r["code"] for r in invoice["hold_reasons"]], invoice["hold_reasons"]
    assert all(r["message"] for r in invoice["hold_reasons"])


def test_charge_automatically_with_a_payment_method_finalizes(call, admin_key):
    customer = make_customer(call, admin_key, metadata={"payment_method_id": "pm_card_visa"})
    invoice = one_off(call, admin_key, customer, collection_method="charge_automatically", auto_finalize=True)
    assert invoice["status"] == "open" and invoice["due_date"] is None


def test_a_zero_total_finalizes_as_paid(call, admin_key):
    customer = make_customer(call, admin_key)
    invoice = one_off(
        call, admin_key, customer, lines=[{"description": "Free trial", "unit_amount": 0}], auto_finalize=True
    )
    assert invoice["status"] == "paid"
    assert invoice["number"] == f"{customer['invoice_prefix']}-0001"
    assert invoice["amount_due"] == invoice["amount_remaining"] == 0
    assert invoice["paid_at"] is not None
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 0


def test_concurrent_finalizations_of_one_customer_get_consecutive_numbers(call, admin_key, invoicing):
    from billing.services.invoices import finalize_invoice

    customer = make_customer(call, admin_key)
    drafts = [one_off(call, admin_key, customer)["id"] for _ in range(8)]
    barrier = threading.Barrier(len(drafts))
    results: dict[str, object] = {}

    def run(invoice_id):
        barrier.wait()
        try:
            results[invoice_id] = finalize_invoice(invoicing, invoice_id, actor="test").invoice.number
        except Exception as exc:  # collected and asserted on below
            results[invoice_id] = exc

    threads = [threading.Thread(target=run, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = sorted(results.values())  # type: ignore[type-var]
    prefix = customer["invoice_prefix"]
    assert numbers == [f"{prefix}-{n:04d}" for n in range(1, 9)], results
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 8


def test_per_account_numbering_shares_one_sequence(call, admin_key, invoicing):
    from dataclasses import replace

    from billing.services.invoices import finalize_invoice

    account = replace(
        invoicing,
        numbering="per_account",
        account_prefix=f"A{make_customer(call, admin_key)['invoice_prefix']}",
    )
    a, b = make_customer(call, admin_key), make_customer(call, admin_key)
    first = finalize_invoice(account, one_off(call, admin_key, a)["id"], actor="test").invoice
    second = finalize_invoice(account, one_off(call, admin_key, b)["id"], actor="test").invoice
    assert (first.number, second.number) == (
        f"{account.account_prefix}-0001",
        f"{account.account_prefix}-0002",
    )


# --------------------------------------------------------------------------- after finalization


def test_void_uncollectible_and_pay_transitions_and_their_409s(call, admin_key):
    customer = make_customer(call, admin_key)
    cid = customer["id"]

    def post(invoice_id, action, expect, body=None):
        status, _, out = call("POST", f"/v1/invoices/{invoice_id}/{action}", key=admin_key, json_body=body)
        assert status == expect, out
        return out

    draft = one_off(call, admin_key, customer)
    for action in ("void", "mark-uncollectible", "pay"):
        assert post(draft["id"], action, 409)["error"]["code"] == "invoice_is_draft"

    to_void = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])
    to_pay = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])
    to_write_off = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])
    assert get_customer(call, admin_key, cid)["open_invoices"] == 3

    voided = post(to_void["id"], "void", 200)
    assert (voided["status"], voided["voided_at"] is not None, voided["number"]) == (
        "void",
        True,
        to_void["number"],
    )
    assert voided["total"] == to_void["total"]  # amounts stay frozen
    assert post(to_void["id"], "void", 409)["error"]["code"] == "invoice_already_void"
    assert post(to_void["id"], "pay", 409)["error"]["code"] == "invoice_already_void"
    assert post(to_void["id"], "finalize", 409)["error"]["code"] == "invoice_not_draft"

    paid = post(to_pay["id"], "pay", 200)
    assert (paid["status"], paid["amount_paid"], paid["amount_remaining"], paid["paid_out_of_band"]) == (
        "paid", to_pay["amount_due"], 0, True,
    )  # fmt: skip
    for action in ("void", "pay", "mark-uncollectible"):
        error = post(to_pay["id"], action, 409)["error"]
        assert (error["code"], error["param"]) == ("invoice_already_paid", "invoice_id")

    written_off = post(to_write_off["id"], "mark-uncollectible", 200)
    assert written_off["status"] == "uncollectible"
    assert (
        post(to_write_off["id"], "mark-uncollectible", 409)["error"]["code"]
        == "invoice_already_uncollectible"
    )
    assert get_customer(call, admin_key, cid)["open_invoices"] == 0
    # An uncollectible invoice can still be paid (the open count does not move again).
    error = post(to_write_off["id"], "pay", 422, {"paid_at": "2020-01-01T00:00:00Z"})["error"]
    assert (error["code"], error["param"]) == ("out_of_range", "paid_at")  # before finalization
    assert post(to_write_off["id"], "pay", 200)["status"] == "paid"
    assert get_customer(call, admin_key, cid)["open_invoices"] == 0

    # A customer with no open invoice can be deleted again.
    status, _, _ = call("DELETE", f"/v1/customers/{cid}", key=admin_key)
    assert status == 200


def test_unknown_and_malformed_invoice_ids(call, admin_key):
    status, _, body = call("GET", "/v1/invoices/in_0000000000000000", key=admin_key)
    assert (status, body["error"]["code"]) == (404, "invoice_not_found")
    status, _, body = call("POST", "/v1/invoices/nope/finalize", key=admin_key)
    assert (status, body["error"]["param"]) == (422, "invoice_id")


def test_list_by_customer_status_and_overdue_with_cursor(call, admin_key, frozen):
    customer = make_customer(call, admin_key)
    ids = []
    for _ in range(3):
        ids.append(one_off(call, admin_key, customer, days_until_due=1)["id"])
        frozen.advance(timedelta(seconds=1))
    for invoice_id in ids[:2]:
        finalize(call, admin_key, invoice_id)
        frozen.advance(timedelta(seconds=1))

    seen, cursor = [], None
    while True:
        path = f"/v1/invoices?customer={customer['id']}&limit=2" + (
            f"&starting_after={cursor}" if cursor else ""
        )
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200, page
        seen += [i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == list(reversed(ids))  # newest first

    status, _, drafts = call("GET", f"/v1/invoices?customer={customer['id']}&status=draft", key=admin_key)
    assert [i["id"] for i in drafts["data"]] == [ids[2]]

    status, _, overdue = call("GET", f"/v1/invoices?customer={customer['id']}&overdue=true", key=admin_key)
    assert overdue["data"] == []  # due tomorrow
    frozen.advance(timedelta(days=2))
    status, _, overdue = call("GET", f"/v1/invoices?customer={customer['id']}&overdue=true", key=admin_key)
    assert sorted(i["id"] for i in overdue["data"]) == sorted(ids[:2])
    assert all(i["overdue"] for i in overdue["data"])
    status, _, everything = call("GET", "/v1/invoices?status=open&overdue=true&limit=100", key=admin_key)
    assert status == 200 and set(ids[:2]) <= {i["id"] for i in everything["data"]}
    status, _, body = call("GET", "/v1/invoices?status=paid&overdue=true", key=admin_key)
    assert (status, body["error"]["code"]) == (422, "conflicting_filters")
    status, _, body = call("GET", "/v1/invoices?status=nope", key=admin_key)
    assert (status, body["error"]["param"]) == (422, "status")
    status, _, body = call("GET", "/v1/invoices?customer=nobody-here", key=admin_key)
    assert (status, body["error"]["code"]) == (404, "customer_not_found")
    status, _, body = call("GET", "/v1/invoices?limit=2", key=admin_key)
    assert status == 200 and len(body["data"]) == 2 and body["has_more"]
    status, _, body = call("GET", f"/v1/invoices?limit=2&starting_after={body['next_cursor']}", key=admin_key)
    assert status == 200, body


def test_lines_are_embedded_up_to_ten_and_paginated(call, admin_key):
    customer = make_customer(call, admin_key)
    lines = [{"description": f"Item {n}", "unit_amount": 100 + n} for n in range(12)]
    invoice = one_off(call, admin_key, customer, lines=lines)
    assert len(invoice["lines"]["data"]) == 10 and invoice["lines"]["has_more"]
    got, cursor = [], None
    while True:
        path = f"/v1/invoices/{invoice['id']}/lines?limit=5" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200, page
        got += [li["description"] for li in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert got == [f"Item {n}" for n in range(12)]


def test_readers_may_read_but_not_finalize(call, admin_key):
    status, _, body = call(
        "POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"}
    )
    assert status == 201, body
    reader = body["key"]
    customer = make_customer(call, admin_key)
    invoice = one_off(call, admin_key, customer)
    assert call("GET", f"/v1/invoices/{invoice['id']}", key=reader)[0] == 200
    status, _, body = call("POST", f"/v1/invoices/{invoice['id']}/finalize", key=reader)
    assert (status, body["error"]["code"]) == (403, "insufficient_role")


# --------------------------------------------------------------------------- the finalizer schedule


def test_finalizer_finalizes_drafts_past_their_grace_period(call, admin_key, app_env, frozen):
    import boto3

    from billing.repositories import keys
    from billing.repositories.transactions import timestamp
    from local.functions import function_specs, invoke

    customer = make_customer(call, admin_key)
    due = one_off(call, admin_key, customer)
    later = one_off(call, admin_key, customer)
    table = boto3.resource("dynamodb").Table(app_env["BILLING_TABLE"])
    for invoice_id, after in (
        (due["id"], frozen.now() - timedelta(minutes=1)),
        (later["id"], frozen.now() + timedelta(hours=1)),
    ):
        table.update_item(
            Key=keys.invoice(invoice_id),
            UpdateExpression="SET finalize_after = :at",
            ExpressionAttributeValues={":at": timestamp(after)},
        )
    event = json.loads((EVENTS / "invoice_finalizer" / "hourly.json").read_text())
    summary = invoke(function_specs()["InvoiceFinalizerFunction"], event)
    assert summary["finalized"] >= 1, summary
    assert get_invoice(call, admin_key, due["id"])["number"] == f"{customer['invoice_prefix']}-0001"
    assert get_invoice(call, admin_key, later["id"])["status"] == "draft"


def test_a_failed_enqueue_is_retried_by_the_finalizer(call, admin_key, app_env, invoicing, frozen):
    from dataclasses import replace

    from billing.services.invoices import finalize_invoice, run_finalizer

    customer = make_customer(call, admin_key)
    invoice_id = one_off(call, admin_key, customer)["id"]
    offline = replace(invoicing, queue=None)  # the enqueue after the commit fails
    result = finalize_invoice(offline, invoice_id, actor="test")
    assert result.invoice.status == "open" and result.invoice.notification_pending
    pending = {p["subject_id"] for p in invoicing.invoices.pending_notifications()}
    assert invoice_id in pending

    frozen.advance(timedelta(minutes=10))
    sent: list[dict[str, object]] = []

    class Queue:
        def send(self, message):
            sent.append(dict(message))
            return "mid"

    summary = run_finalizer(replace(invoicing, queue=Queue()), time_left=lambda: 300.0)
    assert summary.notifications_requeued >= 1
    assert {"kind": "invoice_finalized", "invoice_id": invoice_id} in sent
    assert invoice_id not in {p["subject_id"] for p in invoicing.invoices.pending_notifications()}
    assert invoicing.invoices.get(invoice_id).notification_pending is False


def test_a_one_off_draft_can_be_deleted_a_finalized_invoice_cannot(call, admin_key):
    customer = make_customer(call, admin_key)
    draft = one_off(call, admin_key, customer)
    assert draft["status"] == "draft"

    _, _, ro = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"})
    status, _, body = call("DELETE", f"/v1/invoices/{draft['id']}", key=ro["key"])
    assert status == 403, body

    status, _, body = call("DELETE", f"/v1/invoices/{draft['id']}", key=admin_key)
    assert status == 200 and body == {"object": "invoice", "id": draft["id"], "deleted": True}, body
    status, _, body = call("GET", f"/v1/invoices/{draft['id']}", key=admin_key)
    assert status == 404 and body["error"]["code"] == "invoice_not_found"
    status, _, body = call("DELETE", f"/v1/invoices/{draft['id']}", key=admin_key)
    assert status == 404 and body["error"]["code"] == "invoice_not_found"
    status, _, listed = call("GET", f"/v1/invoices?customer={customer['id']}", key=admin_key)
    assert status == 200 and listed["data"] == []

    issued = one_off(call, admin_key, customer, auto_finalize=True)
    assert issued["status"] == "open"
    status, _, body = call("DELETE", f"/v1/invoices/{issued['id']}", key=admin_key)
    assert status == 409 and (body["error"]["code"], body["error"]["param"]) == (
        "invoice_not_draft",
        "invoice_id",
    )
    assert get_invoice(call, admin_key, issued["id"])["status"] == "open"
