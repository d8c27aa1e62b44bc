"""Decline mapping: the provider's codes to a status and a hard-decline flag. Pure.

A *hard* decline means the same payment method must not be charged again off-session: the issuer
will not approve it (lost, stolen, closed, revoked), the card data itself is wrong, or the customer
must act (authenticate, use another card). Dunning stops retrying that method and asks the customer
for a new one; a soft decline (``insufficient_funds``, ``generic_decline``, ``do_not_honor``,
``processing_error``, ...) is retried on the dunning schedule.

Sources (docs/payments.md cites them):
* Stripe Smart Retries, "Hard decline codes": Stripe itself never retries these.
* The card networks' never-reattempt categories (Visa category 1, Mastercard merchant advice
  codes 03/21), which Stripe reports as the codes in ``NETWORK_NEVER_RETRY``.
* Error codes (not decline codes) that mean the stored card data is unusable as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from billing.payments.models import PaymentStatus

STRIPE_SMART_RETRIES_HARD: Final = frozenset(
    {
        "incorrect_number",
        "lost_card",
        "pickup_card",
        "stolen_card",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "authentication_required",
        "highest_risk_level",
        "transaction_not_allowed",
    }
)
"""docs.stripe.com/billing/revenue-recovery/smart-retries: "Stripe can't automatically retry a
payment if the card issuer returns any of these hard decline codes"."""

NETWORK_NEVER_RETRY: Final = frozenset(
    {
        "fraudulent",
        "merchant_blacklist",
        "restricted_card",
        "stop_payment_order",
        "invalid_account",
        "new_account_information_available",
        "do_not_try_again",
        "card_not_supported",
        "currency_not_supported",
        "security_violation",
        "service_not_allowed",
    }
)
"""Issuer answers that mean "never approve this card for this merchant" or "the account changed"."""

UNUSABLE_CARD_DATA: Final = frozenset(
    {
        "expired_card",
        "invalid_number",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "incorrect_cvc",
        "invalid_cvc",
        "incorrect_zip",
    }
)
"""Stripe error codes for card data that is wrong as stored: a retry sends the same data."""

HARD_DECLINE_CODES: Final = STRIPE_SMART_RETRIES_HARD | NETWORK_NEVER_RETRY | UNUSABLE_CARD_DATA

REQUIRES_ACTION_CODES: Final = frozenset({"authentication_required"})

_INTENT_STATUS: Final[dict[str, PaymentStatus]] = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_payment_method": "failed",
    "canceled": "failed",
    # Not expected with confirm=true and automatic capture; the outcome is not final yet.
    "requires_confirmation": "processing",
    "requires_capture": "processing",
}


def is_hard_decline(*, code: str | None, decline_code: str | None) -> bool:
    """True when either the error code or the issuer's decline code is a hard decline."""
    return (decline_code in HARD_DECLINE_CODES) or (code in HARD_DECLINE_CODES)


def classify_card_error(*, code: str | None, decline_code: str | None) -> tuple[PaymentStatus, bool]:
    """A card error (HTTP 402) → ``(status, hard_decline)``.

    ``authentication_required`` is ``requires_action`` (the customer must authenticate on-session)
    and hard (an off-session retry of the same method cannot pass). Every other card error is
    ``failed``; hard per ``HARD_DECLINE_CODES``, soft otherwise (unknown codes included: dunning
    bounds the retries anyway).
    """
    if code in REQUIRES_ACTION_CODES or decline_code in REQUIRES_ACTION_CODES:
        return "requires_action", True
    return "failed", is_hard_decline(code=code, decline_code=decline_code)


def status_from_intent(raw_status: str) -> PaymentStatus:
    """A PaymentIntent status → ours. Unknown statuses are ``processing``: wait for the webhook."""
    return _INTENT_STATUS.get(raw_status, "processing")


def customer_decline_reason(code: str | None, _: Callable[..., str]) -> str:
    """Why a payment failed, in the customer's words (``_``: the customer's gettext). As Stripe advises,
    a lost, stolen or fraud-flagged card is told only "declined"; the issuer's detail stays ours."""
    reasons = {
        "insufficient_funds": _("Your card has insufficient funds."),
        "expired_card": _("Your card has expired."),
        "incorrect_cvc": _("Your card's security code is incorrect."),
        "invalid_cvc": _("Your card's security code is incorrect."),
        "incorrect_number": _("Your card number is incorrect."),
        "invalid_number": _("Your card number is incorrect."),
        "processing_error": _("An error occurred while processing your card. Try again in a little bit."),
        "authentication_required": _("Your bank asked you to confirm this payment."),
        "payment_intent_authentication_failure": _("The payment was not confirmed with your bank."),
        "card_velocity_exceeded": _("Your card has reached its limit. Try another card."),
        "payment_method_missing": _("No card is on file for automatic payment."),
        "card_not_supported": _("Your card does not support this payment."),
        "currency_not_supported": _("Your card does not support this currency."),
    }
    return reasons.get(code or "", _("Your card was declined."))


def decline_reason(error: Mapping[str, Any] | None, _: Callable[..., str]) -> str | None:
    """``customer_decline_reason`` of a payment's recorded error (``decline_code`` first, then
    ``code``); None when there was no error."""
    if not error:
        return None
    return customer_decline_reason(error.get("decline_code") or error.get("code"), _)
