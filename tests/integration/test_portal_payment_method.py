"""Replacing the card from the customer portal: Checkout in setup mode, applied on the customer's return
and on the ``checkout.session.completed`` webhook, once, and never over a newer card.

The real stripe SDK against the stand-in attaches the cards and makes them the default. Checkout in
setup mode itself (``create_setup_checkout_session``, ``retrieve_checkout_session``) is the Pay flow's
addition to the adapter and the stand-in, not on this branch yet: ``SetupCheckouts`` below plays those
two calls (a session, then the card the customer saved on it, created at the stand-in) and is to be
replaced by the real adapter once it lands (docs/customers-portal.md, "Replacing the card").
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from billing.payments.models import CheckoutLink, PaymentMethodInfo, WebhookEvent
from tests.integration.invoice_helpers import get_customer
from tests.integration.test_payments_collection import customer_with_card, standin  # noqa: F401 - fixture
from tests.integration.test_portal import changes_of, csrf_of, open_session, page, path_of, post_form

pytestmark = pytest.mark.integration


@dataclass
class Session:
    id: str
    provider_customer_id: str
    mode: str = "setup"
    status: str = "open"
    setup_payment_method: PaymentMethodInfo | None = None


class SetupCheckouts:
    """The real provider, plus Checkout in setup mode played on top of the stand-in (see the module)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.sessions: dict[str, Session] = {}
        self.created: list[dict[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_setup_checkout_session(
        self, *, provider_customer_id: str, success_url: str, cancel_url: str
    ) -> CheckoutLink:
        session_id = "cs_test_" + secrets.token_hex(12)
        self.sessions[session_id] = Session(id=session_id, provider_customer_id=provider_customer_id)
        self.created.append({"success_url": success_url, "cancel_url": cancel_url})
        return CheckoutLink(session_id=session_id, url=f"https://checkout.stripe.com/c/pay/{session_id}")

    def retrieve_checkout_session(self, *, session_id: str) -> Session:
        return self.sessions[session_id]

    def save_card(self, session_id: str, card: str) -> PaymentMethodInfo:
        """The customer enters ``card`` on the Checkout page: Stripe saves it to the customer."""
        session = self.sessions[session_id]
        saved = self._real.attach_payment_method(
            provider_customer_id=session.provider_customer_id, payment_method_id=card, make_default=False
        )
        session.status, session.setup_payment_method = "complete", saved
        return saved


@pytest.fixture
def checkouts(standin, call, monkeypatch):  # noqa: F811 - the stand-in fixture
    from billing.payments import get_payment_provider

    call("GET", "/p/" + "A" * 43)  # loads customer_pages (its routes build their dependencies once)
    routes = sys.modules["customer_pages_routes.portal"]
    fake = SetupCheckouts(get_payment_provider())
    monkeypatch.setattr(routes.deps(), "provider", lambda: fake)
    return fake


def webhook(checkouts: SetupCheckouts, session_id: str, app_env: dict[str, str]) -> str:
    """The ``checkout.session.completed`` event of a setup session, through the payment events' dispatch."""
    from datetime import UTC, datetime

    from billing.repositories.customers import CustomerRepository
    from billing.repositories.invoices import InvoiceRepository
    from billing.repositories.payments import PaymentRepository
    from billing.services.collection import Collection
    from billing.services.dunning import dunning_from_settings
    from billing.services.payment_events import apply_event
    from billing.settings import get_settings

    table = app_env["BILLING_TABLE"]
    deps = Collection(
        invoices=InvoiceRepository(table_name=table),
        customers=CustomerRepository(table_name=table),
        payments=PaymentRepository(table_name=table),
        provider=checkouts,  # type: ignore[arg-type]
        dunning=dunning_from_settings(get_settings()),
    )
    session = checkouts.sessions[session_id]
    event = WebhookEvent(
        id="evt_" + secrets.token_hex(8),
        type="checkout.session.completed",
        livemode=False,
        created=datetime.now(UTC),
        data_object={"id": session_id, "object": "checkout.session", "mode": "setup", "status": session.status,
                     "customer": session.provider_customer_id, "payment_status": "no_payment_required"},
    )  # fmt: skip
    return apply_event(deps, event)


def start(call, base: str) -> str:
    """Click "Replace card": the session the portal started (303 to Checkout)."""
    status, _, html = page(call, base)
    assert status == 200 and "Replace card" in html
    status, headers, _ = post_form(call, f"{base}/payment-method", {"csrf_token": csrf_of(html)})
    assert status == 303 and headers["location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    return headers["location"].rsplit("/", 1)[1]


def test_the_customer_replaces_its_card_and_the_webhook_after_changes_nothing(
    call, admin_key, app_env, checkouts
):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    session = open_session(call, admin_key, customer["id"])
    base = path_of(session)
    assert "Visa •••• 4242" in page(call, base)[2]

    checkout = start(call, base)
    (created,) = checkouts.created
    assert (
        created["success_url"]
        == f"https://billing.example.com{base}/payment-method/done?checkout={{CHECKOUT_SESSION_ID}}"
    )
    assert created["cancel_url"] == f"https://billing.example.com{base}?notice=card_canceled"

    # Back before Checkout finished: nothing changes yet.
    status, headers, _ = page(call, f"{base}/payment-method/done", checkout=checkout)
    assert status == 303 and headers["location"] == f"{base}?notice=card_pending"

    saved = checkouts.save_card(checkout, "pm_card_mastercard")
    status, headers, _ = page(call, f"{base}/payment-method/done", checkout=checkout)
    assert status == 303 and headers["location"] == f"{base}?notice=card_saved"
    status, _, html = page(call, base, notice="card_saved")
    assert "Mastercard •••• 4444" in html and "Your new card is saved." in html
    stored = get_customer(call, admin_key, customer["id"])

    # At the provider the new card is the default too (the collector charges it off-session).
    provider_customer = checkouts._real.client.v1.customers.retrieve(saved.provider_customer_id)
    assert provider_customer["invoice_settings"]["default_payment_method"] == saved.id

    # Audited: the portal session changed the card.
    entry = changes_of(call, admin_key, customer["id"])[0]
    assert (entry["source"], entry["actor"]) == ("portal", session["id"])
    assert entry["changes"]["default_payment_method"]["to"] == saved.id
    assert entry["changes"]["payment_method_brand"] == {"from": "visa", "to": "mastercard"}

    # The webhook comes after the return (or twice): nothing more is written.
    assert webhook(checkouts, checkout, app_env) == "unchanged"
    assert webhook(checkouts, checkout, app_env) == "unchanged"
    assert (
        page(call, f"{base}/payment-method/done", checkout=checkout)[1]["location"]
        == f"{base}?notice=card_saved"
    )
    assert get_customer(call, admin_key, customer["id"])["version"] == stored["version"]


def test_the_webhook_first_then_the_return(call, admin_key, app_env, checkouts):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    checkout = start(call, base)
    checkouts.save_card(checkout, "pm_card_amex")
    assert webhook(checkouts, checkout, app_env) == "applied"
    version = get_customer(call, admin_key, customer["id"])["version"]
    _, headers, _ = page(call, f"{base}/payment-method/done", checkout=checkout)
    assert headers["location"] == f"{base}?notice=card_saved"
    assert "American Express •••• 8431" in page(call, base)[2]
    assert get_customer(call, admin_key, customer["id"])["version"] == version


def test_a_late_card_never_replaces_a_newer_one(call, admin_key, app_env, checkouts):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    older = start(call, base)
    # Meanwhile the business attaches another card through the API.
    status, _, _ = call(
        "POST", f"/v1/customers/{customer['id']}/payment-methods", key=admin_key,
        json_body={"payment_method": "pm_card_mastercard"},
    )  # fmt: skip
    assert status == 201
    stored = get_customer(call, admin_key, customer["id"])
    checkouts.save_card(older, "pm_card_amex")
    assert webhook(checkouts, older, app_env) == "unchanged"  # superseded: acknowledged, nothing applied
    _, headers, _ = page(call, f"{base}/payment-method/done", checkout=older)
    assert headers["location"] == f"{base}?notice=card_superseded"
    html = page(call, base, notice="card_superseded")[2]
    assert "Mastercard •••• 4444" in html and "American Express" not in html
    assert "Another payment method was saved after this one" in html
    assert get_customer(call, admin_key, customer["id"])["version"] == stored["version"]


def test_sessions_the_portal_did_not_start_are_ignored_and_forms_need_the_token(
    call, admin_key, app_env, checkouts
):
    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    status, _, _ = post_form(call, f"{base}/payment-method", {"csrf_token": "nope"})
    assert status == 403 and not checkouts.created
    # A Checkout Session started elsewhere (another integration on the same Stripe account).
    link = checkouts.create_setup_checkout_session(
        provider_customer_id="cus_elsewhere",
        success_url="https://elsewhere.example/ok", cancel_url="https://elsewhere.example/no",
    )  # fmt: skip
    assert webhook(checkouts, link.session_id, app_env) == "ignored"
    # Another customer's return link does not apply this customer's session.
    other = customer_with_card(call, admin_key, "pm_card_visa")
    other_base = path_of(open_session(call, admin_key, other["id"]))
    mine = start(call, base)
    checkouts.save_card(mine, "pm_card_mastercard")
    status, headers, _ = page(call, f"{other_base}/payment-method/done", checkout=mine)
    assert status == 303 and headers["location"] == other_base
    assert "Visa •••• 4242" in page(call, base)[2]
    assert urlsplit(headers["location"]).path == other_base


def test_a_provider_outage_is_a_try_again_page(call, admin_key, checkouts, monkeypatch):
    from billing.errors import ProviderUnavailable

    def down(**_: Any) -> CheckoutLink:
        raise ProviderUnavailable("stripe is down")

    customer = customer_with_card(call, admin_key, "pm_card_visa")
    base = path_of(open_session(call, admin_key, customer["id"]))
    status, _, html = page(call, base)
    monkeypatch.setattr(checkouts, "create_setup_checkout_session", down)
    status, headers, html = post_form(call, f"{base}/payment-method", {"csrf_token": csrf_of(html)})
    assert status == 503 and headers["content-type"].startswith("text/html")
    assert "try again in a few minutes" in html and "stripe" not in html.lower()
