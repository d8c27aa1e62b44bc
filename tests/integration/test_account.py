"""/v1/account: who bills, validated, audited, frozen on invoices; no invoice without it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import TEST_SELLER
from tests.integration.invoice_helpers import make_customer, one_off

pytestmark = pytest.mark.integration


@pytest.fixture
def restore_seller(call: Any, admin_key: str) -> Iterator[None]:
    """Other tests issue invoices: the session's seller is put back whatever a test changed."""
    yield
    reset = {**TEST_SELLER, "logo_url": None, "default_locale": None, "brand_color": None, "tax_ids": None}
    status, _, body = call("PATCH", "/v1/account", key=admin_key, json_body=reset)
    assert status == 200 and body["ready_to_invoice"], body


def key_with_role(call: Any, admin_key: str, role: str) -> str:
    status, _, created = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": role, "role": role})
    assert status == 201, created
    return str(created["key"])


def test_the_account_is_read_and_changed_by_admins_only(call, admin_key, restore_seller):
    status, _, account = call("GET", "/v1/account", key=admin_key)
    assert status == 200
    assert account["object"] == "account" and account["legal_name"] == "Test Seller Inc."
    assert account["ready_to_invoice"] is True and account["missing"] == []
    assert account["country"] == "US"  # the SellerCountry parameter, read-only

    billing = key_with_role(call, admin_key, "billing")
    assert call("GET", "/v1/account", key=billing)[2]["error"]["code"] == "insufficient_role"
    assert call("PATCH", "/v1/account", key=billing, json_body={"legal_name": "X"})[0] == 403

    change = {
        "legal_name": "  Test   Seller Inc. ",
        "support_phone": "+1 415 555 0100",
        "logo_url": "https://cdn.seller.example/logo.png",
        "brand_color": "#0f766e",
        "payment_instructions": "Wire to ACME Bank, account 123, routing 021000021.",
        "invoice_footer": "Test Seller Inc., Delaware corporation",
        "default_locale": "sv-SE",
        "tax_ids": [{"type": "us_ein", "value": "12-3456789"}],
    }
    status, _, updated = call("PATCH", "/v1/account", key=admin_key, json_body=change)
    assert status == 200, updated
    assert updated["legal_name"] == "Test Seller Inc."  # whitespace folded: unchanged
    assert (updated["brand_color"], updated["default_locale"]) == ("#0F766E", "sv_SE")
    assert updated["version"] > account["version"]

    _, _, changes = call("GET", "/v1/account/changes?limit=1", key=admin_key)
    (last,) = changes["data"]
    assert last["version"] == updated["version"] and last["actor"].startswith("")
    assert last["changes"]["brand_color"] == {"from": account["brand_color"], "to": "#0F766E"}
    assert "legal_name" not in last["changes"]
    # The same change again changes nothing and records nothing.
    again = call("PATCH", "/v1/account", key=admin_key, json_body=change)[2]
    assert again["version"] == updated["version"]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"logo_url": "http://cdn.example/logo.png"}, "invalid_url", "logo_url"),
        ({"logo_url": "javascript:alert(1)"}, "invalid_url", "logo_url"),
        ({"default_locale": "klingon"}, "unknown_locale", "default_locale"),
        ({"default_locale": "it"}, "unknown_locale", "default_locale"),  # no catalog
        ({"brand_color": "#12345G"}, "invalid_color", "brand_color"),
        ({"brand_color": "red; background: url(x)"}, "too_long", "brand_color"),
        ({"support_email": "not-an-email"}, "invalid_email", "support_email"),
        ({"support_phone": "call me"}, "invalid_phone", "support_phone"),
        ({"address": {"line1": "1 rue de la Paix", "city": "Paris", "country": "FR"}},
         "seller_country_mismatch", "address.country"),
        ({"address": {"line1": "1 Market Street", "country": "US", "state": "CA"}}, "missing_field", "address.city"),
        ({"tax_ids": [{"type": "eu_vat", "value": "FR000"}]}, "invalid_tax_id", "tax_ids.0.value"),
        ({"legal_name": "   "}, "too_short", "legal_name"),
        ({"company_name": "typo"}, "unknown_field", "company_name"),
    ],
)  # fmt: skip
def test_bad_settings_get_a_4xx_naming_the_field(call, admin_key, body, code, param):
    before = call("GET", "/v1/account", key=admin_key)[2]
    status, _, error = call("PATCH", "/v1/account", key=admin_key, json_body=body)
    assert status == 422, error
    assert (error["error"]["code"], error["error"]["param"]) == (code, param)
    assert call("GET", "/v1/account", key=admin_key)[2] == before  # nothing half-written


def test_a_cleared_legal_name_falls_back_to_the_deployments_default(call, admin_key, app_env, restore_seller):
    default = app_env["BILLING_SELLER_LEGAL_NAME"]  # the SellerLegalName parameter
    status, _, account = call("PATCH", "/v1/account", key=admin_key, json_body={"legal_name": None})
    assert status == 200 and account["legal_name"] == default and account["ready_to_invoice"]


def test_no_invoice_is_issued_while_the_seller_has_no_address(call, admin_key, restore_seller):
    customer = make_customer(call, admin_key)
    assert call("PATCH", "/v1/account", key=admin_key, json_body={"address": None})[2]["missing"] == [
        "address"
    ]
    held = one_off(call, admin_key, customer, auto_finalize=True)
    assert held["status"] == "draft"
    (reason,) = held["hold_reasons"]
    assert reason["code"] == "missing_seller_identity" and "PATCH /v1/account" in reason["message"]

    call("PATCH", "/v1/account", key=admin_key, json_body={"address": TEST_SELLER["address"]})
    status, _, issued = call("POST", f"/v1/invoices/{held['id']}/finalize", key=admin_key)
    assert status == 200 and issued["status"] == "open", issued


def test_an_issued_invoice_keeps_the_seller_it_was_issued_by(call, admin_key, restore_seller):
    customer = make_customer(call, admin_key)
    invoice = one_off(call, admin_key, customer, auto_finalize=True)
    call("PATCH", "/v1/account", key=admin_key, json_body={"legal_name": "Renamed Holdings Inc."})
    page = call("GET", invoice["hosted_invoice_url"].split("example.com", 1)[1])[2]
    assert "Test Seller Inc." in page and "Renamed Holdings Inc." not in page
    later = one_off(call, admin_key, customer, auto_finalize=True)
    assert "Renamed Holdings Inc." in call("GET", later["hosted_invoice_url"].split("example.com", 1)[1])[2]


def test_customers_preferred_locales_are_checked_and_pick_the_documents_language(call, admin_key):
    status, _, error = call(
        "POST", "/v1/customers", key=admin_key,
        json_body={"name": "X", "currency": "usd", "preferred_locales": ["sv", "xx-YY"]},
    )  # fmt: skip
    assert status == 422
    assert (error["error"]["code"], error["error"]["param"]) == ("unknown_locale", "preferred_locales.1")
    customer = make_customer(call, admin_key, preferred_locales=["sv-SE", "en"])
    assert customer["preferred_locales"] == ["sv_SE", "en"] and customer["locale"] is None
    invoice = one_off(call, admin_key, customer, auto_finalize=True)
    page = call("GET", invoice["hosted_invoice_url"].split("example.com", 1)[1])[2]
    assert '<html lang="sv">' in page
