"""Paying an invoice from its page in the browser: Pay, the stand-in's Checkout page (a declined card,
then the success card), back on a paid page, the receipt; Pay pressed in two tabs at once is one
Checkout Session and one charge. The stand-in's signed webhooks reach the stack by themselves."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    charges_of,
    create_customer,
    create_invoice,
    docs_invoice,
    hosted_url,
    screenshot,
)
from tests.stack_api import wait_for

pytestmark = pytest.mark.browser

CHECKOUT = re.compile(r"/c/pay/cs_test_\w+$")


def test_pay_a_declined_card_then_the_success_card_and_come_back_to_a_paid_page_and_its_receipt(api, page):
    invoice = docs_invoice(api, "Umbrella Corp", "umbrella")
    url = hosted_url(api, invoice)
    page.goto(url)
    page.get_by_role("button", name="Pay $490.00").click()

    # The stand-in's Checkout page, for the invoice and what remains on it.
    page.wait_for_url(CHECKOUT)
    checkout_url = page.url
    expect(page.locator(".amount")).to_have_text("$490.00")
    expect(page.get_by_role("heading", name="Invoice UMBRELLA-0001")).to_be_visible()
    screenshot(page, "stand-in-checkout")

    page.get_by_label("Visa 0002 – generic decline").check()
    page.get_by_role("button", name="Pay $490.00").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    assert page.url == checkout_url  # the session stays open for another card

    page.get_by_label("Visa 4242 – succeeds").check()
    page.get_by_role("button", name="Pay $490.00").click()
    page.wait_for_url(re.compile(re.escape(url) + r"\?checkout=success&session_id=cs_test_\w+$"))
    panel = page.locator("section.panel")
    expect(panel.get_by_role("status")).to_have_text("Your payment was received.")
    expect(panel.locator(".headline")).to_have_text("Paid on March 1, 2027. Thank you.")
    expect(panel).to_contain_text("$490.00 paid. Payment method: Visa •••• 4242.")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    expect(page.get_by_text("First Bank")).to_have_count(0)  # paid: no payment request anywhere
    expect(page.locator("main.sheet .stamp")).to_have_text("Paid")

    # The refused card's webhook arrives on its own: the history then shows both attempts.
    def history_complete() -> bool:
        api.local("POST", "queues/drain", {"timeout": 30})
        page.reload()
        return page.locator("section.history tr.payment_failed").count() == 1

    wait_for("the declined attempt in the history", history_complete)
    history = page.locator("section.history")
    expect(history.locator("tr.payment_failed")).to_contain_text("Your card was declined.")
    expect(history.locator("tr.payment")).to_contain_text("Visa •••• 4242")
    screenshot(page, "hosted-invoice-paid")

    page.get_by_role("link", name="View receipt").click()
    expect(page).to_have_url(f"{url}/receipt")
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    for text in ("UMBRELLA-0001", "$490.00 paid. Thank you.", "Visa •••• 4242", "March 1, 2027"):
        expect(page.locator("main")).to_contain_text(text)
    expect(page.locator("table.lines tbody tr")).to_have_count(1)  # one payment received
    screenshot(page, "receipt")

    # The books: paid once, one charge taken (the declined attempt took nothing).
    def paid_once() -> dict[str, object] | None:
        api.local("POST", "queues/drain", {"timeout": 30})
        got = api.get(f"/v1/invoices/{invoice['id']}")
        return got if got["status"] == "paid" else None

    stored = wait_for("the invoice paid", paid_once)
    assert (stored["amount_paid"], stored["amount_remaining"]) == (49_000, 0)
    assert len(charges_of(checkout_url, invoice["id"], "succeeded")) == 1
    assert len(charges_of(checkout_url, invoice["id"], "failed")) == 1


def test_pay_pressed_in_two_tabs_at_once_is_one_session_and_one_charge(api, page):
    customer = create_customer(api)
    invoice = create_invoice(
        api, customer, lines=[{"description": "Consulting", "quantity": 1, "unit_amount": 12_300}]
    )
    url = hosted_url(api, invoice)
    first, second = page, page.context.new_page()
    for tab in (first, second):
        tab.goto(url)
    for tab in (first, second):  # both presses are on their way before either answer comes back
        tab.get_by_role("button", name="Pay $123.00").click(no_wait_after=True)
    for tab in (first, second):
        tab.wait_for_url(CHECKOUT)
    checkout_url = first.url
    assert second.url == checkout_url  # one Checkout Session: one link, so one payment

    first.get_by_label("Visa 4242 – succeeds").check()
    first.get_by_role("button", name="Pay $123.00").click()
    first.wait_for_url(re.compile(r"\?checkout=success"))
    expect(first.locator("section.panel .headline")).to_contain_text("Paid on")

    second.reload()  # the other tab's Checkout page: the session is complete, nothing to pay
    expect(second.get_by_text("This payment is complete. Thank you.")).to_be_visible()
    expect(second.get_by_role("button", name="Pay $123.00")).to_have_count(0)
    second.goto(url)
    expect(second.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)

    assert api.get(f"/v1/invoices/{invoice['id']}")["amount_paid"] == 12_300
    assert [c["amount"] for c in charges_of(checkout_url, invoice["id"])] == [12_300]  # one charge in all
