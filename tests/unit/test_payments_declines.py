"""Decline mapping table: Stripe's codes → our status and hard-decline flag."""

from __future__ import annotations

import pytest

from billing.payments.declines import (
    HARD_DECLINE_CODES,
    STRIPE_SMART_RETRIES_HARD,
    classify_card_error,
    is_hard_decline,
    status_from_intent,
)


@pytest.mark.parametrize(
    ("code", "decline_code", "status", "hard"),
    [
        # Stripe's test cards (docs.stripe.com/testing, "Declined payments")
        ("card_declined", "generic_decline", "failed", False),
        ("card_declined", "insufficient_funds", "failed", False),
        ("card_declined", "lost_card", "failed", True),
        ("card_declined", "stolen_card", "failed", True),
        ("expired_card", None, "failed", True),
        ("incorrect_cvc", None, "failed", True),
        ("processing_error", None, "failed", False),
        ("card_declined", "card_velocity_exceeded", "failed", False),
        ("card_declined", "fraudulent", "failed", True),
        ("incorrect_number", None, "failed", True),
        # 3-D Secure needed off-session
        ("authentication_required", "authentication_required", "requires_action", True),
        ("card_declined", "authentication_required", "requires_action", True),
        # issuer answers that are worth another try on the dunning schedule
        ("card_declined", "do_not_honor", "failed", False),
        ("card_declined", "try_again_later", "failed", False),
        ("card_declined", "issuer_not_available", "failed", False),
        # issuer answers that say never again
        ("card_declined", "pickup_card", "failed", True),
        ("card_declined", "do_not_try_again", "failed", True),
        ("card_declined", "transaction_not_allowed", "failed", True),
        ("card_declined", "revocation_of_all_authorizations", "failed", True),
        ("card_declined", "stop_payment_order", "failed", True),
        # unknown or missing codes: soft (dunning bounds the retries)
        ("card_declined", None, "failed", False),
        ("card_declined", "some_new_code", "failed", False),
        (None, None, "failed", False),
    ],
)
def test_card_error_mapping(code, decline_code, status, hard):
    assert classify_card_error(code=code, decline_code=decline_code) == (status, hard)


def test_every_stripe_smart_retries_hard_code_is_hard():
    for code in STRIPE_SMART_RETRIES_HARD:
        assert is_hard_decline(code="card_declined", decline_code=code), code
    assert STRIPE_SMART_RETRIES_HARD <= HARD_DECLINE_CODES


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("succeeded", "succeeded"),
        ("requires_action", "requires_action"),
        ("processing", "processing"),
        ("requires_payment_method", "failed"),
        ("canceled", "failed"),
        ("requires_confirmation", "processing"),
        ("requires_capture", "processing"),
        ("something_new", "processing"),
    ],
)
def test_payment_intent_status_mapping(raw, status):
    assert status_from_intent(raw) == status
