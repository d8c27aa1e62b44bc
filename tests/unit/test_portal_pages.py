"""The customer portal's pure parts: tokens, return URLs, form checks, what the pages show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing import i18n
from billing.errors import Conflict, ValidationFailed
from billing.models.account import AccountSettings
from billing.models.customers import Address, Customer
from billing.models.invoices import CreditNote, Invoice
from billing.portal import sessions, views

_ = i18n.gettext_for("en")
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def customer(**fields) -> Customer:
    return Customer(
        id="cus_0123456789abcdef", name="Globex", currency="usd", invoice_prefix="GLOBEX",
        created_at=NOW, updated_at=NOW, **fields,
    )  # fmt: skip


def invoice(**fields) -> Invoice:
    base = {
        "id": "in_1", "customer_id": "cus_0123456789abcdef", "number": "GLOBEX-0001", "status": "open",
        "currency": "usd", "billing_date": NOW, "lines": [], "subtotal": 10000, "total": 10000,
        "amount_due": 10000, "amount_remaining": 10000, "created_at": NOW, "updated_at": NOW,
        "finalized_at": NOW, "due_date": NOW + timedelta(days=14),
    }  # fmt: skip
    return Invoice.model_validate({**base, **fields})


# --------------------------------------------------------------------------- tokens and links


def test_tokens_are_256_bits_url_safe_and_stored_as_a_hash():
    tokens = {sessions.new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(sessions.is_token(t) for t in tokens)
    token = tokens.pop()
    assert len(token) == 43  # 32 bytes in base64url without padding
    assert sessions.token_hash(token) != token and len(sessions.token_hash(token)) == 64
    assert sessions.token_hash(token) == sessions.token_hash(token)
    assert not sessions.is_token("A" * 42) and not sessions.is_token("A" * 42 + "/")
    assert (
        sessions.portal_url("https://billing.example.com/", token) == f"https://billing.example.com/p/{token}"
    )
    assert sessions.new_session_id().startswith("bps_") and len(sessions.new_session_id()) == 28


@pytest.mark.parametrize(
    "url",
    ["https://seller.example/account", "https://seller.example:8443/a?b=c#d", "http://localhost:3000/back",
     "http://127.0.0.1/x", "http://[::1]:8080/", "http://app.localhost/"],
)  # fmt: skip
def test_return_urls_accepted(url):
    assert sessions.check_return_url(f"  {url} ") == url


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "http://seller.example/", "/account", "//seller.example/", "https://", "ftp://x.example",
     "https://user:pw@seller.example/", "https://seller.example/a b", "https://seller.example/\x00",
     "https://seller.example:99999/", "data:text/html,hi", "https://" + "a" * 2050 + ".example"],
)  # fmt: skip
def test_return_urls_refused(url):
    with pytest.raises(ValidationFailed) as refused:
        sessions.check_return_url(url)
    assert (refused.value.code, refused.value.param) == ("invalid_return_url", "return_url")


def test_locales_are_those_the_portal_is_written_in():
    assert sessions.check_locale("sv") == "sv"
    assert sessions.check_locale("de-CH") == "de_CH"
    for bad in ("xx", "it", "english", ""):
        with pytest.raises(ValidationFailed):
            sessions.check_locale(bad)


# --------------------------------------------------------------------------- form checks


@pytest.mark.parametrize(
    ("origin", "referer", "expected"),
    [
        ("https://billing.example.com", None, True),  # the public URL
        ("http://127.0.0.1:3000", None, True),  # the host the request came to
        (None, "https://billing.example.com/p/abc/billing-details", True),
        (None, None, True),  # neither header: the CSRF token decides
        ("https://attacker.example", None, False),
        ("https://attacker.example", "https://billing.example.com/p/x", False),  # Origin wins
        ("null", None, False),  # sandboxed frames, data: URLs
        (None, "https://billing.example.com.attacker.example/", False),
        ("https://BILLING.example.com", None, True),
    ],
)
def test_same_site(origin, referer, expected):
    assert (
        sessions.same_site(
            origin=origin, referer=referer, host="127.0.0.1:3000", public_url="https://billing.example.com"
        )
        is expected
    )


def test_csrf_tokens_compare_exactly():
    token = sessions.new_csrf_token()
    assert sessions.csrf_matches(token, token)
    assert not sessions.csrf_matches(token, None)
    assert not sessions.csrf_matches(token, token[:-1])
    assert not sessions.csrf_matches(token, sessions.new_csrf_token())


# --------------------------------------------------------------------------- the billing details form


def form(**fields: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in fields.items()}


def test_the_form_reads_emails_address_and_tax_ids():
    values, changes = views.read_details_form(
        form(
            emails=" a@x.example\r\nb@x.example, c@x.example ",
            **{"address.line1": " 1 Main St ", "address.country": "US", "address.state": "NY", "version": "3"},
            **{"tax_ids.0.type": "eu_vat", "tax_ids.0.value": "DE123", "tax_ids.2.type": "gb_vat", "tax_ids.2.value": "GB1"},
        )
    )  # fmt: skip
    assert changes["emails"] == ["a@x.example", "b@x.example", "c@x.example"]
    assert changes["address"] == {
        "line1": "1 Main St", "line2": None, "postal_code": None, "city": None, "state": "NY", "country": "US"
    }  # fmt: skip
    assert changes["tax_ids"] == [{"type": "eu_vat", "value": "DE123"}, {"type": "gb_vat", "value": "GB1"}]
    assert values["version"] == "3" and values["tax_ids"][1] == {"type": "gb_vat", "value": "GB1"}


def test_an_empty_address_clears_it_and_a_partial_one_needs_a_country():
    _, changes = views.read_details_form(form(emails=""))
    assert changes == {"emails": [], "tax_ids": [], "address": None}
    with pytest.raises(ValidationFailed) as refused:
        views.read_details_form(form(**{"address.city": "Berlin"}))
    assert refused.value.param == "address.country"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"address.line1": "x" * 201, "address.country": "US"}, "address.line1"),
        ({"tax_ids.0.value": "DE123"}, "tax_ids.0.type"),
        ({"tax_ids.0.type": "xx_vat", "tax_ids.0.value": "1"}, "tax_ids.0.type"),
        ({"tax_ids.0.type": "eu_vat"}, "tax_ids.0.value"),
    ],
)
def test_what_the_form_itself_refuses(fields, param):
    with pytest.raises(ValidationFailed) as refused:
        views.read_details_form(form(**fields))
    assert refused.value.param == param


@pytest.mark.parametrize(
    ("param", "field"),
    [("emails.3", "emails"), ("emails", "emails"), ("address.state", "address.state"),
     ("address.country", "address.country"), ("tax_ids.2.value", "tax_ids.2"), ("tax_ids", "tax_ids.0"),
     ("name", ""), (None, ""), ("address", "")],
)  # fmt: skip
def test_service_errors_land_on_their_field(param, field):
    assert views.field_of(param) == field


def test_errors_read_for_customers_not_developers():
    field, message = views.field_error(
        ValidationFailed(
            "a Canadian address needs its province", code="missing_field", param="address.state"
        ),
        _,
    )
    assert (field, message) == ("address.state", "Enter the state or province: its sales tax depends on it.")
    field, message = views.field_error(ValidationFailed("x", code="tax_id_required", param="tax_ids"), _)
    assert field == "tax_ids.0" and "VAT number" in message
    field, message = views.field_error(Conflict("x", code="concurrent_update", param="version"), _)
    assert field == "" and "changed meanwhile" in message
    assert views.field_error(ValidationFailed("x", code="something_new", param="emails.0"), _) == (
        "emails",
        "Check this field.",
    )


# --------------------------------------------------------------------------- what the pages show


def test_invoice_rows_say_overdue_and_what_is_left_to_pay():
    zone = ZoneInfo("UTC")
    row = views.invoice_row(invoice(), base="/p/t", now=NOW, locale="en", zone=zone, _=_)
    assert (row["status"], row["status_label"], row["total"], row["remaining"]) == (
        "open",
        "Open",
        "$100.00",
        "$100.00",
    )
    assert row["view_url"] == "/p/t/invoices/in_1" and row["pdf_url"] == "/p/t/invoices/in_1/pdf"
    assert row["view_label"] == "View and pay" and row["due"] == "May 18, 2026"
    late = views.invoice_row(
        invoice(), base="/p/t", now=NOW + timedelta(days=15), locale="en", zone=zone, _=_
    )
    assert (late["status"], late["status_label"]) == ("overdue", "Overdue")
    paid = views.invoice_row(
        invoice(status="paid", amount_remaining=0, amount_paid=10000),
        base="/p/t",
        now=NOW,
        locale="en",
        zone=zone,
        _=_,
    )
    assert (paid["status_label"], paid["remaining"], paid["due"], paid["view_label"]) == (
        "Paid",
        None,
        None,
        "View",
    )


def test_credit_note_rows_name_their_invoice():
    note = CreditNote(
        id="cn_1", number="GLOBEX-0001-CN-02", invoice_id="in_1", customer_id="cus_x", currency="eur", lines=[],
        subtotal=1000, tax=0, total=123456, reduces_amount_due=0, credit_to_balance=0, created_at=NOW, actor="k",
    )  # fmt: skip
    row = views.credit_note_row(note, base="/p/t", locale="sv", zone=ZoneInfo("Europe/Stockholm"))
    assert row["invoice_number"] == "GLOBEX-0001" and row["pdf_url"] == "/p/t/credit-notes/cn_1/pdf"
    assert row["total"] == "1\xa0234,56\xa0€"


def test_the_payment_method_reads_like_a_card():
    assert views.payment_method(customer(), _) is None
    card = customer(default_payment_method="pm_1", payment_method_brand="amex", payment_method_last4="0005")
    assert views.payment_method(card, _) == {"label": "American Express •••• 0005"}
    odd = customer(
        default_payment_method="pm_1", payment_method_brand="cartes_bancaires_x", payment_method_last4=None
    )
    assert views.payment_method(odd, _) == {"label": "Cartes Bancaires X"}


def test_the_page_language():
    seller = AccountSettings(default_locale="de")
    assert views.page_locale(customer(preferred_locales=["it", "sv_SE"]), seller, None) == "sv_SE"
    assert views.page_locale(customer(locale="fr_FR"), seller, None) == "fr_FR"
    assert views.page_locale(customer(), seller, None) == "de"
    assert views.page_locale(customer(preferred_locales=["sv"]), seller, "ja") == "ja"


def test_the_billing_details_as_stored_fill_the_form():
    stored = customer(emails=["a@x.example", "b@x.example"], address=Address(country="SE", city="Stockholm"))
    values = views.details_values(stored)
    assert values["emails"] == "a@x.example\nb@x.example" and values["address.country"] == "SE"
    assert values["address.line1"] == "" and values["version"] == "1"
    shown = views.details_form(values, {"address.city": "x"}, locale="sv", _=_)
    assert shown["tax_rows"] == [{"type": "", "value": "", "index": 0, "error": None}]  # one row to add one
    assert {"code": "SE", "name": "Sverige"} in shown["countries"]
    assert shown["errors"] == {"address.city": "x"} and shown["form_error"] is None
