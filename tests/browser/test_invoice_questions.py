"""Asking about an invoice from its page: a form with a mistake comes back with what to fix and what
was typed; the corrected one is sent, the page says so and lists it; the seller's answer appears."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import docs_invoice, hosted_url, look, screenshot

pytestmark = pytest.mark.browser


def test_ask_a_question_fix_the_email_see_it_sent_listed_and_answered(api, page):
    invoice = docs_invoice(api, "Stark Industries", "stark")
    page.goto(hosted_url(api, invoice))
    form = page.locator("form.question")
    expect(form.get_by_label("Your email")).to_have_value("ap@stark.example")  # the billing email
    form.get_by_label("Your email").fill("pepper@stark")  # no domain: the browser lets it through
    form.get_by_label("Your name").fill("Pepper Potts")
    form.get_by_label("Your question").fill("Can you add our purchase order number PO-4471 to this invoice?")
    with page.expect_response(lambda r: r.url.endswith("/questions")) as answer:
        form.get_by_role("button", name="Send question").click()
    assert answer.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text("Your question was not sent.")
    expect(form.get_by_text("Enter a valid email address, so that we can answer you.")).to_be_visible()
    expect(form.get_by_label("Your question")).to_have_value(
        "Can you add our purchase order number PO-4471 to this invoice?"
    )  # what was typed is kept
    expect(page.locator("section.panel .headline")).to_have_text("$490.00 due by March 31, 2027.")
    look(page, "question-errors")

    form.get_by_label("Your email").fill("pepper@stark.example")
    form.get_by_role("button", name="Send question").click()
    page.wait_for_url("**?question=sent*")
    questions = page.locator("section.questions")
    expect(questions.get_by_role("status")).to_have_text(
        "Your question was sent. We will answer you by email."
    )
    expect(questions.locator("ul.queries li")).to_have_count(1)
    expect(questions).to_contain_text("March 1, 2027 · Pepper Potts · Waiting for an answer")
    expect(questions).to_contain_text("purchase order number PO-4471")
    screenshot(page, "question-sent")

    [query] = api.get(f"/v1/invoice-queries?invoice={invoice['id']}")["data"]
    assert (query["email"], query["status"]) == ("pepper@stark.example", "open")
    api.post(f"/v1/invoice-queries/{query['id']}/resolve",
             {"resolution": "Done: invoice STARK-0001 now quotes PO-4471."}, expect=200)  # fmt: skip
    page.goto(hosted_url(api, invoice))
    expect(questions).to_contain_text("Answered on March 1, 2027")
    expect(questions.locator(".query-answer")).to_have_text("Done: invoice STARK-0001 now quotes PO-4471.")
