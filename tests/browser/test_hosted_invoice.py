"""The hosted invoice page as the customer's browser shows it, in each state: open, overdue, partially
credited, void (and Pay pressed on it), an automatic payment that failed; printing and a phone's
screen. Each test that takes a docs screenshot sets the stack's clock and uses fixed names, so the
images change only when the page does."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.helpers import (
    DOCS_CLOCK,
    PLATFORM_LINE,
    create_customer,
    create_invoice,
    docs_invoice,
    hosted_url,
    look,
    screenshot,
    set_clock,
)
from tests.stack_api import wait_for

pytestmark = pytest.mark.browser

LINES = [
    PLATFORM_LINE,
    {"description": "Onboarding workshop (half day)", "quantity": 2, "unit_amount": 25_000},
]


def status_panel(page):
    return page.locator("section.panel")


def test_an_open_invoice_says_what_is_due_by_when_and_offers_pay(api, page):
    invoice = docs_invoice(api, "Globex Inc", "globex", lines=LINES)
    assert (invoice["status"], invoice["number"], invoice["total"]) == ("open", "GLOBEX-0001", 99_000)

    response = page.goto(hosted_url(api, invoice))
    assert response is not None and response.status == 200
    panel = status_panel(page)
    expect(panel.locator(".headline")).to_have_text("$990.00 due by March 31, 2027.")
    expect(panel.get_by_role("button", name="Pay $990.00")).to_be_visible()
    expect(panel).to_contain_text("Bank transfer: First Bank, account 000123456789")
    expect(panel).to_contain_text("Please quote invoice GLOBEX-0001 with your payment.")
    document = page.locator("main.sheet")
    for text in ("GLOBEX-0001", "Acme Analytics Inc.", "350 Fifth Avenue", "Globex Inc", "March 31, 2027",
                 "Analytics platform, March 2027", "Onboarding workshop (half day)", "$990.00"):  # fmt: skip
        expect(document).to_contain_text(text)
    expect(document.locator("tr.due")).to_contain_text("$990.00")  # 1 x $490 + 2 x $250, no tax in Oregon
    expect(page.get_by_text("Please pay")).to_have_count(0)  # the panel asks, the document does not
    expect(page.get_by_role("heading", name="Question about this invoice?")).to_be_visible()
    screenshot(page, "hosted-invoice-open")

    # Printed: the status and the document, without buttons or forms.
    page.emulate_media(media="print")
    expect(panel.locator(".headline")).to_be_visible()
    expect(panel.get_by_role("button", name="Pay $990.00")).to_be_hidden()
    expect(page.locator("form.question")).to_be_hidden()
    page.emulate_media(media="screen")


def test_on_a_phone_the_page_fits_the_screen_and_pay_is_at_hand(api, browser):
    customer = create_customer(api)
    invoice = create_invoice(api, customer, lines=LINES)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(hosted_url(api, invoice))
        pay = phone.get_by_role("button", name="Pay $990.00")
        box = pay.bounding_box()
        assert box is not None and box["y"] + box["height"] < 844  # on the first screen
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        widest = phone.evaluate("document.documentElement.scrollWidth")
        assert widest <= 390, f"the page scrolls sideways: {widest}px wide"
        look(phone, "hosted-invoice-phone")
    finally:
        context.close()


def test_an_overdue_invoice_says_since_when(api, page):
    invoice = docs_invoice(api, "Soylent Corp", "soylent")
    set_clock(api, "2027-04-15T09:00:00Z")  # two weeks past March 31
    try:
        page.goto(hosted_url(api, invoice))
        panel = status_panel(page)
        expect(panel.locator(".badge")).to_have_text("Overdue")
        expect(panel.locator(".headline")).to_have_text("$490.00 was due on March 31, 2027.")
        expect(panel.get_by_role("button", name="Pay $490.00")).to_be_visible()
        screenshot(page, "hosted-invoice-overdue")
    finally:
        set_clock(api, DOCS_CLOCK)


def test_after_a_credit_note_the_page_asks_only_for_what_remains(api, page):
    support = {"description": "Support plan", "quantity": 1, "unit_amount": 10_000}
    invoice = docs_invoice(api, "Initrode Ltd", "initrode", lines=[support])
    set_clock(api, "2027-03-02T09:00:00Z")  # the credit note, a day later
    note = api.post("/v1/credit-notes", {"invoice": invoice["id"], "amount": 2_500, "reason": "order_change"})

    page.goto(hosted_url(api, invoice))
    panel = status_panel(page)
    expect(panel.locator(".headline")).to_have_text("$75.00 due by March 31, 2027.")
    for row in ("Invoice total $100.00", "Credit notes -$25.00", "Remaining $75.00"):
        expect(panel.get_by_role("row", name=row)).to_be_visible()
    expect(panel.get_by_role("button", name="Pay $75.00")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"\$100\.00"))).to_have_count(0)
    history = page.locator("section.history")
    expect(history).to_contain_text(f"Credit note {note['number']}")
    documents = page.locator("section.documents")
    expect(documents).to_contain_text(f"Credit note {note['number']} · March 2, 2027 · $25.00")
    pdf = documents.get_by_role("link", name="Download PDF").nth(1)  # the credit note's
    response = page.request.get(urljoin(page.url, str(pdf.get_attribute("href"))))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    screenshot(page, "hosted-invoice-partially-credited")

    panel.get_by_role("button", name="Pay $75.00").click()
    page.wait_for_url(re.compile(r"/c/pay/cs_test_"))
    expect(page.locator(".amount")).to_have_text("$75.00")  # Checkout asks for what remains, too


def test_a_void_invoice_has_no_pay_and_pay_pressed_on_an_old_tab_is_refused(api, page):
    invoice = docs_invoice(api, "Hooli Inc", "hooli")
    page.goto(hosted_url(api, invoice))
    pay = status_panel(page).get_by_role("button", name="Pay $490.00")
    expect(pay).to_be_visible()

    api.post(f"/v1/invoices/{invoice['id']}/void", expect=200)  # meanwhile, the seller voids it
    with page.expect_response(re.compile(r"/pay$")) as answer:
        pay.click()
    assert answer.value.status == 409
    expect(page.get_by_text("This invoice was voided", exact=True)).to_be_visible()
    expect(
        page.get_by_text("Invoice HOOLI-0001 was voided: nothing is due and nothing was charged.")
    ).to_be_visible()
    screenshot(page, "hosted-pay-refused")

    page.get_by_role("link", name="Back to the invoice").click()
    panel = status_panel(page)
    expect(panel.locator(".headline")).to_have_text("This invoice was voided on March 1, 2027.")
    expect(panel).to_contain_text("Nothing is due: you do not need to pay it.")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    expect(page.get_by_text("First Bank")).to_have_count(0)  # no bank details for a void invoice
    screenshot(page, "hosted-invoice-void")
    assert api.get(f"/v1/invoices/{invoice['id']}")["amount_paid"] == 0


def test_an_automatic_payment_that_failed_says_why_and_when_it_is_retried(api, page):
    set_clock(api, DOCS_CLOCK)
    customer = create_customer(api, name="Vandelay Industries", emails=["ap@vandelay.example"],
                               invoice_prefix="VANDELAY", external_id="vandelay")  # fmt: skip
    card = {"payment_method": "pm_card_chargeCustomerFail"}  # attaches; every charge is declined
    api.post(f"/v1/customers/{customer['id']}/payment-methods", card)
    invoice = create_invoice(api, customer, lines=[PLATFORM_LINE], collection_method="charge_automatically",
                             days_until_due=None)  # fmt: skip
    url = hosted_url(api, invoice)

    def failed() -> bool:  # the invoice worker charges the card on file; dunning schedules a retry
        api.local("POST", "queues/drain", {"timeout": 30})
        return "We will try your card again" in requests.get(url, timeout=30).text

    wait_for("the automatic charge to fail", failed)
    page.goto(url)
    panel = status_panel(page)
    expect(panel.locator(".headline")).to_have_text("Your automatic payment of $490.00 failed.")
    expect(panel).to_contain_text("Your card was declined.")
    expect(panel).to_contain_text(re.compile(r"We will try your card again on March \d+, 2027\."))
    expect(panel.get_by_role("button", name="Pay $490.00")).to_be_visible()
    history = page.locator("section.history")
    expect(history).to_contain_text("Payment failed")
    screenshot(page, "hosted-invoice-payment-failed")


def test_an_unknown_link_gets_the_not_found_page(stack, page):
    response = page.goto(f"{stack.url}/i/{'x' * 32}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Invoice not found").is_visible()
    assert page.get_by_text("use the link in your invoice email").is_visible()
