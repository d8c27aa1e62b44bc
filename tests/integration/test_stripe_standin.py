"""The real stripe SDK (through ``StripeProvider``) against the offline stand-in.

Each test gets a fresh stand-in on a free port and a webhook receiver; nothing leaves 127.0.0.1.
The central property: one ``(invoice, attempt)`` is charged at most once, whatever the network does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from billing.errors import Conflict, NotFound, PaymentFailed, ProviderUnavailable, ValidationFailed
from billing.payments import PaymentProvider, StripeProvider, StripeSettings
from local.stripe_standin import StandinServer, sign, start

SECRET = "whsec_integration_secret"
API_KEY = "sk_test_standin_integration"


# ----------------------------------------------------------------------------------------- fixtures
class Receiver:
    """A webhook endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1/webhooks/stripe"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in list(self.received)]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def standin(receiver: Receiver, clock: Clock) -> Iterator[StandinServer]:
    server = start(0, receiver.url, SECRET, clock=clock)
    yield server
    server.stop()


def make_provider(server: StandinServer, **overrides: Any) -> StripeProvider:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "webhook_secret": SECRET,
        "base_url": server.url,
        "read_timeout_seconds": 5.0,
        "retry_base_delay_seconds": 0.05,
        "retry_max_delay_seconds": 0.2,
        **overrides,
    }
    return StripeProvider(StripeSettings(**settings))


@pytest.fixture
def provider(standin: StandinServer) -> StripeProvider:
    return make_provider(standin)


def control(server: StandinServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, server.url + path, json=body, timeout=10)
    assert response.status_code < 500, response.text
    return response.json()


