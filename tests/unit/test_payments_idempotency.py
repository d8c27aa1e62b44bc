"""Provider idempotency keys come from business keys: the same attempt always sends the same key."""

from __future__ import annotations

import pytest

from billing.errors import ValidationFailed
from billing.payments.idempotency import (
    MAX_KEY_LENGTH,
    charge_key,
    checkout_key,
    customer_key,
    refund_key,
)


def test_charge_key_is_derived_from_invoice_and_attempt():
    assert charge_key("in_7Hq2", 1) == "invoice-in_7Hq2-attempt-1"
    assert charge_key("in_7Hq2", 12) == "invoice-in_7Hq2-attempt-12"


def test_same_attempt_same_key_next_attempt_new_key():
    assert charge_key("in_1", 3) == charge_key("in_1", 3)
    assert charge_key("in_1", 3) != charge_key("in_1", 4)
    assert charge_key("in_1", 3) != charge_key("in_2", 3)


@pytest.mark.parametrize("attempt", [0, -1, True, False, "1", 1.0, None])
def test_attempt_must_be_a_positive_int(attempt):
    with pytest.raises(ValidationFailed) as info:
        charge_key("in_1", attempt)
    assert info.value.code == "invalid_attempt"
    assert info.value.param == "attempt"


@pytest.mark.parametrize("invoice_id", ["", "in 1", "in/1", "x" * 121, None, 5])
def test_invoice_id_must_be_a_plain_identifier(invoice_id):
    with pytest.raises(ValidationFailed) as info:
        charge_key(invoice_id, 1)
    assert info.value.code == "invalid_identifier"
    assert info.value.param == "invoice_id"


def test_keys_fit_stripes_limit():
    longest = "x" * 120
    assert len(charge_key(longest, 10**9)) <= MAX_KEY_LENGTH
    assert len(refund_key(longest)) <= MAX_KEY_LENGTH
    assert len(customer_key(longest, email="e" * 300, name="n" * 300)) <= MAX_KEY_LENGTH
    assert (
        len(
            checkout_key(
                longest,
                amount=1,
                currency="usd",
                provider_customer_id=None,
                customer_email=None,
                success_url="https://x/" + "s" * 500,
                cancel_url="https://x/c",
                description=None,
            )
        )
        <= MAX_KEY_LENGTH
    )


def test_refund_key_is_one_per_credit_note():
    assert refund_key("cn_9") == "credit-note-cn_9-refund"
    with pytest.raises(ValidationFailed):
        refund_key("cn 9")


def test_customer_key_is_stable_and_follows_the_details_sent():
    a = customer_key("cus_1", email="a@example.com", name="Ada")
    assert a == customer_key("cus_1", email="a@example.com", name="Ada")
    assert a.startswith("customer-cus_1-")
    # edited details between a crash and its retry: a new key, so Stripe does not refuse the request
    assert a != customer_key("cus_1", email="b@example.com", name="Ada")
    assert customer_key("cus_1", email=None, name="x") != customer_key("cus_1", email="x", name=None)


def test_checkout_key_changes_with_what_the_link_charges():
    base = {
        "amount": 1000,
        "currency": "eur",
        "provider_customer_id": "cus_S1",
        "customer_email": None,
        "success_url": "https://shop/ok",
        "cancel_url": "https://shop/no",
        "description": None,
    }
    first = checkout_key("in_1", **base)
    assert first == checkout_key("in_1", **base)
    assert first.startswith("checkout-in_1-")
    assert first != checkout_key("in_1", **{**base, "amount": 1001})
    assert first != checkout_key("in_1", **{**base, "success_url": "https://shop/ok2"})
