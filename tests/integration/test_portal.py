"""The customer portal: sessions through the api function, the pages and forms through customer_pages,
against DynamoDB Local (through local.dispatch, as API Gateway routes them)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest

from billing import clock
from tests.integration.invoice_helpers import get_customer, make_customer, one_off, uid

pytestmark = pytest.mark.integration

ORIGIN = "https://billing.example.com"
"""The deployment's public URL in the tests (app_env's BILLING_PUBLIC_URL)."""
NBSP = "\xa0"


def open_session(call, key, customer_id, expect=201, **body):
    status, _, out = call("POST", f"/v1/customers/{customer_id}/portal-sessions", key=key, json_body=body)
    assert status == expect, out
    return out


def path_of(session) -> str:
    return urlsplit(session["url"]).path


def page(call, path, **query):
    suffix = f"?{urlencode(query)}" if query else ""
    return call("GET", f"{path}{suffix}")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def post_form(call, path, fields, *, origin: str | None = ORIGIN):
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if origin is not None:
        headers["origin"] = origin
    return call("POST", path, raw=urlencode(fields, doseq=True).encode(), headers=headers)


def details_form(call, base) -> dict[str, str]:
    """The billing details form as the browser would send it back unchanged."""
    status, _, html = page(call, f"{base}/billing-details")
    assert status == 200, html
    fields = dict(
        re.findall(r'<input type="(?:hidden|text)" (?:id="[^"]*" )?name="([^"]+)" value="([^"]*)"', html)
    )
    fields["emails"] = re.search(r'<textarea id="emails" name="emails"[^>]*>([^<]*)</textarea>', html).group(
        1
    )
    for name, value in re.findall(r'<select id="([^"]+)" name="[^"]+"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', value)
        fields[name] = chosen.group(1) if chosen else ""
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def changes_of(call, key, customer_id):
    status, _, out = call("GET", f"/v1/customers/{customer_id}/changes", key=key)
    assert status == 200, out
    return out["data"]


@pytest.fixture
def customer(call, admin_key):
    return make_customer(call, admin_key, name="Globex Inc", emails=["ap@globex.example"])


@pytest.fixture
def session(call, admin_key, customer):
    return open_session(call, admin_key, customer["id"], return_url="https://globex-seller.example/account")


# --------------------------------------------------------------------------- sessions (API)


def test_a_session_is_a_short_lived_unguessable_link_stored_as_a_hash(call, admin_key, app_env, customer):
    import boto3

    created = open_session(
        call, admin_key, customer["id"], return_url="http://localhost:8000/back", locale="de-CH"
    )
    assert created["object"] == "portal_session" and created["id"].startswith("bps_")
    assert created["customer"] == customer["id"]
    assert (created["return_url"], created["locale"]) == ("http://localhost:8000/back", "de_CH")
    token = created["url"].removeprefix(f"{ORIGIN}/p/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes: 256 bits
    lifetime = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(created["created_at"])
    assert lifetime == timedelta(minutes=60)

    table = boto3.resource("dynamodb").Table(app_env["BILLING_TABLE"])
    key = {"pk": f"PORTAL_SESSION#{hashlib.sha256(token.encode()).hexdigest()}", "sk": "PORTAL_SESSION"}
    item = table.get_item(Key=key)["Item"]
    assert token not in str(item)  # only the hash is kept
    assert int(item["expires_at"]) == int(
        datetime.fromisoformat(created["expires_at"]).timestamp()
    )  # the TTL

    # Another session for the same customer is another link.
    assert open_session(call, admin_key, customer["id"])["url"] != created["url"]


def test_who_may_create_sessions(call, admin_key, customer):
    _, _, ro = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"})
    _, _, billing = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "b", "role": "billing"})
    status, _, body = call(
        "POST", f"/v1/customers/{customer['id']}/portal-sessions", key=ro["key"], json_body={}
    )
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    assert call("POST", f"/v1/customers/{customer['id']}/portal-sessions", json_body={})[0] == 401
    open_session(call, billing["key"], customer["id"])
    # By external id too.
    external = make_customer(call, admin_key, external_id=f"ext-{uid()}")
    assert open_session(call, admin_key, external["external_id"])["customer"] == external["id"]


def test_unknown_and_deleted_customers_get_no_session(call, admin_key):
    out = open_session(call, admin_key, "cus_0000000000000000", expect=404)
    assert out["error"]["code"] == "customer_not_found"
    gone = make_customer(call, admin_key)
    assert call("DELETE", f"/v1/customers/{gone['id']}", key=admin_key)[0] == 200
    out = open_session(call, admin_key, gone["id"], expect=409)
    assert (out["error"]["code"], out["error"]["param"]) == ("customer_deleted", "customer_id")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"return_url": "javascript:alert(1)"}, "invalid_return_url", "return_url"),
        ({"return_url": "http://seller.example/account"}, "invalid_return_url", "return_url"),
        ({"return_url": "/account"}, "invalid_return_url", "return_url"),
        ({"return_url": "https://user:pw@seller.example/"}, "invalid_return_url", "return_url"),
        ({"return_url": "https://seller.example/a b"}, "invalid_return_url", "return_url"),
        ({"locale": "xx"}, "unknown_locale", "locale"),
        ({"locale": "it"}, "unknown_locale", "locale"),
        ({"expires_in": 60}, "unknown_field", "expires_in"),
    ],
)
def test_bad_input_is_a_422_with_the_envelope(call, admin_key, customer, body, code, param):  # noqa: PLR0917
    out = open_session(call, admin_key, customer["id"], expect=422, **body)
    assert (out["error"]["code"], out["error"]["param"]) == (code, param)


def test_the_idempotency_key_gives_the_same_session(call, admin_key, customer):
    headers = {"idempotency-key": f"portal-{uid()}"}
    path = f"/v1/customers/{customer['id']}/portal-sessions"
    s1, _, first = call("POST", path, key=admin_key, json_body={}, headers=headers)
    s2, h2, second = call("POST", path, key=admin_key, json_body={}, headers=headers)
    assert s1 == s2 == 201 and first == second and h2.get("idempotent-replayed") == "true"
    status, _, body = call("POST", path, key=admin_key, json_body={"locale": "sv"}, headers=headers)
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"


# --------------------------------------------------------------------------- pages and scoping


def test_the_overview_shows_the_customer_and_only_its_invoices(call, admin_key, customer, session):
    mine = one_off(call, admin_key, customer, auto_finalize=True)
    draft = one_off(call, admin_key, customer)
    other = make_customer(call, admin_key, name="Initrode")
    theirs = one_off(call, admin_key, other, auto_finalize=True)

    status, headers, html = page(call, path_of(session))
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert headers["cache-control"] == "private, no-store" and "noindex" in headers["x-robots-tag"]
    assert headers["referrer-policy"] == "same-origin"
    assert "Globex Inc" in html and "ap@globex.example" in html and "1 Main St" in html
    assert mine["number"] in html and "$100.00" in html
    assert f"{path_of(session)}/invoices/{mine['id']}" in html  # View and pay
    assert f"{path_of(session)}/invoices/{mine['id']}/pdf" in html
    assert draft["id"] not in html  # drafts are not the customer's business yet
    assert theirs["number"] not in html and "Initrode" not in html
    assert 'href="https://globex-seller.example/account"' in html and "Back to Test Seller Inc." in html
    assert "<script" not in html


def test_invoice_links_lead_to_the_hosted_page_and_never_to_another_customers(
    call, admin_key, customer, session
):
    mine = one_off(call, admin_key, customer, auto_finalize=True)
    other = make_customer(call, admin_key)
    theirs = one_off(call, admin_key, other, auto_finalize=True)
    base = path_of(session)

    status, headers, _ = page(call, f"{base}/invoices/{mine['id']}")
    assert status == 303 and headers["location"] == urlsplit(mine["hosted_invoice_url"]).path
    status, headers, _ = page(call, f"{base}/invoices/{mine['id']}/pdf")
    assert status == 303 and headers["location"] == urlsplit(mine["hosted_invoice_url"]).path + "/pdf"

    for path in (
        f"{base}/invoices/{theirs['id']}",
        f"{base}/invoices/{theirs['id']}/pdf",
        f"{base}/invoices/in_nope",
    ):
        status, headers, html = page(call, path)
        assert status == 404 and "location" not in headers
        assert theirs["number"] not in html and theirs["hosted_invoice_url"] not in html


def test_credit_notes_are_listed_and_scoped(call, admin_key, customer, session):
    mine = one_off(call, admin_key, customer, auto_finalize=True)
    status, _, note = call(
        "POST", "/v1/credit-notes", key=admin_key, json_body={"invoice": mine["id"], "amount": 2500}
    )
    assert status == 201, note
    other = make_customer(call, admin_key)
    theirs_invoice = one_off(call, admin_key, other, auto_finalize=True)
    status, _, theirs = call(
        "POST", "/v1/credit-notes", key=admin_key, json_body={"invoice": theirs_invoice["id"], "amount": 100}
    )
    assert status == 201, theirs
    base = path_of(session)

    status, _, html = page(call, f"{base}/credit-notes")
    assert status == 200 and note["number"] in html and mine["number"] in html and "$25.00" in html
    assert theirs["number"] not in html
    status, headers, _ = page(call, f"{base}/credit-notes/{note['id']}/pdf")
    hosted = urlsplit(mine["hosted_invoice_url"]).path
    assert status == 303 and headers["location"] == f"{hosted}/credit-notes/{note['id']}/pdf"
    status, headers, html = page(call, f"{base}/credit-notes/{theirs['id']}/pdf")
    assert status == 404 and "location" not in headers and theirs["number"] not in html


def test_invoices_paginate_newest_first_and_a_foreign_cursor_shows_nothing_foreign(
    call, admin_key, customer, session
):
    numbers = [one_off(call, admin_key, customer, auto_finalize=True)["number"] for _ in range(22)]
    base = path_of(session)
    status, _, first = page(call, f"{base}/invoices")
    assert status == 200
    shown = re.findall(r"<strong>(T[0-9A-F]{7}-\d{4})</strong>", first)
    assert shown == list(reversed(numbers))[:20]
    after = re.search(r'href="[^"]*/invoices\?after=([^"]+)"', first).group(1)
    status, _, second = page(call, f"{base}/invoices", after=after.replace("&amp;", "&"))
    assert re.findall(r"<strong>(T[0-9A-F]{7}-\d{4})</strong>", second) == list(reversed(numbers))[20:]
    assert "?after=" not in second  # the last page

    # Another customer's cursor (or garbage) is ignored: the first page of this customer's list.
    other = make_customer(call, admin_key)
    other_session = open_session(call, admin_key, other["id"])
    for cursor in (after, "not-a-cursor"):
        status, _, html = page(call, f"{path_of(other_session)}/invoices", after=cursor)
        assert status == 200 and not any(n in html for n in numbers)


def test_unknown_expired_and_deleted_links_show_no_data(call, admin_key, customer, session):
    one_off(call, admin_key, customer, auto_finalize=True)
    for path in ("/p/" + "A" * 43, "/p/short", "/p/" + "A" * 43 + "/invoices"):
        status, headers, html = page(call, path)
        assert status == 404 and "Globex" not in html
        assert headers["referrer-policy"] == "no-referrer"  # the customer pages' own headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "private, no-store"

    later = clock.FrozenClock(datetime.now(UTC) + timedelta(minutes=61))
    previous = clock.set_clock(later)
    try:
        for suffix in ("", "/invoices", "/billing-details", "/credit-notes"):
            status, headers, html = page(call, path_of(session) + suffix)
            assert status == 410, suffix
            assert "This link has expired. Ask Test Seller Inc. for a new one." in html
            assert 'href="https://globex-seller.example/account"' in html  # where a new link comes from
            assert "Globex" not in html and "ap@globex.example" not in html
            assert headers["referrer-policy"] == "no-referrer"
        status, _, _ = post_form(call, f"{path_of(session)}/billing-details", {"emails": "x@y.example"})
        assert status == 410
    finally:
        clock.set_clock(previous)

    gone = make_customer(call, admin_key)
    gone_session = open_session(call, admin_key, gone["id"])
    assert call("DELETE", f"/v1/customers/{gone['id']}", key=admin_key)[0] == 200
    status, _, html = page(call, path_of(gone_session))
    assert status == 404 and gone["name"] not in html


# --------------------------------------------------------------------------- billing details


def test_billing_details_are_saved_audited_and_a_double_submit_changes_nothing_twice(
    call, admin_key, customer, session
):
    base = path_of(session)
    form = details_form(call, base)
    assert form["emails"] == "ap@globex.example" and form["address.country"] == "US"
    form |= {"emails": "ap@globex.example\nCFO@globex.example", "address.line1": "2 Main St"}

    status, headers, _ = post_form(call, f"{base}/billing-details", form)
    assert status == 303 and headers["location"] == f"{base}?notice=details_saved"
    status, _, html = page(call, base, notice="details_saved")
    assert "Your billing details were saved." in html and "cfo@globex.example" in html and "2 Main St" in html

    stored = get_customer(call, admin_key, customer["id"])
    assert stored["emails"] == ["ap@globex.example", "cfo@globex.example"]
    assert stored["address"]["line1"] == "2 Main St" and stored["version"] == customer["version"] + 1

    # The same form again (a double click, a reload): nothing more is written.
    assert post_form(call, f"{base}/billing-details", form)[0] == 303
    assert get_customer(call, admin_key, customer["id"])["version"] == stored["version"]

    (entry,) = changes_of(call, admin_key, customer["id"])
    assert (
        entry["source"] == "portal"
        and entry["actor"] == session["id"]
        and entry["version"] == stored["version"]
    )
    assert entry["changes"] == {
        "emails": {"from": ["ap@globex.example"], "to": ["ap@globex.example", "cfo@globex.example"]},
        "address": {
            "from": {**customer["address"]},
            "to": {**customer["address"], "line1": "2 Main St"},
        },
    }


def test_a_refused_change_is_shown_on_the_form_and_nothing_is_written(call, admin_key, customer, session):
    base = path_of(session)
    form = details_form(call, base) | {
        "address.country": "CA",
        "address.state": "",
        "address.city": "Toronto",
    }
    status, _, html = post_form(call, f"{base}/billing-details", form)
    assert status == 422
    assert "Enter the state or province: its sales tax depends on it." in html
    assert 'class="field-error"' in html and 'value="Toronto"' in html  # what was typed stays
    assert get_customer(call, admin_key, customer["id"])["version"] == customer["version"]
    assert changes_of(call, admin_key, customer["id"]) == []

    form = details_form(call, base) | {"emails": "ap@globex.example\nnot-an-email"}
    status, _, html = post_form(call, f"{base}/billing-details", form)
    assert status == 422 and "Enter valid email addresses, one per line." in html

    # A taxable customer cannot drop its address: its taxes depend on it.
    blank = {k: "" for k in form if k.startswith("address.")}
    status, _, html = post_form(
        call, f"{base}/billing-details", form | blank | {"emails": "ap@globex.example"}
    )
    assert status == 422 and "Your address is needed to calculate the taxes on your invoices." in html
    assert get_customer(call, admin_key, customer["id"])["version"] == customer["version"]


def test_a_reverse_charged_customer_keeps_a_vat_number_and_moving_is_audited_with_its_tax(call, admin_key):
    customer = make_customer(
        call,
        admin_key,
        name="Müller GmbH",
        currency="eur",
        address={"country": "DE", "city": "Berlin", "line1": "Hauptstr. 1", "postal_code": "10115"},
        tax_ids=[{"type": "eu_vat", "value": "DE123456789"}],
        tax_status="reverse_charge",
    )
    base = path_of(open_session(call, admin_key, customer["id"]))
    form = details_form(call, base)
    assert form["tax_ids.0.type"] == "eu_vat" and form["tax_ids.0.value"] == "DE123456789"
    status, _, html = post_form(
        call, f"{base}/billing-details", form | {"tax_ids.0.value": "", "tax_ids.0.type": ""}
    )
    assert status == 422 and "Your invoices are reverse charged: keep your VAT number." in html
    status, _, html = post_form(call, f"{base}/billing-details", form | {"tax_ids.0.value": "DE12"})
    assert status == 422 and "This tax ID does not look right for its type." in html
    assert get_customer(call, admin_key, customer["id"])["version"] == customer["version"]

    moved = form | {"address.country": "FR", "address.city": "Paris", "address.postal_code": "75001"}
    assert post_form(call, f"{base}/billing-details", moved)[0] == 303
    (entry,) = changes_of(call, admin_key, customer["id"])
    assert entry["changes"]["address"]["to"]["country"] == "FR"


def test_a_taxable_customer_moving_gets_its_new_tax_treatment_recorded(call, admin_key):
    from tests.integration.invoice_helpers import TAX_COUNTRY, make_tax_rate

    rate = make_tax_rate(call, admin_key, country=TAX_COUNTRY, percentage="7")
    customer = make_customer(call, admin_key, address={"country": "US", "state": "NY", "city": "New York"})
    base = path_of(open_session(call, admin_key, customer["id"]))
    form = details_form(call, base) | {"address.country": TAX_COUNTRY, "address.state": ""}
    assert post_form(call, f"{base}/billing-details", form)[0] == 303
    (entry,) = changes_of(call, admin_key, customer["id"])
    assert entry["tax_treatment"]["from"] != entry["tax_treatment"]["to"]
    assert rate["id"] in entry["tax_treatment"]["to"]


def test_forms_need_the_sessions_csrf_token_and_the_pages_own_origin(call, admin_key, customer, session):
    base = path_of(session)
    form = details_form(call, base) | {"emails": "evil@attacker.example"}
    token = form["csrf_token"]
    for fields, origin in (
        ({k: v for k, v in form.items() if k != "csrf_token"}, ORIGIN),  # no token
        (form | {"csrf_token": token[:-2] + "xx"}, ORIGIN),  # a wrong one
        (form, "https://attacker.example"),  # another site
        (form, "null"),  # an opaque origin (sandboxed frame, data: URL)
    ):
        status, _, html = post_form(call, f"{base}/billing-details", fields, origin=origin)
        assert status == 403 and "The form could not be sent." in html
    # Another session's token does not open this one's forms.
    other = open_session(call, admin_key, customer["id"])
    status, _, _ = post_form(
        call,
        f"{base}/billing-details",
        form | {"csrf_token": csrf_of(page(call, f"{path_of(other)}/billing-details")[2])},
    )
    assert status == 403
    assert get_customer(call, admin_key, customer["id"])["emails"] == ["ap@globex.example"]
    # The page's own origin (or a client that sends none) passes.
    assert post_form(call, f"{base}/billing-details", form, origin=None)[0] == 303
    assert get_customer(call, admin_key, customer["id"])["emails"] == ["evil@attacker.example"]


def test_a_stale_form_does_not_overwrite_a_newer_change(call, admin_key, customer, session):
    base = path_of(session)
    form = details_form(call, base)
    status, _, _ = call(
        "PATCH",
        f"/v1/customers/{customer['id']}",
        key=admin_key,
        json_body={"emails": ["new@globex.example"]},
    )
    assert status == 200
    status, _, html = post_form(call, f"{base}/billing-details", form | {"address.line1": "9 Elm St"})
    assert status == 422 and "Your billing details were changed meanwhile." in html
    stored = get_customer(call, admin_key, customer["id"])
    assert stored["emails"] == ["new@globex.example"] and stored["address"]["line1"] == "1 Main St"
    # The API's change is audited too, with the key that made it.
    (entry,) = changes_of(call, admin_key, customer["id"])
    assert entry["source"] == "api" and entry["actor"] not in ("", session["id"])


# --------------------------------------------------------------------------- languages


def test_a_swedish_customer_gets_a_swedish_portal(call, admin_key):
    customer = make_customer(
        call,
        admin_key,
        name="Svensson AB",
        currency="sek",
        preferred_locales=["sv"],
        address={"country": "SE", "city": "Stockholm", "line1": "Drottninggatan 1", "postal_code": "111 51"},
    )
    invoice = one_off(
        call,
        admin_key,
        customer,
        lines=[{"description": "Licens", "quantity": 1, "unit_amount": 123456}],
        auto_finalize=True,
    )
    status, _, html = page(call, path_of(open_session(call, admin_key, customer["id"])))
    assert status == 200
    assert '<html lang="sv">' in html
    assert f"1{NBSP}234,56{NBSP}kr" in html  # Swedish grouping, decimal comma, kr after
    assert invoice["number"] in html and "Sverige" in html  # the country named in Swedish
    # The session's locale overrides the customer's.
    status, _, html = page(call, path_of(open_session(call, admin_key, customer["id"], locale="de")))
    assert '<html lang="de">' in html and f"1.234,56{NBSP}SEK" in html


def test_odd_input_in_links_and_forms_is_a_page_never_a_500(call, admin_key, customer, session):
    import base64
    import json

    mine = one_off(call, admin_key, customer, auto_finalize=True)
    base = path_of(session)
    for path in (
        f"{base}/invoices/in_{'x' * 3000}",
        f"{base}/credit-notes/cn_%00/pdf",
        f"{base}/invoices/..%2F",
    ):
        assert page(call, path)[0] == 404
    assert page(call, f"{base}/payment-method/done", checkout="cs_" + "x" * 5000)[0] in (303, 404)

    def cursor(**key):
        return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")

    partition = f"CUSTOMER_INVOICES#{customer['id']}"
    for forged in (
        cursor(pk="INVOICE#in_other", sk="INVOICE", gsi1pk=partition, gsi1sk="2026#in_mine"),
        cursor(pk="INVOICE#in_x", sk="INVOICE", gsi1pk=partition, gsi1sk="9" * 3000 + "#in_x"),
        cursor(pk=1, sk="INVOICE", gsi1pk=partition, gsi1sk="x#in_x"),
    ):
        status, _, html = page(call, f"{base}/invoices", after=forged)
        assert status == 200 and mine["number"] in html  # the first page instead

    many = {f"f{i}": "x" for i in range(300)}
    status, _, _ = post_form(call, f"{base}/billing-details", many)
    assert status == 403
