"""Paying an invoice from its hosted page: Pay → the stand-in's Checkout page → back to the invoice,
with the webhooks delivered once, twice, before or after the return. Real stripe SDK against the
stand-in, DynamoDB Local, moto (SQS, SES), the customer pages over the local gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.integration.invoice_helpers import get_invoice, make_customer, one_off
from tests.integration.payflow_helpers import (
    back_from_checkout,
    invoice_notifications,
    page,
    pay_on_checkout,
    press_pay,
    standin_env,
    standin_requests,
    token_of,
)
from tests.integration.test_payment_webhooks import deliver_and_apply, event_for, payments_of
from tests.integration.test_payments_collection import customer_with_card

pytestmark = pytest.mark.integration
SECRET = "whsec_webhook_tests"  # the webhook tests' secret: their helpers sign with it


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    with standin_env(SECRET) as server:
        yield server


def open_invoice(
    call: Any, key: str, customer: dict[str, Any] | None = None, amount: int = 10_000
) -> dict[str, Any]:
    customer = customer or make_customer(call, key)
    invoice = one_off(
        call, key, customer, lines=[{"description": "Consulting", "quantity": 1, "unit_amount": amount}],
        auto_finalize=True,
    )  # fmt: skip
    assert invoice["status"] == "open" and invoice["hosted_invoice_url"], invoice
    return invoice


def provider() -> Any:
    from billing.payments import get_payment_provider

    return get_payment_provider()


def session_of(location: str) -> Any:
    return provider().retrieve_checkout_session(session_id=location.rstrip("/").rsplit("/", 1)[-1])


def checkout_posts(standin: Any) -> int:
    return len(standin_requests(standin, "POST", "/v1/checkout/sessions"))


def checkout_events(standin: Any, session: Any) -> list[dict[str, Any]]:
    """The Checkout's webhooks: the session completed, its PaymentIntent succeeded."""
    pi = str(session.provider_payment_id)
    return [
        event_for(standin, "checkout.session.completed", pi),
        event_for(standin, "payment_intent.succeeded", pi),
    ]


# --------------------------------------------------------------------------- Pay


def test_pay_redirects_to_a_session_for_what_remains_and_pressing_twice_is_one_session(
    call, admin_key, app_env, standin
):
    invoice = open_invoice(call, admin_key, amount=12_345)
    token = token_of(invoice)
    before = checkout_posts(standin)
    status, headers, _ = press_pay(call, token)
    assert status == 303, headers
    location = headers["location"]
    assert location.startswith(f"{standin.url}/c/pay/cs_test_")
    assert "form-action 'self'" in headers["content-security-policy"]
    session = session_of(location)
    assert (session.status, session.amount_total, session.currency) == ("open", 12_345, "usd")
    assert session.invoice_id == invoice["id"] and session.client_reference_id == invoice["id"]

    again_status, again_headers, _ = press_pay(call, token)
    assert (again_status, again_headers["location"]) == (303, location)
    assert checkout_posts(standin) - before == 1  # the second press only looked the session up
    stand_in_page = requests.get(location, timeout=10).text
    assert "$123.45" in stand_in_page and invoice["number"] in stand_in_page


def test_after_a_partial_payment_pay_asks_for_the_remainder_and_the_old_session_is_expired(
    call, admin_key, app_env, standin
):
    customer = customer_with_card(call, admin_key)
    invoice = open_invoice(call, admin_key, customer, amount=10_000)
    token = token_of(invoice)
    first = press_pay(call, token)[1]["location"]
    assert session_of(first).amount_total == 10_000

    # 2,500 arrives by another path (an off-session charge its webhook reports): 7,500 remain.
    from tests.integration.test_payment_webhooks import provider_customer

    partial = provider().charge(invoice_id=invoice["id"], attempt=1, amount=2_500, currency="usd",
                                provider_customer_id=provider_customer(app_env, customer["id"]))  # fmt: skip
    deliver_and_apply(
        call, app_env, [event_for(standin, "payment_intent.succeeded", str(partial.provider_payment_id))]
    )
    assert get_invoice(call, admin_key, invoice["id"])["amount_remaining"] == 7_500

    second = press_pay(call, token)[1]["location"]
    assert second != first
    assert session_of(second).amount_total == 7_500
    assert session_of(first).status == "expired"  # never two live sessions asking for the money
    assert "expired" in pay_on_checkout(first, payment_method="pm_card_visa").text
    assert pay_on_checkout(second, payment_method="pm_card_visa").status_code == 303
    succeeded = [c for c in requests.get(f"{standin.url}/_standin/charges", timeout=10).json()["data"]
                 if c["metadata"].get("invoice_id") == invoice["id"] and c["status"] == "succeeded"]  # fmt: skip
    assert sorted(c["amount"] for c in succeeded) == [2_500, 7_500]


