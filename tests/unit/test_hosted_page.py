"""The hosted invoice page in every state: what the status panel says, whether Pay is offered, and
that no payment request is left anywhere on the page once nothing is due. Pure (no table): the state
is built by hand and the page rendered from the packaged templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.models.account import AccountSettings
from billing.models.invoices import Invoice
from billing.services import documents, hosted_view
from billing.services.checkout import CheckoutReturn, checkout_refusal
from billing.services.hosted import HOSTED_TEMPLATE, HostedPageState, QuestionForm
from billing.services.invoice_queries import PageQuery
from billing.services.payment_history import ActivityEntry, how_settled, money_received

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
ISSUED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TOKEN = "T" * 32
SELLER = AccountSettings.model_validate(
    {
        "legal_name": "Acme Analytics Inc.",
        "address": {"line1": "350 Fifth Avenue", "city": "New York", "postal_code": "10118", "state": "NY",
                    "country": "US"},
        "support_email": "billing@acme.example",
        "payment_instructions": "Bank transfer: First Bank, account 000123456789.",
    }
)  # fmt: skip


def invoice(**fields: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": "in_0000000000000001",
        "customer_id": "cus_0000000000000001",
        "number": "GLOBEX-0001",
        "status": "open",
        "collection_method": "send_invoice",
        "currency": "usd",
        "billing_date": ISSUED,
        "lines": [],
        "subtotal": 10_000,
        "total": 10_000,
        "amount_due": 10_000,
        "amount_remaining": 10_000,
        "due_date": ISSUED + timedelta(days=30),
        "finalized_at": ISSUED,
        "hosted_token": TOKEN,
        "customer_snapshot": {
            "name": "Globex Inc",
            "emails": ["ap@globex.example"],
            "address": {"country": "US"},
        },
        "seller_snapshot": SELLER.model_dump(mode="json"),
        "created_at": ISSUED,
        "updated_at": ISSUED,
    }
    values.update(fields)
    return Invoice.model_validate(values)


def paid(**fields: Any) -> Invoice:
    return invoice(status="paid", amount_remaining=0, paid_at=NOW, **fields)


def payment(amount: int = 10_000, **fields: Any) -> ActivityEntry:
    values = {"kind": "payment", "at": NOW, "amount": amount, "currency": "usd", "status": "succeeded",
              "method": "Visa •••• 4242", "reference": "py_1"}  # fmt: skip
    return ActivityEntry.model_validate(values | fields)


def credit_note(amount: int = 2_500) -> ActivityEntry:
    return ActivityEntry(kind="credit_note", at=ISSUED + timedelta(days=1), amount=amount, currency="usd",
                         credit_note_number="GLOBEX-0001-CN-01", reference="cn_0123456789abcdef")  # fmt: skip


def state(inv: Invoice, **fields: Any) -> HostedPageState:
    values: dict[str, Any] = {
        "invoice": inv,
        "payable": checkout_refusal(inv) is None,
        "activity": [],
        "settled": how_settled(inv),
        "receipt_available": money_received(inv),
        "queries": [],
        "question_nonce": "nonce-0123456789abcdef",
    }
    return HostedPageState.model_validate(values | fields)


def render(page_state: HostedPageState) -> str:
    view = hosted_view.page_view(page_state, seller=AccountSettings(), page_path=f"/i/{TOKEN}", now=NOW)
    return documents.render(HOSTED_TEMPLATE, **view)


def text(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


PAY_FORM = f'action="/i/{TOKEN}/pay"'


@pytest.mark.parametrize(
    ("page_state", "kind", "says", "pay"),
    [
        (state(invoice()), "open", ["$100.00 due by March 31, 2027.", "Pay $100.00", "First Bank",
                                    "Please quote invoice GLOBEX-0001"], True),
        (state(invoice(due_date=ISSUED + timedelta(days=5))), "overdue",
         ["$100.00 was due on March 6, 2027.", "This invoice is overdue.", "Pay $100.00"], True),
        # $25 credit note on $100: it asks for what remains, never for the whole amount.
        (state(invoice(amount_remaining=7_500, credit_notes_total=2_500, credit_notes_count=1),
               activity=[credit_note()]),
         "open", ["$75.00 due by March 31, 2027.", "Pay $75.00", "Invoice total $100.00", "Credit notes -$25.00",
                  "Remaining $75.00", "Credit note GLOBEX-0001-CN-01"], True),
        (state(invoice(amount_remaining=6_000, amount_paid=4_000), activity=[payment(4_000)]), "open",
         ["$60.00 due by", "Paid -$40.00", "Remaining $60.00", "Pay $60.00"], True),
        (state(paid(amount_paid=10_000), activity=[payment()]), "paid",
         ["Paid on March 10, 2027. Thank you.", "$100.00 paid. Payment method: Visa •••• 4242.", "View receipt"], False),
        (state(paid(credit_notes_total=10_000, credit_notes_count=1), activity=[credit_note(10_000)]), "paid",
         ["Settled by credit notes: nothing remains to pay."], False),
        (state(paid(total=0, subtotal=0, amount_due=0)), "paid", ["Nothing was due on this invoice."], False),
        (state(paid(credit_applied=10_000, amount_due=0)), "paid",
         ["Settled with your account credit: nothing remains to pay."], False),
        (state(paid(amount_paid=7_500, credit_notes_total=2_500), activity=[credit_note(), payment(7_500)]), "paid",
         ["Settled by payments and credits", "Credit notes -$25.00", "Paid -$75.00", "Remaining $0.00"], False),
        (state(invoice(status="void", voided_at=NOW)), "void",
         ["This invoice was voided on March 10, 2027.", "Nothing is due"], False),
        (state(invoice(status="uncollectible", due_date=ISSUED + timedelta(days=5))), "uncollectible",
         ["$100.00 remains unpaid.", "This invoice was due on March 6, 2027. You can still pay it.", "Pay $100.00"],
         True),
        (state(invoice(payment_in_flight=True, collection_method="charge_automatically")), "processing",
         ["A payment is being processed."], False),
        (state(invoice(collection_method="charge_automatically", due_date=None), card_on_file="Visa •••• 4242"),
         "autopay", ["$100.00 will be charged to your Visa •••• 4242.", "nothing for you to do"], False),
        (state(invoice(collection_method="charge_automatically", due_date=None, payment_attempts=1,
                       last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"}),
               card_on_file="Visa •••• 4242", next_retry_at=NOW + timedelta(days=3)),
         "autopay_failed", ["Your automatic payment of $100.00 failed.", "Your card has insufficient funds.",
                            "We will try your card again on March 13, 2027.", "Pay $100.00"], True),
        # No card on file: an automatic invoice is paid like any other.
        (state(invoice(collection_method="charge_automatically")), "open", ["$100.00 due by"], True),
    ],
)  # fmt: skip
def test_the_status_panel_agrees_with_the_invoice(page_state, kind, says, pay):
    assert hosted_view.panel_kind(page_state, now=NOW) == kind
    html = render(page_state)
    words = text(html)
    for sentence in says:
        assert sentence in words, sentence
    assert (PAY_FORM in html) is pay
    if not pay:  # nothing is asked for: no payment request, no bank details, anywhere on the page
        assert "Please pay" not in words and "Please quote" not in words and "First Bank" not in words
    assert "<script" not in html


def test_the_page_never_asks_for_more_than_what_remains():
    words = text(render(state(invoice(amount_remaining=7_500, credit_notes_total=2_500))))
    asked = re.findall(r"(?:due by|Pay|was due on) \$[\d,.]+|\$[\d,.]+ (?:due|was due)", words)
    assert asked and all("$75.00" in a for a in asked), asked


def test_back_from_checkout_the_outcome_is_part_of_the_panel():
    paid_now = paid(amount_paid=10_000)
    words = text(
        render(state(paid_now, checkout_return=CheckoutReturn(outcome="recorded", invoice=paid_now)))
    )
    assert "Your payment was received." in words and "Paid on March 10, 2027. Thank you." in words
    partly = invoice(amount_paid=4_000, amount_remaining=6_000)
    words = text(render(state(partly, checkout_return=CheckoutReturn(outcome="recorded", invoice=partly))))
    assert "Your payment was received. $60.00 remains to pay." in words and "Pay $60.00" in words
    declined = CheckoutReturn(outcome="not_paid", invoice=invoice(), decline={"decline_code": "expired_card"})
    words = text(render(state(invoice(), checkout_return=declined)))
    assert "Your payment was not completed: nothing was charged. Your card has expired." in words
    expired = CheckoutReturn(outcome="expired", invoice=invoice())
    assert "The payment page expired" in text(render(state(invoice(), checkout_return=expired)))
    waiting = CheckoutReturn(outcome="unavailable", invoice=invoice())
    assert "We are confirming your payment" in text(render(state(invoice(), checkout_return=waiting)))
    refused = ActivityEntry(kind="payment_failed", at=NOW, amount=10_000, currency="usd", status="failed",
                            decline_reason="Your card has insufficient funds.", reference="ch_1")  # fmt: skip
    words = text(render(state(invoice(), checkout_canceled=True, activity=[refused])))
    assert "Payment canceled: nothing was charged. Your last payment attempt failed." in words
    assert "Payment failed Your card has insufficient funds." in words  # and in the history


def test_the_history_lists_payments_refusals_refunds_and_credit_notes_with_their_pdf():
    activity = [
        credit_note(),
        ActivityEntry(kind="payment_failed", at=NOW, amount=7_500, currency="usd", status="failed",
                      method="Visa •••• 0002", decline_reason="Your card was declined.", reference="ch_1"),
        payment(7_500, status="partially_refunded"),
        ActivityEntry(kind="refund", at=NOW, amount=1_000, currency="usd", status="succeeded", reference="re_1"),
    ]  # fmt: skip
    html = render(state(paid(amount_paid=7_500, credit_notes_total=2_500), activity=activity))
    words = text(html)
    assert "Payment history" in words
    for row in ("March 2, 2027 Credit note GLOBEX-0001-CN-01 PDF $25.00",
                "Payment failed Your card was declined. Visa •••• 0002 $75.00",
                "Payment, partly refunded Visa •••• 4242 $75.00", "Refund $10.00"):  # fmt: skip
        assert row in words, row
    assert html.count(f'href="/i/{TOKEN}/credit-notes/cn_0123456789abcdef/pdf"') == 2  # history and documents


def test_questions_are_listed_and_a_refused_form_comes_back_with_its_errors():
    asked = PageQuery(id="iq_1", name="Ada", message="Is VAT included?", status="resolved", created_at=ISSUED,
                      resolved_at=NOW, resolution="No: you are not charged VAT.")  # fmt: skip
    html = render(state(invoice(), queries=[asked], question_sent=True))
    words = text(html)
    assert "Your question was sent." in words
    assert (
        "Is VAT included?" in words
        and "Answered on March 10, 2027" in words
        and "No: you are not charged" in words
    )
    assert 'value="ap@globex.example"' in html and 'value="nonce-0123456789abcdef"' in html
    form = QuestionForm(email="ap@globex", name="Ada", message="<b>Hi</b>", nonce="nonce-kept-0123456789",
                        errors={"email": "Enter a valid email address, so that we can answer you."})  # fmt: skip
    html = render(state(invoice(), question_form=form))
    assert "Your question was not sent." in text(html) and "Enter a valid email address" in html
    assert 'value="ap@globex"' in html and "&lt;b&gt;Hi&lt;/b&gt;</textarea>" in html
    assert 'value="nonce-kept-0123456789"' in html and 'aria-invalid="true"' in html


def test_the_stored_document_stays_a_clean_document():
    html = documents.render_invoice(invoice(), seller=AccountSettings())
    assert "<form" not in html and "<button" not in html and "Payment history" not in html
    assert "Please pay $100.00 by March 31, 2027, quoting invoice GLOBEX-0001." in text(html)


@pytest.mark.parametrize(
    ("color", "text_color"), [("#1F2937", "#ffffff"), ("#FDE047", "#111827"), ("#2563EB", "#ffffff")]
)
def test_the_pay_button_text_reads_on_the_brand_colour(color, text_color):
    assert hosted_view.text_color_on(color) == text_color
