"""The customer portal as the customer's browser shows it: open a session, read the invoices, get a PDF,
fix the billing details, replace the card on the stand-in's Checkout page, an expired link."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import create_customer, create_invoice, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portal(api: Any) -> dict[str, Any]:
    """A customer with a card, a paid and an open invoice, a credit note, and a session for it: one
    for the module (fixed names for the docs screenshots); the tests run in order, reading first."""
    # A fixed date and names, so the docs screenshots change only when the pages do.
    api.local("POST", "clock", {"set": "2027-04-02T09:00:00Z"})
    customer = create_customer(
        api, name="Initech LLC", emails=["ap@initech.example"], invoice_prefix="INITECH"
    )
    api.post(f"/v1/customers/{customer['id']}/payment-methods", {"payment_method": "pm_card_visa"})
    paid = create_invoice(
        api,
        customer,
        lines=[{"description": "Analytics platform, March 2027", "quantity": 1, "unit_amount": 49_000}],
    )
    api.post(f"/v1/invoices/{paid['id']}/pay", {}, expect=200)
    open_ = create_invoice(
        api,
        customer,
        lines=[
            {"description": "Analytics platform, April 2027", "quantity": 1, "unit_amount": 49_000},
            {"description": "Onboarding workshop (half day)", "quantity": 2, "unit_amount": 25_000},
        ],
    )
    note = api.post("/v1/credit-notes", {"invoice": open_["id"], "amount": 5_000, "reason": "order_change"})
    session = api.post(
        f"/v1/customers/{customer['id']}/portal-sessions", {"return_url": "https://initech.example/account"}
    )
    return {"customer": customer, "paid": paid, "open": open_, "note": note, "session": session}


def test_the_customer_reads_its_invoices_and_gets_a_pdf(api, page, portal):
    response = page.goto(portal["session"]["url"])
    assert response is not None and response.status == 200
    assert page.get_by_role("heading", name="Billing", exact=True).is_visible()
    assert page.get_by_text("Visa •••• 4242").is_visible()
    for number in ("INITECH-0001", "INITECH-0002", "INITECH-0002-CN-01"):
        assert page.get_by_text(number, exact=True).first.is_visible()
    assert page.get_by_text("$990.00").first.is_visible()  # 490 + 2 × 250
    assert page.get_by_text("$940.00").first.is_visible()  # less the $50.00 credit note
    screenshot(page, "portal-overview")

    # "View and pay" opens the invoice's hosted page; its PDF is a PDF.
    page.get_by_role("link", name="View and pay").first.click()
    assert page.url.endswith(portal["open"]["hosted_invoice_url"].rsplit("/", 1)[1])
    page.go_back()
    pdf_link = page.get_by_role("link", name="PDF").first.get_attribute("href")
    assert pdf_link is not None
    pdf = page.request.get(f"{api.url}{pdf_link}")
    assert pdf.status == 200 and pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body().startswith(b"%PDF")

    page.get_by_role("link", name="Invoices", exact=True).click()
    assert page.get_by_role("heading", name="Invoices").is_visible()
    assert page.get_by_text("Paid", exact=True).is_visible()


def test_the_customer_fixes_its_billing_details(page, portal):
    page.goto(portal["session"]["url"])
    page.get_by_role("link", name="Update billing details").click()
    page.get_by_label("Country").select_option("CA")
    page.get_by_label("City").fill("Toronto")
    page.get_by_label("State or province").fill("")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Enter the state or province: its sales tax depends on it.").is_visible()
    screenshot(page, "portal-billing-details-refused")

    page.get_by_label("State or province").fill("ON")
    page.get_by_label("Postal code").fill("M5H 2N2")
    page.get_by_label("Address line 1").fill("100 Queen St W")
    page.get_by_label("Billing emails").fill("ap@initech.example\ncfo@initech.example")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Your billing details were saved.").is_visible()
    assert (
        page.get_by_text("Toronto, ON").is_visible() and page.get_by_text("cfo@initech.example").is_visible()
    )


def test_the_customer_replaces_its_card(api, page, portal):
    page.goto(portal["session"]["url"])
    page.get_by_role("button", name="Replace card").click()
    # The stand-in's Checkout page, in setup mode.
    assert page.get_by_role("heading", name="Save a card for future payments").is_visible()
    page.get_by_label("or a test card number").fill("5555 5555 5555 4444")
    page.get_by_role("button", name="Save card").click()
    # Back in the portal: the new card is the default.
    assert page.get_by_text("Your new card is saved.").is_visible()
    assert page.get_by_text("Mastercard •••• 4444").is_visible()
    screenshot(page, "portal-card-replaced")
    changes = api.get(f"/v1/customers/{portal['customer']['id']}/changes")["data"]
    assert changes[0]["source"] == "portal" and changes[0]["actor"] == portal["session"]["id"]


def test_an_expired_link_shows_nothing_but_where_to_get_a_new_one(api, page, portal):
    api.local("POST", "clock", {"set": "2027-04-02T10:01:00Z"})  # 61 minutes later
    response = page.goto(portal["session"]["url"])
    assert response is not None and response.status == 410
    assert page.get_by_text("This link has expired. Ask Acme Analytics Inc. for a new one.").is_visible()
    assert not page.get_by_text("Initech").is_visible()
    assert page.get_by_role("link", name="Back to Acme Analytics Inc.").get_attribute("href") == (
        "https://initech.example/account"
    )
    screenshot(page, "portal-expired")