@pytest.mark.parametrize("order", ["webhooks_first", "return_first"])
def test_paid_on_checkout_then_webhooks_twice_in_any_order_pay_once_with_one_receipt(
    call, admin_key, app_env, standin, order
):
    invoice = open_invoice(call, admin_key, amount=4_200)
    token = token_of(invoice)
    location = press_pay(call, token)[1]["location"]
    paid = pay_on_checkout(location, payment_method="pm_card_visa")
    assert paid.status_code == 303
    back = paid.headers["Location"]
    query = parse_qs(urlsplit(back).query)
    assert urlsplit(back).path == f"/i/{token}" and query["checkout"] == ["success"]
    session = session_of(location)
    events = checkout_events(standin, session)

    if order == "webhooks_first":
        assert deliver_and_apply(call, app_env, events + events) == [False, False, True, True]
        status, _, html = back_from_checkout(call, back)
    else:
        status, _, html = back_from_checkout(call, back)
        assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"  # before any webhook
        deliver_and_apply(call, app_env, events + events)
    assert status == 200 and "Your payment was received." in html and "Thank you." in html
    assert f'href="/i/{token}/receipt"' in html and f'action="/i/{token}/pay"' not in html  # paid: no Pay
    # The page again (a reload): nothing more is recorded.
    assert back_from_checkout(call, back)[0] == 200

    stored = get_invoice(call, admin_key, invoice["id"])
    assert (stored["status"], stored["amount_paid"], stored["amount_remaining"]) == ("paid", 4_200, 0)
    [payment] = payments_of(app_env, invoice["id"])
    assert (payment.status, payment.amount, payment.provider_payment_id) == (
        "succeeded",
        4_200,
        session.provider_payment_id,
    )
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    succeeded = [c for c in requests.get(f"{standin.url}/_standin/charges", timeout=10).json()["data"]
                 if c["metadata"].get("invoice_id") == invoice["id"] and c["status"] == "succeeded"]  # fmt: skip
    assert len(succeeded) == 1
    receipts = invoice_notifications(app_env, invoice["id"], "invoice_paid")
    assert receipts == [{"kind": "invoice_paid", "invoice_id": invoice["id"]}]

    from tests.integration.test_documents import mails_to, notify

    assert notify(receipts[0]) == {"batchItemFailures": []}
    assert notify(receipts[0]) == {"batchItemFailures": []}  # redelivered: sent once
    mails = [
        m
        for m in mails_to("billing@acme.example")
        if f"Receipt for invoice {invoice['number']}" in str(m["subject"])
    ]
    assert len(mails) == 1
    body = str(mails[0]["body"])
    assert "$42.00" in body and "Visa •••• 4242" in body and f"/i/{token}/receipt" in body


