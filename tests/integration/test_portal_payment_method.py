"""Replacing the card from the customer portal: Checkout in setup mode on the Stripe stand-in (the real
stripe SDK through the adapter), applied on the customer's return and on the ``checkout.session.completed``
webhook (signed, through stripe_webhook and reconciliation), once, and never over a newer card."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.payflow_helpers import pay_on_checkout, standin_env
from tests.integration.test_payment_webhooks import SECRET, deliver_and_apply, stripe_events
from tests.integration.test_payments_collection import customer_with_card
from tests.integration.test_portal import changes_of, csrf_of, open_session, page, path_of, post_form

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(app_env: dict[str, str]) -> Iterator[Any]:
    with standin_env(SECRET) as server:
        yield server


def provider() -> Any:
    from billing.payments import get_payment_provider

    return get_payment_provider()


def completed_event(standin: Any, session_id: str) -> dict[str, Any]:
    for event in stripe_events(standin, type="checkout.session.completed"):
        if event["data"]["object"]["id"] == session_id:
            return event
    raise AssertionError(f"no checkout.session.completed for {session_id}")


def webhook(call: Any, app_env: dict[str, str], standin: Any, session_id: str) -> None:
    """The stand-in's ``checkout.session.completed`` of the session, signed, through the webhook
    function, then applied by the reconciliation function."""
    assert deliver_and_apply(call, app_env, [completed_event(standin, session_id)]) == [False]


def save_card_on_checkout(location: str, card: str) -> str:
    """The customer saves ``card`` on the Checkout page; Checkout sends it back: the path it returns to."""
    answer = pay_on_checkout(location, payment_method=card)
    assert answer.status_code == 303, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.netloc == "billing.example.com"
    return f"{back.path}?{back.query}"


def start(call, base: str, standin: Any) -> str:
    """Click "Replace card": 303 to the stand-in's Checkout page (setup mode) of a new session."""
    status, _, html = page(call, base)
    assert status == 200 and "Replace card" in html
    status, headers, _ = post_form(call, f"{base}/payment-method", {"csrf_token": csrf_of(html)})
    assert status == 303 and headers["location"].startswith(f"{standin.url}/c/pay/cs_test_")
    return str(headers["location"])


def session_of(location: str) -> str:
    return location.rsplit("/", 1)[1]


def stored_customer(app_env: dict[str, str], customer_id: str) -> Any:
    from billing.repositories.customers import CustomerRepository

    return CustomerRepository(table_name=app_env["BILLING_TABLE"]).get(customer_id)


def test_the_customer_replaces_its_card_and_the_webhook_after_changes_nothing(
    call, admin_key, app_env, standin
):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    session = open_session(call, admin_key, customer["id"])
    base = path_of(session)
    assert "Visa •••• 4242" in page(call, base)[2]

    location = start(call, base, standin)
    checkout = session_of(location)
    found = provider().retrieve_checkout_session(session_id=checkout)
    assert (found.mode, found.status) == ("setup", "open")
    assert found.provider_customer_id == stored_customer(app_env, customer["id"]).provider_customer_id

    # Back before Checkout finished (a tab left open): nothing changes yet.
    status, headers, _ = page(call, f"{base}/payment-method/done", checkout=checkout)
    assert status == 303 and headers["location"] == f"{base}?notice=card_pending"

    back = save_card_on_checkout(location, "pm_card_mastercard")
    assert back == f"{base}/payment-method/done?checkout={checkout}"
    status, headers, _ = call("GET", back)
    assert status == 303 and headers["location"] == f"{base}?notice=card_saved"
    status, _, html = page(call, base, notice="card_saved")
    assert "Mastercard •••• 4444" in html and "Your new card is saved." in html
    stored = stored_customer(app_env, customer["id"])

    # At the provider the new card is the default too (the collector charges it off-session).
    at_stripe = provider().client.v1.customers.retrieve(stored.provider_customer_id)
    assert at_stripe["invoice_settings"]["default_payment_method"] == stored.default_payment_method

    # Audited: the portal session changed the card.
    entry = changes_of(call, admin_key, customer["id"])[0]
    assert (entry["source"], entry["actor"]) == ("portal", session["id"])
    assert entry["changes"]["default_payment_method"]["to"] == stored.default_payment_method
    assert entry["changes"]["payment_method_brand"] == {"from": "visa", "to": "mastercard"}

    # The webhook comes after the return: nothing more is written; a second return neither.
    webhook(call, app_env, standin, checkout)
    assert call("GET", back)[1]["location"] == f"{base}?notice=card_saved"
    assert stored_customer(app_env, customer["id"]).version == stored.version


