"""The hosted invoice page as the customer's browser shows it."""

from __future__ import annotations

import pytest

from tests.browser.helpers import create_customer, create_invoice, hosted_url, screenshot

pytestmark = pytest.mark.browser


def test_the_customer_sees_the_invoice_number_and_total(api, page):
    # A fixed date and names, so the docs screenshot changes only when the page does.
    api.local("POST", "clock", {"set": "2027-03-01T09:00:00Z"})
    customer = create_customer(
        api, name="Globex Inc", emails=["ap@globex.example"], invoice_prefix="GLOBEX", external_id="globex"
    )
    invoice = create_invoice(
        api,
        customer,
        lines=[
            {"description": "Analytics platform, March 2027", "quantity": 1, "unit_amount": 49_000},
            {"description": "Onboarding workshop (half day)", "quantity": 2, "unit_amount": 25_000},
        ],
    )
    assert (invoice["status"], invoice["number"], invoice["total"]) == ("open", "GLOBEX-0001", 99_000)

    response = page.goto(hosted_url(api, invoice))
    assert response is not None and response.status == 200
    assert page.get_by_text("GLOBEX-0001").first.is_visible()
    assert page.get_by_text("$990.00").first.is_visible()  # 1 x $490.00 + 2 x $250.00, no tax in Oregon
    assert page.get_by_text("Onboarding workshop (half day)").is_visible()
    screenshot(page, "hosted-invoice-open")


def test_an_unknown_link_gets_the_not_found_page(stack, page):
    response = page.goto(f"{stack.url}/i/{'x' * 32}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Invoice not found").is_visible()
    assert page.get_by_text("use the link in your invoice email").is_visible()
