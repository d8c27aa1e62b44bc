"""Receipts: a transition to paid that received money writes the receipt's pending marker in its own
transaction and enqueues it; the notifier emails it once; the receipt page shows what was received.
Settlements without money (credit notes, zero total, credit balance) get none."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing import clock
from tests.integration.invoice_helpers import get_invoice, make_customer, one_off
from tests.integration.payflow_helpers import invoice_notifications, standin_env, token_of
from tests.integration.test_documents import NBSP, mails_to, notify
from tests.integration.test_payment_webhooks import (
    SECRET,
    deliver_and_apply,
    event_for,
    payments_of,
    provider,
    provider_customer,
)
from tests.integration.test_payments_collection import (
    automatic_invoice,
    collect,
    customer_with_card,
    payment_jobs,
)

pytestmark = pytest.mark.integration
RECEIPT = "invoice_paid"


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    with standin_env(SECRET) as server:
        yield server


def pending_receipt(app_env: dict[str, str], invoice_id: str) -> bool:
    from billing.repositories.invoices import InvoiceRepository

    pending = InvoiceRepository(table_name=app_env["BILLING_TABLE"]).pending_notifications()
    return any(p["kind"] == RECEIPT and p["subject_id"] == invoice_id for p in pending)


def receipt_mails(address: str, number: str) -> list[dict[str, Any]]:
    return [m for m in mails_to(address) if f"Receipt for invoice {number}" in str(m["subject"])]


def test_card_collection_sends_one_receipt_and_the_receipt_page_shows_the_card(
    call, admin_key, app_env, standin
):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=5_000)
    assert call("GET", f"/i/{token_of(invoice)}/receipt")[0] == 404  # nothing received yet
    assert collect(payment_jobs(invoice["id"], app_env)[0]) == {"batchItemFailures": []}
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    messages = invoice_notifications(app_env, invoice["id"], RECEIPT)
    assert messages == [{"kind": RECEIPT, "invoice_id": invoice["id"]}]
    assert not pending_receipt(app_env, invoice["id"])  # enqueued right after the commit
    [payment] = payments_of(app_env, invoice["id"])
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")

    for _ in range(2):  # SQS is at-least-once: the sent-marker makes it one email
        assert notify(messages[0]) == {"batchItemFailures": []}
    [mail] = receipt_mails("billing@acme.example", invoice["number"])
    body = str(mail["body"])
    assert "$50.00" in body and "Visa •••• 4242" in body and invoice["number"] in body
    assert invoice["hosted_invoice_url"] in body and f"{invoice['hosted_invoice_url']}/receipt" in body

    status, headers, html = call("GET", f"/i/{token_of(invoice)}/receipt")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    for text in ("Receipt", invoice["number"], "$50.00", "Visa •••• 4242", "Acme Corp", "$0.00"):
        assert text in html, text


def test_a_payment_the_webhook_reports_sends_one_receipt_however_often_it_comes(
    call, admin_key, app_env, standin
):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=3_300)
    payment_jobs(invoice["id"], app_env)  # the collector's job is lost: only the webhook tells
    paid = provider().charge(invoice_id=invoice["id"], attempt=1, amount=3_300, currency="usd",
                             provider_customer_id=provider_customer(app_env, customer["id"]))  # fmt: skip
    event = event_for(standin, "payment_intent.succeeded", str(paid.provider_payment_id))
    assert deliver_and_apply(call, app_env, [event, event]) == [False, True]
    from tests.integration.test_payment_webhooks import apply

    assert apply([{"event": event}]) == {"batchItemFailures": []}  # and SQS redelivers it
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    assert invoice_notifications(app_env, invoice["id"], RECEIPT) == [
        {"kind": RECEIPT, "invoice_id": invoice["id"]}
    ]


def test_a_payment_found_by_reconciliation_sends_the_receipt(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key)
    invoice = automatic_invoice(call, admin_key, customer, amount=2_200)
    payment_jobs(invoice["id"], app_env)  # the collector's job is not run, the webhook never comes
    paid = provider().charge(invoice_id=invoice["id"], attempt=1, amount=2_200, currency="usd",
                             provider_customer_id=provider_customer(app_env, customer["id"]))  # fmt: skip
    assert paid.status == "succeeded"
    now = clock.now()
    status, _, report = call(
        "POST",
        "/v1/reconciliations",
        key=admin_key,
        json_body={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat(),
        },
    )
    assert status == 201, report
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    assert invoice_notifications(app_env, invoice["id"], RECEIPT) == [
        {"kind": RECEIPT, "invoice_id": invoice["id"]}
    ]
    [payment] = payments_of(app_env, invoice["id"])
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")  # asked of the provider


@pytest.fixture
def may_2026() -> Iterator[Any]:
    frozen = clock.FrozenClock(datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    previous = clock.set_clock(frozen)
    yield frozen
    clock.set_clock(previous)


def test_an_out_of_band_payment_gets_a_receipt_in_the_customers_language(call, admin_key, app_env, may_2026):
    customer = make_customer(call, admin_key, name="Müller GmbH", currency="eur", locale="de_DE",
                             time_zone="Europe/Berlin", emails=["buchhaltung@receipt.example"],
                             address={"country": "DE", "city": "Berlin", "postal_code": "10115", "line1": "Hauptstr. 1"})  # fmt: skip
    invoice = one_off(call, admin_key, customer, lines=[{"description": "Lizenz", "quantity": 1, "unit_amount": 123456}],
                      auto_finalize=True)  # fmt: skip
    status, _, error = call(
        "POST", f"/v1/invoices/{invoice['id']}/pay", key=admin_key, json_body={"method": "pigeon"}
    )
    assert status == 422 and error["error"]["param"] == "method", error
    status, _, paid = call(
        "POST", f"/v1/invoices/{invoice['id']}/pay", key=admin_key, json_body={"method": "bank_transfer"}
    )
    assert status == 200 and paid["status"] == "paid"
    [message] = invoice_notifications(app_env, invoice["id"], RECEIPT)
    assert notify(message) == {"batchItemFailures": []}
    [mail] = receipt_mails("buchhaltung@receipt.example", invoice["number"])
    body = str(mail["body"])
    assert f"1.234,56{NBSP}€" in body and "4. Mai 2026" in body and "Bank transfer" in body
    status, _, html = call("GET", f"/i/{token_of(invoice)}/receipt")
    assert status == 200 and f"1.234,56{NBSP}€" in html and "Bank transfer" in html and 'lang="de"' in html


def test_no_receipt_without_money_and_the_page_says_how_it_was_settled(call, admin_key, app_env):
    from billing.repositories.invoices import InvoiceRepository
    from billing.services.payment_history import how_settled

    repo = InvoiceRepository(table_name=app_env["BILLING_TABLE"])
    customer = make_customer(call, admin_key)
    free = one_off(call, admin_key, customer, lines=[{"description": "Trial", "quantity": 1, "unit_amount": 0}],
                   auto_finalize=True)  # fmt: skip
    assert free["status"] == "paid"
    credited = one_off(call, admin_key, customer, auto_finalize=True)
    status, _, note = call("POST", "/v1/credit-notes", key=admin_key,
                           json_body={"invoice": credited["id"], "amount": credited["amount_due"]})  # fmt: skip
    assert status == 201, note
    # A credit note on a paid invoice fills the credit balance; the next invoice is paid from it.
    source = one_off(call, admin_key, customer, auto_finalize=True)
    assert call("POST", f"/v1/invoices/{source['id']}/pay", key=admin_key)[0] == 200
    assert (
        call("POST", "/v1/credit-notes", key=admin_key, json_body={"invoice": source["id"], "amount": 5_000})[
            0
        ]
        == 201
    )
    from_balance = one_off(call, admin_key, customer, lines=[{"description": "Extra", "quantity": 1, "unit_amount": 3_000}],
                           auto_finalize=True)  # fmt: skip

    expected = {
        free["id"]: "zero_total",
        credited["id"]: "credit_notes",
        from_balance["id"]: "credit_balance",
    }
    for invoice_id, settled in expected.items():
        stored = repo.get(invoice_id)
        assert stored is not None and stored.status == "paid", invoice_id
        assert how_settled(stored) == settled
        assert invoice_notifications(app_env, invoice_id, RECEIPT) == []
        assert not pending_receipt(app_env, invoice_id)
        assert call("GET", f"/i/{stored.hosted_token}/receipt")[0] == 404


def test_a_receipt_whose_enqueue_was_lost_is_sent_by_the_finalizer(call, admin_key, app_env):
    from billing.services import invoices as service
    from billing.settings import get_settings

    deps = service.invoicing_from_settings(get_settings())
    invoice = one_off(call, admin_key, make_customer(call, admin_key), auto_finalize=True)
    service.mark_paid(dataclasses.replace(deps, queue=None), invoice["id"], actor="test")  # the send fails
    assert pending_receipt(app_env, invoice["id"])
    assert invoice_notifications(app_env, invoice["id"], RECEIPT) == []

    later = clock.FrozenClock(clock.now() + timedelta(minutes=10))
    previous = clock.set_clock(later)
    try:
        summary = service.run_finalizer(deps, time_left=lambda: 300.0)
    finally:
        clock.set_clock(previous)
    assert summary.notifications_requeued >= 1
    assert invoice_notifications(app_env, invoice["id"], RECEIPT) == [
        {"kind": RECEIPT, "invoice_id": invoice["id"]}
    ]
    assert not pending_receipt(app_env, invoice["id"])
