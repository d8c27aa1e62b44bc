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
