"""Stripe Checkout on the stand-in, through the real stripe SDK (``StripeProvider``): the hosted page
(test cards, card numbers, declines, 3-D Secure), expiring a session, setup mode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from billing.payments import StripeProvider
from local.stripe_standin import StandinServer, start
from tests.integration.test_stripe_standin import (
    SECRET,
    Clock,
    Receiver,
    charges_for,
    make_provider,
    wait_for,
)

SUCCESS = "https://shop.example/paid?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://shop.example/back"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def standin(receiver: Receiver, clock: Clock) -> Iterator[StandinServer]:
    server = start(0, receiver.url, SECRET, clock=clock)
    yield server
    server.stop()


@pytest.fixture
def provider(standin: StandinServer) -> StripeProvider:
    return make_provider(standin)


def pay_link(provider: StripeProvider, invoice: str, amount: int = 4200, currency: str = "eur") -> Any:
    return provider.create_checkout_session(
        invoice_id=invoice,
        amount=amount,
        currency=currency,
        success_url=SUCCESS,
        cancel_url=CANCEL,
        customer_email="bob@example.com",
        description=f"Invoice {invoice}",
    )


def submit(url: str, **fields: str) -> requests.Response:
    return requests.post(url, data=fields, allow_redirects=False, timeout=10)


def events_of(receiver: Receiver, type_: str) -> list[dict[str, Any]]:
    return [e for e in receiver.events() if e["type"] == type_]


def test_the_page_shows_the_amount_in_major_units_and_the_test_cards(provider, standin) -> None:
    link = pay_link(provider, "in_P1", amount=123456, currency="jpy")
    page = requests.get(link.url, timeout=10)
    assert page.status_code == 200
    assert "¥123,456" in page.text  # JPY has no minor unit: 123456 yen, not 1,234.56
    assert "Invoice in_P1" in page.text and "TEST MODE" in page.text
    for card in ("4242", "generic decline", "insufficient funds", "lost card", "stolen card", "3-D Secure"):
        assert card in page.text
    assert f'href="{CANCEL}"' in page.text  # Back
    usd = pay_link(provider, "in_P1b", amount=4200, currency="usd")
    assert "$42.00" in requests.get(usd.url, timeout=10).text


def test_a_declined_card_shows_the_decline_and_another_card_pays_the_same_intent(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    link = pay_link(provider, "in_P2")
    declined = submit(link.url, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert declined.status_code == 200
    assert "Your card has insufficient funds." in declined.text
    session = provider.retrieve_checkout_session(session_id=link.session_id)
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert session.last_payment_error == {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    failed_pi = session.provider_payment_id
    wait_for(lambda: bool(events_of(receiver, "payment_intent.payment_failed")))

    # A card number typed in works too; this one pays.
    paid = submit(link.url, card_number="4242 4242 4242 4242")
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://shop.example/paid?session={link.session_id}"
    session = provider.retrieve_checkout_session(session_id=link.session_id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.provider_payment_id == failed_pi  # one PaymentIntent per session, as Stripe
    assert session.payment_method is not None
    assert (session.payment_method.brand, session.payment_method.last4) == ("visa", "4242")
    assert session.invoice_id == "in_P2" and session.amount_total == 4200
    wait_for(lambda: bool(events_of(receiver, "checkout.session.completed")))
    for kind in ("charge.succeeded", "payment_intent.succeeded", "checkout.session.completed"):
        assert len(events_of(receiver, kind)) == 1, kind
    assert [c["status"] for c in charges_for(standin, "in_P2")] == ["failed", "succeeded"]
    details = provider.payment_method_details(provider_payment_id=str(failed_pi))
    assert details is not None and (details.brand, details.last4) == ("visa", "4242")

    # Completed: the page says so and takes no other payment.
    again = submit(link.url, payment_method="pm_card_visa")
    assert again.status_code == 200 and "This payment is complete" in again.text
    assert len([c for c in charges_for(standin, "in_P2") if c["status"] == "succeeded"]) == 1


def test_three_d_secure_can_be_failed_then_completed(provider, standin, receiver) -> None:
    link = pay_link(provider, "in_P3")
    challenge = submit(link.url, payment_method="pm_card_authenticationRequired")
    assert challenge.status_code == 200 and "Complete authentication" in challenge.text
    failed = submit(link.url, authenticate="fail")
    assert "unable to authenticate" in failed.text
    session = provider.retrieve_checkout_session(session_id=link.session_id)
    assert session.status == "open"
    assert (session.last_payment_error or {}).get("code") == "payment_intent_authentication_failure"
    submit(link.url, card_number="4000002760003184")
    done = submit(link.url, authenticate="complete")
    assert done.status_code == 303
    assert provider.retrieve_checkout_session(session_id=link.session_id).payment_status == "paid"


def test_unknown_card_numbers_are_refused_on_the_page(provider, standin) -> None:
    link = pay_link(provider, "in_P4")
    answer = submit(link.url, card_number="1234 5678 9012 3456")
    assert "not a Stripe test card" in answer.text
    assert charges_for(standin, "in_P4") == []


def test_expiring_a_session_stops_payment_and_is_idempotent(provider, standin, receiver) -> None:
    link = pay_link(provider, "in_P5")
    expired = provider.expire_checkout_session(session_id=link.session_id)
    assert expired.status == "expired"
    wait_for(lambda: bool(events_of(receiver, "checkout.session.expired")))
    again = provider.expire_checkout_session(session_id=link.session_id)  # no longer open: as it is
    assert again.status == "expired"
    page = submit(link.url, payment_method="pm_card_visa")
    assert page.status_code == 200 and "expired" in page.text
    assert charges_for(standin, "in_P5") == []
    # A paid session cannot be expired: it is answered complete.
    paid = pay_link(provider, "in_P6")
    assert submit(paid.url, payment_method="pm_card_visa").status_code == 303
    assert provider.expire_checkout_session(session_id=paid.session_id).status == "complete"


def test_a_session_past_its_expiry_is_expired(provider, standin, clock: Clock) -> None:
    link = pay_link(provider, "in_P7")
    clock.offset = 86_401
    assert provider.retrieve_checkout_session(session_id=link.session_id).status == "expired"
    assert "expired" in requests.get(link.url, timeout=10).text


def test_same_request_same_session_and_a_new_generation_a_new_one(provider, standin) -> None:
    first = pay_link(provider, "in_P8")
    assert pay_link(provider, "in_P8").session_id == first.session_id
    newer = provider.create_checkout_session(
        invoice_id="in_P8",
        amount=4200,
        currency="eur",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        customer_email="bob@example.com",
        description="Invoice in_P8",
        generation=2,
    )
    assert newer.session_id != first.session_id


def test_setup_mode_saves_a_card_to_the_customer(provider: StripeProvider, standin, receiver) -> None:
    cus = provider.ensure_customer(customer_id="cus_setup_1", email="ada@example.com", name="Ada")
    link = provider.create_setup_checkout_session(
        provider_customer_id=cus, success_url=SUCCESS, cancel_url=CANCEL
    )
    page = requests.get(link.url, timeout=10)
    assert "Save card" in page.text and "Save a card" in page.text
    refused = submit(link.url, payment_method="pm_card_visa_chargeDeclined")
    assert "Your card was declined." in refused.text
    session = provider.retrieve_checkout_session(session_id=link.session_id)
    assert (session.mode, session.status, session.setup_payment_method) == ("setup", "open", None)
    done = submit(link.url, card_number="5555555555554444")
    assert done.status_code == 303
    session = provider.retrieve_checkout_session(session_id=link.session_id)
    assert (session.status, session.payment_status) == ("complete", "no_payment_required")
    saved = session.setup_payment_method
    assert saved is not None and (saved.brand, saved.last4, saved.provider_customer_id) == (
        "mastercard",
        "4444",
        cus,
    )
    assert re.match(r"^seti_", session.setup_intent_id or "")
    wait_for(lambda: bool(events_of(receiver, "checkout.session.completed")))
    completed = events_of(receiver, "checkout.session.completed")[0]["data"]["object"]
    assert completed["mode"] == "setup" and completed["setup_intent"] == session.setup_intent_id
    assert events_of(receiver, "setup_intent.succeeded")
    # The card is the customer's now: it can be charged off-session.
    charged = provider.charge(
        invoice_id="in_S1",
        attempt=1,
        amount=1000,
        currency="usd",
        provider_customer_id=cus,
        payment_method_id=saved.id,
    )
    assert charged.status == "succeeded"
    assert charges_for(standin, "in_S1")[0]["payment_method"] == saved.id
