"""Paying from the invoice, receipts and questions: the rules that need no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from billing import i18n
from billing.models.invoices import Invoice
from billing.models.payments import Payment
from billing.payments.declines import customer_decline_reason
from billing.payments.idempotency import checkout_key
from billing.payments.stripe_provider import _checkout_session
from billing.services.checkout import checkout_refusal, checkout_urls
from billing.services.invoice_queries import check_question, query_id_for
from billing.services.notifications import NotificationMessage
from billing.services.payment_history import how_settled, money_received
from billing.services.receipts import (
    card_label,
    out_of_band_label,
    payment_label,
    receipt_actions,
    receipt_due,
)

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
_ = i18n.gettext_for("en")


def invoice(**fields: object) -> Invoice:
    values: dict[str, object] = {
        "id": "in_0000000000000001",
        "customer_id": "cus_0000000000000001",
        "status": "open",
        "currency": "usd",
        "billing_date": NOW,
        "lines": [],
        "subtotal": 10_000,
        "total": 10_000,
        "amount_due": 10_000,
        "amount_remaining": 10_000,
        "hosted_token": "T" * 32,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Invoice.model_validate(values)


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({}, None),
        ({"status": "uncollectible"}, None),
        ({"status": "draft"}, "draft"),
        ({"status": "void"}, "void"),
        ({"status": "paid", "amount_remaining": 0}, "paid"),
        ({"amount_remaining": 0}, "nothing_due"),
        ({"payment_in_flight": True}, "payment_in_flight"),
    ],
)
def test_what_can_be_paid_from_the_page(fields, refusal):
    assert checkout_refusal(invoice(**fields)) == refusal


def test_the_provider_sends_the_customer_back_to_the_page():
    success, cancel = checkout_urls("https://pay.example/", "T" * 32)
    assert success == f"https://pay.example/i/{'T' * 32}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    assert cancel == f"https://pay.example/i/{'T' * 32}?checkout=canceled"


def test_a_new_generation_is_a_new_checkout_key_and_the_first_keeps_the_old_key():
    base = {"amount": 1000, "currency": "usd", "provider_customer_id": None, "customer_email": "a@b.example",
            "success_url": "https://s", "cancel_url": "https://c", "description": "Invoice X"}  # fmt: skip
    first = checkout_key("in_1", **base)
    assert checkout_key("in_1", **base, generation=1) == first
    second = checkout_key("in_1", **base, generation=2)
    assert second != first and second.startswith("checkout-in_1-2-")


def test_a_receipt_is_due_when_the_invoice_is_paid_with_money_received():
    before = invoice()
    paid = before.model_copy(update={"status": "paid", "amount_paid": 10_000, "amount_remaining": 0})
    credited = before.model_copy(
        update={"status": "paid", "amount_remaining": 0, "credit_notes_total": 10_000}
    )
    partial = before.model_copy(update={"amount_paid": 4_000, "amount_remaining": 6_000})
    assert receipt_due(before, paid) and receipt_actions(before, paid, at=NOW)
    assert not receipt_due(before, credited) and receipt_actions(before, credited, at=NOW) == []
    assert not receipt_due(before, partial)  # a partial payment: the receipt page, no email
    assert not receipt_due(paid, paid.model_copy(update={"amount_paid": 12_000}))  # already paid


def test_how_a_payment_was_made_reads_like_a_receipt():
    assert card_label("visa", "4242", _) == "Visa •••• 4242"
    assert card_label("amex", "8431", _) == "American Express •••• 8431"
    assert card_label("new_network", "1111", _) == "New Network •••• 1111"
    assert card_label(None, None, _) == "Card"
    assert out_of_band_label("bank_transfer", _) == "Bank transfer"
    assert out_of_band_label(None, _) == "Payment recorded by the seller"
    payment = Payment(id="py_1", invoice_id="in_1", customer_id="cus_1", amount=1, currency="usd",
                      status="succeeded", provider="stripe", attempt=0, created_at=NOW,
                      payment_method_type="card", card_brand="mastercard", card_last4="4444")  # fmt: skip
    assert payment_label(payment, _) == "Mastercard •••• 4444"


def test_declines_in_the_customers_words_never_say_lost_or_stolen():
    assert customer_decline_reason("insufficient_funds", _) == "Your card has insufficient funds."
    for code in ("lost_card", "stolen_card", "fraudulent", "generic_decline", None, "something_new"):
        assert customer_decline_reason(code, _) == "Your card was declined."


def test_how_an_invoice_was_settled():
    assert how_settled(invoice()) is None
    paid = {"status": "paid", "amount_remaining": 0}
    assert how_settled(invoice(**paid, amount_paid=10_000)) == "payments"
    assert how_settled(
        invoice(**paid, amount_paid=10_000, paid_out_of_band=True, out_of_band_amount=10_000)
    ) == ("out_of_band")
    assert how_settled(invoice(**paid, credit_notes_total=10_000)) == "credit_notes"
    assert how_settled(invoice(**paid, credit_applied=10_000, amount_due=0)) == "credit_balance"
    assert how_settled(invoice(**paid, total=0, subtotal=0, amount_due=0)) == "zero_total"
    assert how_settled(invoice(**paid, amount_paid=4_000, credit_notes_total=6_000)) == "mixed"
    assert money_received(invoice(amount_paid=1)) and not money_received(invoice())


def test_a_question_is_cleaned_and_checked():
    values, errors = check_question(
        {"email": " ap@acme.example ", "name": " Ada \n Lovelace ", "message": "a\r\nb\x00\x07c ",
         "nonce": "n" * 24},
        locale="en",
    )  # fmt: skip
    assert errors == {}
    assert values == {
        "email": "ap@acme.example",
        "name": "Ada Lovelace",
        "message": "a\nbc",
        "nonce": "n" * 24,
    }
    _, errors = check_question({"email": "x@y", "message": "", "nonce": "short"}, locale="en")
    assert set(errors) == {"email", "message", "nonce"}
    _, errors = check_question({"email": ["list"], "message": 42, "nonce": None}, locale="en")  # not strings
    assert set(errors) == {"email", "message", "nonce"}
    assert query_id_for("in_1", "n" * 24) == query_id_for("in_1", "n" * 24) != query_id_for("in_2", "n" * 24)


def test_a_question_notification_names_its_query():
    message = NotificationMessage(
        kind="invoice_query", invoice_id="in_0000000000000001", query_id="iq_0123456789abcdef"
    )
    assert message.marker_kind == "invoice_query#iq_0123456789abcdef"
    assert (
        NotificationMessage(kind="invoice_paid", invoice_id="in_0000000000000001").marker_kind
        == "invoice_paid"
    )
    with pytest.raises(ValidationError):
        NotificationMessage(kind="invoice_query", invoice_id="in_0000000000000001")
    with pytest.raises(ValidationError):
        NotificationMessage(
            kind="invoice_paid", invoice_id="in_0000000000000001", query_id="iq_0123456789abcdef"
        )


def test_a_checkout_session_as_stripe_returns_it_expanded():
    session = _checkout_session(
        {
            "id": "cs_test_1", "mode": "payment", "status": "open", "payment_status": "unpaid",
            "amount_total": 4200, "currency": "eur", "client_reference_id": "in_1", "metadata": {},
            "expires_at": 1_800_000_000, "customer": None, "setup_intent": None,
            "payment_intent": {
                "id": "pi_1", "status": "requires_payment_method",
                "payment_method": {"id": "pm_1", "type": "card", "card": {"brand": "visa", "last4": "0002"}},
                "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline", "message": "No."},
            },
        }
    )  # fmt: skip
    assert session.invoice_id == "in_1" and session.provider_payment_id == "pi_1"
    assert session.payment_method is not None and session.payment_method.last4 == "0002"
    assert session.last_payment_error == {
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "No.",
    }
    assert session.setup_payment_method is None
