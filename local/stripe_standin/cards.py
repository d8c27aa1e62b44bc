"""Stripe's documented test payment methods (docs.stripe.com/testing), as the stand-in plays them.

``outcome``:
* ``succeed``: the payment succeeds;
* ``decline``: a card error (HTTP 402) with ``code``/``decline_code``/``message``;
* ``authenticate``: 3-D Secure on every payment: off-session → ``authentication_required``,
  on-session → ``requires_action``;
* ``setup_for_off_session``: succeeds off-session, needs authentication on-session;
* ``dispute``: succeeds, then a dispute is opened (``charge.dispute.created``).

Stripe: "The cards in the [declined payments] table can't be attached to a Customer object":
``attach_fails`` cards are refused by ``/attach`` with their decline. ``pm_card_chargeCustomerFail``
attaches and then fails every charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["succeed", "decline", "authenticate", "setup_for_off_session", "dispute"]

DECLINED = "Your card was declined."


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    outcome: Outcome = "succeed"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    param: str | None = None
    attach_fails: bool = False
    funding: str = "credit"
    dispute_reason: str | None = None
    __test__ = False  # not a pytest test class


def _decline(last4: str, code: str, decline: str | None, message: str, param: str | None = None) -> TestCard:
    return TestCard("visa", last4, "decline", code, decline, message, param, attach_fails=True)


_GENERIC = _decline("0002", "card_declined", "generic_decline", DECLINED)
_FUNDS = _decline("9995", "card_declined", "insufficient_funds", "Your card has insufficient funds.")
_LOST = _decline("9987", "card_declined", "lost_card", DECLINED)
_STOLEN = _decline("9979", "card_declined", "stolen_card", DECLINED)
_FRAUD = _decline("0019", "card_declined", "fraudulent", DECLINED)

TEST_CARDS: dict[str, TestCard] = {
    # successful payments
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", funding="debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_mastercard_debit": TestCard("mastercard", "8210", funding="debit"),
    "pm_card_mastercard_prepaid": TestCard("mastercard", "5100", funding="prepaid"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_discover": TestCard("discover", "1117"),
    # declined payments (docs: "Declined payments"; the pm_card_chargeDeclined* names are the older aliases)
    "pm_card_visa_chargeDeclined": _GENERIC,
    "pm_card_chargeDeclined": _GENERIC,
    "pm_card_visa_chargeDeclinedInsufficientFunds": _FUNDS,
    "pm_card_chargeDeclinedInsufficientFunds": _FUNDS,
    "pm_card_visa_chargeDeclinedLostCard": _LOST,
    "pm_card_chargeDeclinedLostCard": _LOST,
    "pm_card_visa_chargeDeclinedStolenCard": _STOLEN,
    "pm_card_chargeDeclinedStolenCard": _STOLEN,
    "pm_card_chargeDeclinedExpiredCard": _decline(
        "0069", "expired_card", None, "Your card has expired.", "exp_month"
    ),
    "pm_card_chargeDeclinedIncorrectCvc": _decline(
        "0127", "incorrect_cvc", None, "Your card's security code is incorrect.", "cvc"
    ),
    "pm_card_chargeDeclinedProcessingError": _decline(
        "0119",
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": _decline(
        "6975",
        "card_declined",
        "card_velocity_exceeded",
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
    ),
    # fraud (Radar "always blocked"; pm_card_chargeDeclinedFraudulent is the older name)
    "pm_card_radarBlock": _FRAUD,
    "pm_card_chargeDeclinedFraudulent": _FRAUD,
    # attaches, then every charge fails
    "pm_card_chargeCustomerFail": TestCard(
        "visa", "0341", "decline", "card_declined", "generic_decline", DECLINED
    ),
    # 3-D Secure
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate"),
    "pm_card_authenticationRequiredSetupForOffSession": TestCard("visa", "0446", "setup_for_off_session"),
    # disputes
    "pm_card_createDispute": TestCard("visa", "0259", "dispute", dispute_reason="fraudulent"),
    "pm_card_createDisputeProductNotReceived": TestCard(
        "visa", "2685", "dispute", dispute_reason="product_not_received"
    ),
    "pm_card_createDisputeInquiry": TestCard("visa", "1976", "dispute", dispute_reason="general"),
}

AUTHENTICATION_REQUIRED_MESSAGE = "Your card was declined. This transaction requires authentication."
AUTHENTICATION_FAILED_MESSAGE = "We are unable to authenticate your payment method. Please choose a different payment method and try again."

CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "4000056655665556": "pm_card_visa_debit",
    "5555555555554444": "pm_card_mastercard",
    "5200828282828210": "pm_card_mastercard_debit",
    "5105105105105100": "pm_card_mastercard_prepaid",
    "371449635398431": "pm_card_amex",
    "6011111111111117": "pm_card_discover",
    "4000000000000002": "pm_card_visa_chargeDeclined",
    "4000000000009995": "pm_card_visa_chargeDeclinedInsufficientFunds",
    "4000000000009987": "pm_card_visa_chargeDeclinedLostCard",
    "4000000000009979": "pm_card_visa_chargeDeclinedStolenCard",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000000000000127": "pm_card_chargeDeclinedIncorrectCvc",
    "4000000000000119": "pm_card_chargeDeclinedProcessingError",
    "4000000000006975": "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
    "4100000000000019": "pm_card_radarBlock",
    "4000000000000341": "pm_card_chargeCustomerFail",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000000259": "pm_card_createDispute",
    "4000000000002685": "pm_card_createDisputeProductNotReceived",
    "4000000000001976": "pm_card_createDisputeInquiry",
}
"""Stripe's test card numbers (docs.stripe.com/testing) → the test PaymentMethod they behave as; the
hosted Checkout page of the stand-in takes them in its card-number field."""

CHECKOUT_CHOICES: tuple[tuple[str, str], ...] = (
    ("pm_card_visa", "Visa 4242 – succeeds"),
    ("pm_card_mastercard", "Mastercard 4444 – succeeds"),
    ("pm_card_visa_chargeDeclined", "Visa 0002 – generic decline"),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "Visa 9995 – insufficient funds"),
    ("pm_card_visa_chargeDeclinedLostCard", "Visa 9987 – lost card"),
    ("pm_card_visa_chargeDeclinedStolenCard", "Visa 9979 – stolen card"),
    ("pm_card_chargeDeclinedExpiredCard", "Visa 0069 – expired card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "Visa 0127 – incorrect CVC"),
    ("pm_card_chargeDeclinedProcessingError", "Visa 0119 – processing error"),
    ("pm_card_authenticationRequired", "Visa 3184 – 3-D Secure required"),
)
"""The test cards the stand-in's Checkout page offers as choices (any ``pm_card_*`` or number works)."""


def card_for_number(number: str) -> str | None:
    """The test PaymentMethod of a Stripe test card number (spaces and dashes ignored), or None."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return CARD_NUMBERS.get(digits)