def test_a_declined_card_keeps_the_invoice_open_and_the_page_shows_the_decline(
    call, admin_key, app_env, standin
):
    from billing.repositories.dunning import DunningRepository
    from billing.repositories.payments import PaymentRepository

    invoice = open_invoice(call, admin_key, amount=9_900)
    token = token_of(invoice)
    location = press_pay(call, token)[1]["location"]
    declined = pay_on_checkout(location, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert "Your card has insufficient funds." in declined.text
    pi = str(session_of(location).provider_payment_id)
    failed = event_for(standin, "payment_intent.payment_failed", pi)
    assert deliver_and_apply(call, app_env, [failed, failed]) == [False, True]

    stored = get_invoice(call, admin_key, invoice["id"])
    assert (stored["status"], stored["amount_remaining"]) == ("open", 9_900)
    assert payments_of(app_env, invoice["id"]) == []  # a try on the page is not a payment of ours
    assert DunningRepository(table_name=app_env["BILLING_TABLE"]).get(invoice["id"]) is None
    [decline] = PaymentRepository(table_name=app_env["BILLING_TABLE"]).list_declines_for_invoice(
        invoice["id"]
    )
    assert (decline.decline_code, decline.amount, decline.card_last4) == ("insufficient_funds", 9_900, "9995")

    status, _, html = page(call, token, "checkout=canceled")  # the customer goes Back
    assert status == 200 and "Payment canceled: nothing was charged." in html
    assert "Your card has insufficient funds." in html

    # Another card on the same session pays the same PaymentIntent: recorded despite the decline.
    paid = pay_on_checkout(location, payment_method="pm_card_mastercard")
    assert paid.status_code == 303
    back_from_checkout(call, paid.headers["Location"])
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    [payment] = payments_of(app_env, invoice["id"])
    assert (payment.provider_payment_id, payment.card_brand) == (pi, "mastercard")


def test_pay_is_refused_with_a_page_and_no_provider_call(call, admin_key, app_env, standin):
    from billing.repositories.invoices import InvoiceRepository

    void = open_invoice(call, admin_key)
    assert call("POST", f"/v1/invoices/{void['id']}/void", key=admin_key)[0] == 200
    paid = open_invoice(call, admin_key)
    assert call("POST", f"/v1/invoices/{paid['id']}/pay", key=admin_key)[0] == 200
    in_flight = open_invoice(call, admin_key)
    repo = InvoiceRepository(table_name=app_env["BILLING_TABLE"])
    current = repo.get(in_flight["id"])
    assert current is not None
    repo.update(
        current, current.model_copy(update={"payment_in_flight": True, "version": current.version + 1})
    )

    before = len(standin_requests(standin))
    for invoice, words in ((void, "was voided"), (paid, "already paid"), (in_flight, "being processed")):
        status, headers, html = press_pay(call, token_of(invoice))
        assert status == 409, (invoice["id"], status)
        assert headers["content-type"].startswith("text/html") and words in html
        assert "nothing was charged" in html and f"/i/{token_of(invoice)}" in html
    status, _, html = press_pay(call, "A" * 32)
    assert status == 404 and "Invoice not found" in html
    assert len(standin_requests(standin)) == before  # nothing was asked of the provider


def test_returns_that_prove_nothing_change_nothing(call, admin_key, app_env, standin):
    mine = open_invoice(call, admin_key)
    other = open_invoice(call, admin_key)
    other_location = press_pay(call, token_of(other))[1]["location"]
    assert pay_on_checkout(other_location, payment_method="pm_card_visa").status_code == 303
    other_session = session_of(other_location)
    token = token_of(mine)
    for query in (
        f"checkout=success&session_id={other_session.id}",  # paid, but another invoice's session
        "checkout=success&session_id=cs_test_doesnotexist",
        "checkout=success&session_id=%3Cscript%3E",
        "checkout=canceled",
        "checkout=success",
    ):
        status, _, html = page(call, token, query)
        assert status == 200, query
        assert "<script>" not in html
    assert get_invoice(call, admin_key, mine["id"])["status"] == "open"
    assert payments_of(app_env, mine["id"]) == []
    # An open session that was not paid: the page says so, nothing is recorded.
    location = press_pay(call, token)[1]["location"]
    status, _, html = page(call, token, f"checkout=success&session_id={session_of(location).id}")
    assert status == 200 and "Your payment was not completed: nothing was charged." in html
    assert get_invoice(call, admin_key, mine["id"])["status"] == "open"


def test_a_session_paid_before_its_webhook_is_recorded_when_pay_is_pressed_again(
    call, admin_key, app_env, standin
):
    invoice = open_invoice(call, admin_key, amount=3_000)
    token = token_of(invoice)
    location = press_pay(call, token)[1]["location"]
    pay_on_checkout(location, payment_method="pm_card_visa")  # the customer closes the tab: no return
    status, _, html = press_pay(call, token)  # in another tab, before any webhook
    assert status == 409 and "already paid" in html
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    assert len(payments_of(app_env, invoice["id"])) == 1


def test_when_stripe_is_down_pay_answers_a_try_again_page(call, admin_key, app_env, standin):
    invoice = open_invoice(call, admin_key)
    requests.post(f"{standin.url}/_standin/faults", json={"kind": "500", "count": 20, "path": "/v1/checkout/sessions",
                                                          "method": "POST"}, timeout=10).raise_for_status()  # fmt: skip
    try:
        status, headers, html = press_pay(call, token_of(invoice))
    finally:
        requests.delete(f"{standin.url}/_standin/faults", timeout=10)
    assert status == 503 and headers["content-type"].startswith("text/html")
    assert "try again" in html and "nothing was charged" in html
    status, headers, _ = press_pay(call, token_of(invoice))  # Stripe is back: the same key, one session
    assert status == 303 and "/c/pay/cs_test_" in headers["location"]