def charges_for(
    server: StandinServer, invoice_id: str, attempt: int | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    params = {"invoice_id": invoice_id}
    if attempt is not None:
        params["attempt"] = str(attempt)
    if status is not None:
        params["status"] = status
    response = requests.get(server.url + "/_standin/charges", params=params, timeout=10)
    return list(response.json()["data"])


def payment_intent_posts(server: StandinServer) -> list[dict[str, Any]]:
    rows = control(server, "GET", "/_standin/requests")["data"]
    return [r for r in rows if r["method"] == "POST" and r["path"] == "/v1/payment_intents"]


def customer_with_card(
    provider: StripeProvider, card: str = "pm_card_visa", customer: str = "cus_ours_1"
) -> str:
    provider_customer = provider.ensure_customer(customer_id=customer, email="ada@example.com", name="Ada")
    provider.attach_payment_method(provider_customer_id=provider_customer, payment_method_id=card)
    return provider_customer


# --------------------------------------------------------------------------- customers and charges
def test_the_adapter_implements_the_interface(provider: StripeProvider) -> None:
    assert isinstance(provider, PaymentProvider)


def test_customer_attach_visa_and_charge_succeeds(provider: StripeProvider, standin: StandinServer) -> None:
    cus = provider.ensure_customer(customer_id="cus_ours_1", email="ada@example.com", name="Ada")
    assert cus.startswith("cus_")
    # a retry of the same creation (a crash before we stored the id) gets the same Stripe customer
    assert provider.ensure_customer(customer_id="cus_ours_1", email="ada@example.com", name="Ada") == cus
    # a stored id is used as is
    assert (
        provider.ensure_customer(customer_id="cus_ours_1", email=None, name=None, existing_provider_id=cus)
        == cus
    )

    method = provider.attach_payment_method(provider_customer_id=cus, payment_method_id="pm_card_visa")
    assert method.id.startswith("pm_") and method.id != "pm_card_visa"  # a fresh id, as Stripe does
    assert (method.brand, method.last4, method.is_default) == ("visa", "4242", True)

    result = provider.charge(
        invoice_id="in_A1", attempt=1, amount=2599, currency="USD", provider_customer_id=cus
    )
    assert result.status == "succeeded"
    assert result.provider_payment_id and result.provider_payment_id.startswith("pi_")
    assert (result.amount, result.currency, result.raw_status) == (2599, "usd", "succeeded")
    assert result.payment_method_id == method.id  # the customer's default
    assert result.idempotency_key == "invoice-in_A1-attempt-1"
    assert not result.replayed and not result.hard_decline

    rows = charges_for(standin, "in_A1", 1)
    assert len(rows) == 1
    assert rows[0]["idempotency_key"] == "invoice-in_A1-attempt-1"
    assert rows[0]["metadata"] == {"invoice_id": "in_A1", "attempt": "1"}
    assert (rows[0]["status"], rows[0]["amount"]) == ("succeeded", 2599)


def test_charging_the_same_attempt_again_replays_and_never_charges_twice(
    provider: StripeProvider, standin: StandinServer
) -> None:
    cus = customer_with_card(provider)
    first = provider.charge(
        invoice_id="in_A2", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    again = provider.charge(
        invoice_id="in_A2", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert again.replayed and again.provider_payment_id == first.provider_payment_id
    assert len(charges_for(standin, "in_A2")) == 1
    # the next attempt is a new payment
    second = provider.charge(
        invoice_id="in_A2", attempt=2, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert second.provider_payment_id != first.provider_payment_id
    assert len(charges_for(standin, "in_A2")) == 2


def test_same_attempt_with_other_parameters_is_a_conflict(
    provider: StripeProvider, standin: StandinServer
) -> None:
    cus = customer_with_card(provider)
    provider.charge(invoice_id="in_A3", attempt=1, amount=1000, currency="usd", provider_customer_id=cus)
    with pytest.raises(Conflict) as info:
        provider.charge(invoice_id="in_A3", attempt=1, amount=1200, currency="usd", provider_customer_id=cus)
    assert info.value.code == "idempotency_key_reused"
    assert len(charges_for(standin, "in_A3")) == 1


def test_a_customer_without_payment_method_fails_without_calling_stripe_for_a_charge(
    provider: StripeProvider, standin: StandinServer
) -> None:
    cus = provider.ensure_customer(customer_id="cus_ours_2", email=None, name=None)
    result = provider.charge(
        invoice_id="in_A4", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert (result.status, result.failure_code, result.provider_payment_id) == (
        "failed",
        "payment_method_missing",
        None,
    )
    assert payment_intent_posts(standin) == []


def test_unknown_customer_and_invalid_amount(provider: StripeProvider) -> None:
    with pytest.raises(NotFound) as missing:
        provider.charge(
            invoice_id="in_A5", attempt=1, amount=1000, currency="usd", provider_customer_id="cus_nope"
        )
    assert missing.value.code == "provider_resource_missing"
    cus = customer_with_card(provider)
    with pytest.raises(ValidationFailed) as small:
        provider.charge(invoice_id="in_A5", attempt=1, amount=10, currency="usd", provider_customer_id=cus)
    assert small.value.code == "provider_amount_too_small"
    with pytest.raises(ValidationFailed):
        provider.charge(invoice_id="in_A5", attempt=1, amount=0, currency="usd", provider_customer_id=cus)


# ------------------------------------------------------------------------------------- declines
@pytest.mark.parametrize(
    "case",
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline", False),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", False),
        ("pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card", True),
        ("pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card", True),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None, True),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", None, True),
        ("pm_card_chargeDeclinedProcessingError", "processing_error", None, False),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "card_declined",
            "card_velocity_exceeded",
            False,
        ),
        ("pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent", True),
        ("pm_card_radarBlock", "card_declined", "fraudulent", True),
    ],
)
def test_each_documented_decline_card_fails_with_its_code(
    provider: StripeProvider, standin: StandinServer, case: tuple[str, str, str | None, bool]
) -> None:
    card, failure_code, decline_code, hard = case
    cus = provider.ensure_customer(customer_id="cus_ours_d", email=None, name=None)
    result = provider.charge(
        invoice_id="in_D1",
        attempt=1,
        amount=1000,
        currency="usd",
        provider_customer_id=cus,
        payment_method_id=card,
    )
    assert result.status == "failed"
    assert (result.failure_code, result.decline_code, result.hard_decline) == (
        failure_code,
        decline_code,
        hard,
    )
    assert result.provider_payment_id and result.provider_payment_id.startswith("pi_")
    assert result.raw_status == "requires_payment_method"
    assert result.failure_message
    failed = charges_for(standin, "in_D1", 1)
    assert [c["status"] for c in failed] == ["failed"]
    # the decline is kept for the key: retrying the attempt replays it, no second authorization
    again = provider.charge(
        invoice_id="in_D1",
        attempt=1,
        amount=1000,
        currency="usd",
        provider_customer_id=cus,
        payment_method_id=card,
    )
    assert again.replayed and again.decline_code == decline_code
    assert len(charges_for(standin, "in_D1", 1)) == 1


def test_declining_cards_cannot_be_attached(provider: StripeProvider) -> None:
    cus = provider.ensure_customer(customer_id="cus_ours_3", email=None, name=None)
    with pytest.raises(PaymentFailed) as info:
        provider.attach_payment_method(
            provider_customer_id=cus, payment_method_id="pm_card_visa_chargeDeclinedLostCard"
        )
    assert info.value.code == "lost_card"


def test_a_card_that_attaches_and_then_fails(provider: StripeProvider) -> None:
    cus = customer_with_card(provider, card="pm_card_chargeCustomerFail", customer="cus_ours_4")
    result = provider.charge(
        invoice_id="in_D2", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert (result.status, result.decline_code, result.hard_decline) == ("failed", "generic_decline", False)


def test_authentication_required_off_session_is_requires_action(
    provider: StripeProvider, standin: StandinServer
) -> None:
    cus = customer_with_card(provider, card="pm_card_authenticationRequired", customer="cus_ours_5")
    result = provider.charge(
        invoice_id="in_D3", attempt=1, amount=1000, currency="eur", provider_customer_id=cus
    )
    assert result.status == "requires_action"
    assert (result.failure_code, result.decline_code) == (
        "authentication_required",
        "authentication_required",
    )
    assert result.provider_payment_id and result.hard_decline
    assert charges_for(standin, "in_D3") == []  # no authorization was attempted
    standin.webhooks.wait_idle()
    assert "payment_intent.payment_failed" in [e["type"] for e in standin.store.data["events"].values()]


def test_setup_intent_gives_a_client_secret(provider: StripeProvider) -> None:
    cus = provider.ensure_customer(customer_id="cus_ours_6", email=None, name=None)
    intent = provider.create_setup_intent(provider_customer_id=cus)
    assert intent.id.startswith("seti_")
    assert intent.client_secret.startswith(intent.id + "_secret_")


# --------------------------------------------------------------------------------------- refunds
def test_refund_once_per_credit_note(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    paid = provider.charge(
        invoice_id="in_R1", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert paid.provider_payment_id
    refund = provider.refund(
        provider_payment_id=paid.provider_payment_id, amount=300, credit_note_id="cn_1", reason="other"
    )
    assert (refund.status, refund.amount, refund.currency) == ("succeeded", 300, "usd")
    assert refund.provider_refund_id.startswith("re_")
    again = provider.refund(provider_payment_id=paid.provider_payment_id, amount=300, credit_note_id="cn_1")
    assert again.replayed and again.provider_refund_id == refund.provider_refund_id
    charge = standin.store.data["charges"][charges_for(standin, "in_R1")[0]["id"]]
    assert charge["amount_refunded"] == 300  # not 600
    with pytest.raises(ValidationFailed) as info:
        provider.refund(provider_payment_id=paid.provider_payment_id, amount=800, credit_note_id="cn_2")
    assert info.value.code == "provider_amount_too_large"
    provider.refund(provider_payment_id=paid.provider_payment_id, amount=700, credit_note_id="cn_3")
    with pytest.raises(Conflict) as done:
        provider.refund(provider_payment_id=paid.provider_payment_id, amount=1, credit_note_id="cn_4")
    assert done.value.code == "provider_charge_already_refunded"
    wait_for(lambda: receiver.types().count("charge.refunded") == 2)
    last = [e for e in receiver.events() if e["type"] == "charge.refunded"][-1]
    assert last["data"]["object"]["refunded"] is True


# -------------------------------------------------------------------------------------- checkout
def test_checkout_session_pay_link(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    link = provider.create_checkout_session(
        invoice_id="in_C1",
        amount=4200,
        currency="eur",
        success_url="https://shop.example/paid?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/cancelled",
        customer_email="bob@example.com",
        description="Invoice ACME-0042",
    )
    assert link.session_id.startswith("cs_test_")
    assert link.url.startswith(standin.url + "/c/pay/")
    assert link.expires_at and link.expires_at > datetime.now(UTC)
    again = provider.create_checkout_session(
        invoice_id="in_C1",
        amount=4200,
        currency="eur",
        success_url="https://shop.example/paid?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/cancelled",
        customer_email="bob@example.com",
        description="Invoice ACME-0042",
    )
    assert again.session_id == link.session_id
    page = requests.get(link.url, timeout=10)
    assert page.status_code == 200 and "€42.00" in page.text and "Invoice ACME-0042" in page.text
    done = control(
        standin,
        "POST",
        f"/_standin/checkout/sessions/{link.session_id}/complete",
        {"payment_method": "pm_card_visa"},
    )
    assert (done["status"], done["payment_status"]) == ("complete", "paid")
    wait_for(lambda: "checkout.session.completed" in receiver.types())
    completed = next(e for e in receiver.events() if e["type"] == "checkout.session.completed")
    assert completed["data"]["object"]["client_reference_id"] == "in_C1"
    assert completed["data"]["object"]["metadata"] == {"invoice_id": "in_C1"}
    now = datetime.now(UTC)
    payments = list(
        provider.list_payments(created_gte=now - timedelta(minutes=5), created_lt=now + timedelta(minutes=5))
    )
    assert [(p.invoice_id, p.metadata.get("source"), p.status) for p in payments] == [
        ("in_C1", "checkout", "succeeded")
    ]


# -------------------------------------------------------------------------------- reconciliation
def test_list_payments_and_refunds_walk_every_page_of_the_window(
    provider: StripeProvider, standin: StandinServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import billing.payments.stripe_provider as module

    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    cus = customer_with_card(provider)
    day = 86_400
    start_of_window = datetime.now(UTC) - timedelta(days=3)
    clock.offset = -4 * day  # before the window
    provider.charge(invoice_id="in_L0", attempt=1, amount=1000, currency="usd", provider_customer_id=cus)
    clock.offset = -2 * day  # inside
    for n in range(1, 6):
        paid = provider.charge(
            invoice_id=f"in_L{n}", attempt=1, amount=1000 + n, currency="usd", provider_customer_id=cus
        )
        assert paid.provider_payment_id
        provider.refund(provider_payment_id=paid.provider_payment_id, amount=n, credit_note_id=f"cn_L{n}")
    clock.offset = 0  # after the window
    provider.charge(invoice_id="in_L9", attempt=1, amount=1000, currency="usd", provider_customer_id=cus)

    end_of_window = datetime.now(UTC) - timedelta(days=1)
    payments = list(provider.list_payments(created_gte=start_of_window, created_lt=end_of_window))
    assert sorted(p.invoice_id or "" for p in payments) == [f"in_L{n}" for n in range(1, 6)]
    assert all(p.attempt == 1 and p.amount_received == p.amount and p.latest_charge_id for p in payments)
    refunds = list(provider.list_refunds(created_gte=start_of_window, created_lt=end_of_window))
    assert sorted(r.credit_note_id or "" for r in refunds) == [f"cn_L{n}" for n in range(1, 6)]
    gets = [
        r
        for r in control(standin, "GET", "/_standin/requests")["data"]
        if r["path"] == "/v1/payment_intents" and r["method"] == "GET"
    ]
    assert len(gets) == 3  # 2 + 2 + 1


# ------------------------------------------------------------------------ network trouble, no double charge
def test_a_charge_retried_after_a_timeout_charges_once(standin: StandinServer) -> None:
    provider = make_provider(standin, read_timeout_seconds=0.5)
    cus = customer_with_card(provider)
    # Stripe executes the first create, then the answer never reaches us in time.
    control(
        standin,
        "POST",
        "/_standin/faults",
        {"kind": "timeout", "path": "/v1/payment_intents", "method": "POST", "seconds": 1.5, "when": "after"},
    )
    result = provider.charge(
        invoice_id="in_T1", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded"
    assert result.replayed  # the retry got Stripe's stored answer
    assert len(charges_for(standin, "in_T1", 1)) == 1
    posts = payment_intent_posts(standin)
    assert len(posts) == 2
    assert {p["idempotency_key"] for p in posts} == {"invoice-in_T1-attempt-1"}
    assert [p["replayed"] for p in posts] == [False, True]


def test_a_charge_still_running_when_retried_is_not_run_twice(standin: StandinServer) -> None:
    provider = make_provider(
        standin,
        read_timeout_seconds=0.5,
        retry_attempts=8,
        retry_base_delay_seconds=0.3,
        retry_max_delay_seconds=1.0,
    )
    cus = customer_with_card(provider)
    # Stripe is slow executing the first create: retries meanwhile get 409 (key in use) until it ends.
    control(
        standin,
        "POST",
        "/_standin/faults",
        {"kind": "timeout", "path": "/v1/payment_intents", "seconds": 2.0, "when": "during"},
    )
    result = provider.charge(
        invoice_id="in_T2", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded" and result.replayed
    assert len(charges_for(standin, "in_T2", 1)) == 1
    posts = payment_intent_posts(standin)
    assert {p["idempotency_key"] for p in posts} == {"invoice-in_T2-attempt-1"}
    assert 409 in [p["status"] for p in posts]  # the SDK's retry met the running original


def test_a_late_original_request_does_not_charge_again(standin: StandinServer) -> None:
    provider = make_provider(standin, read_timeout_seconds=0.5)
    cus = customer_with_card(provider)
    # The first create is stuck on the way and arrives after the retry already charged.
    control(
        standin,
        "POST",
        "/_standin/faults",
        {"kind": "timeout", "path": "/v1/payment_intents", "seconds": 1.5, "when": "before"},
    )
    result = provider.charge(
        invoice_id="in_T3", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded"
    wait_for(lambda: len(payment_intent_posts(standin)) == 2)
    posts = payment_intent_posts(standin)
    assert sorted(p["replayed"] for p in posts) == [False, True]
    assert len(charges_for(standin, "in_T3", 1)) == 1


def test_a_lost_answer_connection_reset_charges_once(standin: StandinServer) -> None:
    provider = make_provider(standin)
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/faults", {"kind": "reset", "path": "/v1/payment_intents"})
    result = provider.charge(
        invoice_id="in_T4", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded" and result.replayed
    assert len(charges_for(standin, "in_T4", 1)) == 1


def test_rate_limited_then_success_under_the_same_key(standin: StandinServer) -> None:
    sleeps: list[float] = []
    provider = make_provider(standin)
    provider._sleep = lambda seconds: (sleeps.append(seconds), time.sleep(seconds))  # type: ignore[method-assign]
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/faults", {"kind": "429", "count": 2, "path": "/v1/payment_intents"})
    result = provider.charge(
        invoice_id="in_T5", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded" and not result.replayed
    posts = payment_intent_posts(standin)
    assert [p["status"] for p in posts] == [429, 429, 200]
    assert {p["idempotency_key"] for p in posts} == {"invoice-in_T5-attempt-1"}
    assert len(sleeps) == 2 and all(0 < s <= 0.2 for s in sleeps)
    assert len(charges_for(standin, "in_T5", 1)) == 1


def test_provider_down_past_the_budget_then_back_charges_once(standin: StandinServer) -> None:
    provider = make_provider(standin, retry_attempts=2)
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/faults", {"kind": "500", "count": 50, "path": "/v1/payment_intents"})
    with pytest.raises(ProviderUnavailable):
        provider.charge(invoice_id="in_T6", attempt=1, amount=5000, currency="usd", provider_customer_id=cus)
    posts = payment_intent_posts(standin)
    assert len(posts) == 2 * (1 + 2)  # our 2 calls x (1 + the SDK's 2 network retries)
    assert {p["idempotency_key"] for p in posts} == {"invoice-in_T6-attempt-1"}
    assert charges_for(standin, "in_T6") == []
    control(standin, "DELETE", "/_standin/faults")
    # the queue redelivers later: same (invoice, attempt), same key
    result = provider.charge(
        invoice_id="in_T6", attempt=1, amount=5000, currency="usd", provider_customer_id=cus
    )
    assert result.status == "succeeded"
    assert len(charges_for(standin, "in_T6", 1)) == 1


def test_unreachable_provider_is_provider_unavailable() -> None:
    server = start(0)
    url = server.url
    server.stop()  # nothing listens there any more
    provider = StripeProvider(
        StripeSettings(
            api_key=API_KEY,
            base_url=url,
            max_network_retries=0,
            retry_attempts=2,
            retry_base_delay_seconds=0.01,
        )
    )
    with pytest.raises(ProviderUnavailable):
        provider.charge(
            invoice_id="in_T7",
            attempt=1,
            amount=5000,
            currency="usd",
            provider_customer_id="cus_x",
            payment_method_id="pm_card_visa",
        )


# -------------------------------------------------------------------------------------- webhooks
def test_webhooks_arrive_signed_and_verify(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    provider.charge(invoice_id="in_W1", attempt=1, amount=1000, currency="usd", provider_customer_id=cus)
    provider.charge(
        invoice_id="in_W2",
        attempt=1,
        amount=1000,
        currency="usd",
        provider_customer_id=cus,
        payment_method_id="pm_card_visa_chargeDeclined",
    )
    wait_for(lambda: len(receiver.received) == 2)
    (h1, b1), (h2, b2) = receiver.received
    first = provider.construct_webhook_event(b1, h1["Stripe-Signature"])
    assert first.type == "payment_intent.succeeded"
    assert first.data_object["metadata"] == {"invoice_id": "in_W1", "attempt": "1"}
    assert first.request_idempotency_key == "invoice-in_W1-attempt-1"
    assert first.livemode is False and first.id.startswith("evt_")
    second = provider.construct_webhook_event(b2.decode(), h2["Stripe-Signature"])
    assert second.type == "payment_intent.payment_failed"
    assert second.data_object["last_payment_error"]["decline_code"] == "generic_decline"

    tampered = b1.replace(b'"in_W1"', b'"in_XX"')
    with pytest.raises(ValidationFailed) as bad:
        provider.construct_webhook_event(tampered, h1["Stripe-Signature"])
    assert bad.value.code == "invalid_signature"
    stale = sign(b1.decode(), SECRET, timestamp=int(time.time()) - 600)
    with pytest.raises(ValidationFailed) as old:
        provider.construct_webhook_event(b1, stale)
    assert old.value.code == "invalid_signature"
    other = make_provider(standin, webhook_secret="whsec_someone_else")
    with pytest.raises(ValidationFailed):
        other.construct_webhook_event(b1, h1["Stripe-Signature"])


def _pay(provider: StripeProvider, cus: str, invoice: str) -> str:
    result = provider.charge(
        invoice_id=invoice, attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    assert result.provider_payment_id
    return result.provider_payment_id


def _invoice_of(event: dict[str, Any]) -> str:
    return str(event["data"]["object"]["metadata"].get("invoice_id"))


def test_duplicate_mode_sends_the_same_event_twice(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/webhooks/mode", {"mode": "duplicate_next"})
    _pay(provider, cus, "in_M1")
    _pay(provider, cus, "in_M2")
    assert standin.webhooks.wait_idle()
    events = receiver.events()
    assert [_invoice_of(e) for e in events] == ["in_M1", "in_M1", "in_M2"]
    assert events[0]["id"] == events[1]["id"]
    for headers, body in receiver.received:
        provider.construct_webhook_event(body, headers["Stripe-Signature"])


def test_drop_mode_loses_one_event_that_the_events_api_still_lists(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/webhooks/mode", {"mode": "drop_next"})
    _pay(provider, cus, "in_M3")
    _pay(provider, cus, "in_M4")
    assert standin.webhooks.wait_idle()
    assert [_invoice_of(e) for e in receiver.events()] == ["in_M4"]
    deliveries = control(standin, "GET", "/_standin/webhooks")["deliveries"]
    assert [d["status"] for d in deliveries] == ["dropped", 200]
    listed = requests.get(
        standin.url + "/v1/events", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    ).json()
    assert [_invoice_of(e) for e in listed["data"]] == ["in_M4", "in_M3"]  # newest first, like Stripe


def test_reorder_mode_swaps_the_next_two(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/webhooks/mode", {"mode": "reorder_next_two"})
    _pay(provider, cus, "in_M5")
    _pay(provider, cus, "in_M6")
    _pay(provider, cus, "in_M7")
    assert standin.webhooks.wait_idle()
    assert [_invoice_of(e) for e in receiver.events()] == ["in_M6", "in_M5", "in_M7"]


def test_delay_mode_holds_events_back(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    control(standin, "POST", "/_standin/webhooks/mode", {"mode": "delay", "seconds": 0.8})
    began = time.monotonic()
    _pay(provider, cus, "in_M8")
    time.sleep(0.3)
    assert receiver.received == []
    wait_for(lambda: len(receiver.received) == 1)
    assert time.monotonic() - began >= 0.75
    control(standin, "POST", "/_standin/webhooks/mode", {"mode": "normal"})


def test_failed_deliveries_are_retried(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider)
    receiver.status = 500
    _pay(provider, cus, "in_M9")
    wait_for(lambda: len(receiver.received) == 1)
    receiver.status = 200
    wait_for(lambda: len(receiver.received) == 2)

    def statuses() -> list[int]:
        return [d["status"] for d in control(standin, "GET", "/_standin/webhooks")["deliveries"]]

    # The stand-in records a delivery once the receiver's response is back, a moment
    # after the receiver has counted the request: wait for the record, not the count.
    wait_for(lambda: len(statuses()) == 2)
    assert statuses() == [500, 200]


def test_disputes_send_created_and_closed(
    provider: StripeProvider, standin: StandinServer, receiver: Receiver
) -> None:
    cus = customer_with_card(provider, card="pm_card_createDispute")
    pi = _pay(provider, cus, "in_X1")
    wait_for(lambda: "charge.dispute.created" in receiver.types())
    dispute = next(e for e in receiver.events() if e["type"] == "charge.dispute.created")["data"]["object"]
    assert (dispute["payment_intent"], dispute["reason"], dispute["status"]) == (
        pi,
        "fraudulent",
        "needs_response",
    )
    closed = control(standin, "POST", f"/_standin/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert closed["status"] == "lost"
    wait_for(lambda: "charge.dispute.closed" in receiver.types())
    # the helper opens one on any paid charge too
    paid = provider.charge(
        invoice_id="in_X2",
        attempt=1,
        amount=1000,
        currency="usd",
        provider_customer_id=cus,
        payment_method_id="pm_card_visa",
    )
    other = paid.provider_payment_id
    opened = control(
        standin, "POST", "/_standin/disputes", {"payment_intent": other, "reason": "product_not_received"}
    )
    assert opened["reason"] == "product_not_received"
    wait_for(lambda: receiver.types().count("charge.dispute.created") == 2)


# ------------------------------------------------------------------------------- Stripe's wire rules
def test_stripe_conventions_on_the_wire(standin: StandinServer) -> None:
    url = standin.url + "/v1/customers"
    no_key = requests.post(url, data={"email": "a@b.c"}, timeout=10)
    assert no_key.status_code == 401 and "API key" in no_key.json()["error"]["message"]
    live = requests.post(
        url, data={"email": "a@b.c"}, headers={"Authorization": "Bearer sk_live_nope"}, timeout=10
    )
    assert live.status_code == 401
    auth = {"Authorization": f"Bearer {API_KEY}"}
    basic = requests.get(url, auth=(API_KEY, ""), timeout=10)
    assert basic.status_code == 200 and basic.json()["object"] == "list"
    made = requests.post(
        url,
        data={"email": "a@b.c", "metadata[customer_id]": "c1"},
        headers={**auth, "Idempotency-Key": "k1"},
        timeout=10,
    )
    body = made.json()
    assert made.status_code == 200 and body["object"] == "customer" and body["livemode"] is False
    assert body["metadata"] == {"customer_id": "c1"} and isinstance(body["created"], int)
    assert made.headers["Request-Id"].startswith("req_")
    replay = requests.post(
        url,
        data={"email": "a@b.c", "metadata[customer_id]": "c1"},
        headers={**auth, "Idempotency-Key": "k1"},
        timeout=10,
    )
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json()["id"] == body["id"]
    clash = requests.post(url, data={"email": "x@b.c"}, headers={**auth, "Idempotency-Key": "k1"}, timeout=10)
    assert clash.status_code == 400 and clash.json()["error"]["type"] == "idempotency_error"
    missing = requests.get(url + "/cus_missing", headers=auth, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    bad = requests.post(
        standin.url + "/v1/payment_intents", data={"currency": "usd"}, headers=auth, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error"] == {
        "type": "invalid_request_error",
        "message": "Missing required param: amount.",
        "code": "parameter_missing",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
        "param": "amount",
    }
    declined = requests.post(
        standin.url + "/v1/payment_intents",
        data={
            "amount": "1000",
            "currency": "usd",
            "payment_method": "pm_card_visa_chargeDeclined",
            "confirm": "true",
            "automatic_payment_methods[enabled]": "true",
            "automatic_payment_methods[allow_redirects]": "never",
        },
        headers=auth,
        timeout=10,
    )
    error = declined.json()["error"]
    assert declined.status_code == 402
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["payment_intent"]["status"] == "requires_payment_method"
    needs_return_url = requests.post(
        standin.url + "/v1/payment_intents",
        data={"amount": "1000", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"},
        headers=auth,
        timeout=10,
    )
    assert needs_return_url.status_code == 400 and needs_return_url.json()["error"]["param"] == "return_url"


def test_state_file_survives_a_restart(tmp_path: Any) -> None:
    state = tmp_path / "stripe.json"
    first = start(0, state_file=str(state))
    provider = make_provider(first)
    cus = customer_with_card(provider)
    paid = provider.charge(
        invoice_id="in_S1", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
    )
    first.stop()
    second = start(0, state_file=str(state))
    try:
        provider = make_provider(second)
        again = provider.charge(
            invoice_id="in_S1", attempt=1, amount=1000, currency="usd", provider_customer_id=cus
        )
        assert again.replayed and again.provider_payment_id == paid.provider_payment_id
        assert len(charges_for(second, "in_S1")) == 1
    finally:
        second.stop()


def test_command_line_entry_point(tmp_path: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.stripe_standin",
            "--port",
            str(port),
            "--webhook-url",
            "http://127.0.0.1:9/x",
            "--webhook-secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        info = requests.get(f"http://127.0.0.1:{port}/_standin", timeout=10).json()
        assert "pm_card_visa" in info["test_payment_methods"]
        assert "POST /v1/payment_intents" in info["calls"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
