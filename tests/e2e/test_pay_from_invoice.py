"""Paying an invoice from its hosted page, end to end over HTTP against `python -m local.stack
--in-memory`, as a browser would do it (a form post, redirects followed by hand): open the invoice
page, press Pay, a declined card on the stand-in's Checkout page shows the decline, the success card
pays, the customer comes back to a paid page with its receipt; the stand-in's signed webhooks reach
the stack for real and change nothing more; one receipt email; a question goes to support."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from tests.stack_api import Api, wait_for

pytestmark = pytest.mark.e2e


def test_open_the_invoice_press_pay_decline_then_pay_and_come_back_to_a_receipt(start_stack, tmp_path):
    stack = start_stack("--in-memory", "--data-dir", str(tmp_path)).ready()
    api = Api(stack.url, stack.admin_key)
    seller = {"legal_name": "Initech LLC", "support_email": "support@initech.example",
              "address": {"line1": "4120 Freidrich Lane", "city": "Austin", "postal_code": "78744", "state": "TX",
                          "country": "US"}}  # fmt: skip
    assert api.call("PATCH", "/v1/account", seller)["ready_to_invoice"] is True
    customer = api.post("/v1/customers", {"name": "Globex", "emails": ["ap@globex.example"], "currency": "usd",
                                          "invoice_prefix": "GLOBEX"})  # fmt: skip
    invoice = api.post("/v1/invoices", {"customer": customer["id"], "collection_method": "send_invoice",
                                        "lines": [{"description": "Consulting", "quantity": 1, "unit_amount": 4_400}],
                                        "auto_finalize": True})  # fmt: skip
    page_url = invoice["hosted_invoice_url"]
    assert page_url.startswith(stack.url + "/i/")
    browser = requests.Session()
    assert "$44.00" in browser.get(page_url, timeout=30).text

    pay = browser.post(f"{page_url}/pay", data={}, allow_redirects=False, timeout=60)
    assert pay.status_code == 303, pay.text
    checkout = pay.headers["Location"]
    assert "/c/pay/cs_test_" in checkout
    csp = pay.headers["Content-Security-Policy"]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(checkout))
    assert f"form-action 'self' {origin}" in csp  # the Pay form's redirect may go to Checkout

    checkout_page = browser.get(checkout, timeout=30).text
    assert "$44.00" in checkout_page and "GLOBEX-0001" in checkout_page
    declined = browser.post(checkout, data={"payment_method": "pm_card_visa_chargeDeclined"}, allow_redirects=False,
                            timeout=30)  # fmt: skip
    assert declined.status_code == 200 and "Your card was declined." in declined.text
    paid = browser.post(
        checkout, data={"card_number": "4242 4242 4242 4242"}, allow_redirects=False, timeout=30
    )
    assert paid.status_code == 303
    back = paid.headers["Location"]
    assert back.startswith(page_url + "?checkout=success&session_id=cs_test_")
    landing = browser.get(back, timeout=60)
    assert landing.status_code == 200 and "Your payment was received." in landing.text
    assert "Paid on" in landing.text

    receipt_url = f"{page_url}/receipt"
    receipt = browser.get(receipt_url, timeout=30)
    assert receipt.status_code == 200
    for text in ("Receipt", "GLOBEX-0001", "$44.00", "Visa •••• 4242"):
        assert text in receipt.text, text

    # The webhooks (payment failed, succeeded, session completed) arrive by themselves; the queues run.
    def paid_once() -> bool:
        api.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})
        got = api.get(f"/v1/invoices/{invoice['id']}")
        return got["status"] == "paid" and got["amount_paid"] == 4_400

    wait_for("the invoice paid", paid_once)

    def receipt_mail() -> list[dict[str, object]] | None:
        api.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})
        found = [
            m
            for m in api.local("GET", "mail")["messages"]
            if m["subject"] == "Receipt for invoice GLOBEX-0001"
        ]
        return found or None

    [mail] = wait_for("the receipt email", receipt_mail)
    assert "Visa •••• 4242" in str(mail["body"]) and receipt_url in str(mail["body"])

    # Pay again: the invoice is paid, a page says so, nothing is charged.
    again = browser.post(f"{page_url}/pay", data={}, allow_redirects=False, timeout=60)
    assert again.status_code == 409 and "already paid" in again.text

    # A question about the invoice reaches the seller's support address (PATCH /v1/account).
    nonce = "e2e-question-nonce-0001"
    asked = browser.post(f"{page_url}/questions", data={"email": "ap@globex.example", "message": "Thanks! VAT id?",
                                                        "nonce": nonce}, allow_redirects=False, timeout=30)  # fmt: skip
    assert asked.status_code == 303 and asked.headers["Location"].endswith("?question=sent")
    [query] = api.get(f"/v1/invoice-queries?invoice={invoice['id']}")["data"]
    assert query["message"] == "Thanks! VAT id?"

    def question_mail() -> list[dict[str, object]] | None:
        api.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})
        subject = re.compile(r"^Question about invoice GLOBEX-0001 from ap@globex\.example$")
        found = [m for m in api.local("GET", "mail")["messages"] if subject.match(str(m["subject"]))]
        return found or None

    wait_for("the question email", question_mail)
    payments = [m for m in api.local("GET", "mail")["messages"] if str(m["subject"]).startswith("Receipt")]
    assert len(payments) == 1  # webhooks after the return sent no second receipt
    assert "Traceback" not in stack.output, stack.output
    assert stack.stop() == 0