def test_the_webhook_first_then_the_return(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    location = start(call, base, standin)
    back = save_card_on_checkout(location, "pm_card_amex")
    webhook(call, app_env, standin, session_of(location))
    assert "American Express •••• 8431" in page(call, base)[2]
    version = stored_customer(app_env, customer["id"]).version
    assert call("GET", back)[1]["location"] == f"{base}?notice=card_saved"
    assert stored_customer(app_env, customer["id"]).version == version


def test_a_late_card_never_replaces_a_newer_one(call, admin_key, app_env, standin):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    older = start(call, base, standin)
    # Meanwhile the business attaches another card through the API.
    status, _, _ = call(
        "POST", f"/v1/customers/{customer['id']}/payment-methods", key=admin_key,
        json_body={"payment_method": "pm_card_mastercard"},
    )  # fmt: skip
    assert status == 201
    version = stored_customer(app_env, customer["id"]).version
    back = save_card_on_checkout(older, "pm_card_amex")
    webhook(call, app_env, standin, session_of(older))  # superseded: acknowledged, nothing applied
    assert call("GET", back)[1]["location"] == f"{base}?notice=card_superseded"
    html = page(call, base, notice="card_superseded")[2]
    assert "Mastercard •••• 4444" in html and "American Express" not in html
    assert "Another payment method was saved after this one" in html
    assert stored_customer(app_env, customer["id"]).version == version


def test_sessions_the_portal_did_not_start_are_ignored_and_forms_need_the_token(
    call, admin_key, app_env, standin
):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    status, _, _ = post_form(call, f"{base}/payment-method", {"csrf_token": "nope"})
    assert status == 403
    version = stored_customer(app_env, customer["id"]).version
    # A setup session started elsewhere (another integration on the same Stripe account) for this customer.
    link = provider().create_setup_checkout_session(
        provider_customer_id=stored_customer(app_env, customer["id"]).provider_customer_id,
        success_url="https://elsewhere.example/ok", cancel_url="https://elsewhere.example/no",
    )  # fmt: skip
    pay_on_checkout(link.url, payment_method="pm_card_amex")
    webhook(call, app_env, standin, link.session_id)
    assert stored_customer(app_env, customer["id"]).version == version
    # Another customer's portal does not apply this customer's session on return.
    other = customer_with_card(call, admin_key, "pm_card_visa")
    other_base = path_of(open_session(call, admin_key, other["id"]))
    mine = start(call, base, standin)
    save_card_on_checkout(mine, "pm_card_mastercard")
    status, headers, _ = page(call, f"{other_base}/payment-method/done", checkout=session_of(mine))
    assert status == 303 and headers["location"] == other_base
    assert "Visa •••• 4242" in page(call, base)[2]


def test_a_provider_outage_is_a_try_again_page(call, admin_key, standin, monkeypatch):
    import billing.payments
    from billing.errors import ProviderUnavailable

    real = provider()

    class Down:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def create_setup_checkout_session(self, **_: Any) -> Any:
            raise ProviderUnavailable("stripe is down")

    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    html = page(call, base)[2]
    monkeypatch.setattr(billing.payments, "get_payment_provider", Down)
    status, headers, html = post_form(call, f"{base}/payment-method", {"csrf_token": csrf_of(html)})
    assert status == 503 and headers["content-type"].startswith("text/html")
    assert "try again in a few minutes" in html and "stripe" not in html.lower()
