"""Provider idempotency keys, derived from business keys and never random.

A charge is identified by ``(invoice, attempt)``: every retry of one attempt (the SDK's own network
retries, our backoff loop, a queue redelivery, a Lambda re-run after a crash) sends the same key, so
the provider executes it at most once and replays its first answer afterwards. A new attempt (a
dunning retry after a known failure) takes the next attempt number and thus a new key.

Stripe keeps keys for at least 24 hours and refuses a key reused with different parameters
(``idempotency_error``): the payment method and amount of an attempt must not change between its
retries. Keys are at most 255 characters.
"""

from __future__ import annotations

import hashlib
import re

from billing.errors import ValidationFailed

MAX_KEY_LENGTH = 255
_ID_RE = re.compile(r"^[A-Za-z0-9_\-.:]{1,120}$")


def _check_id(value: object, *, param: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValidationFailed(
            f"{param} must be 1-120 characters of letters, digits, '_', '-', '.' or ':'",
            code="invalid_identifier",
            param=param,
        )
    return value


def _check_attempt(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed("attempt must be an integer >= 1", code="invalid_attempt", param="attempt")
    return value


def _digest(*parts: str | int | None) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def charge_key(invoice_id: str, attempt: int) -> str:
    """``invoice-{invoice_id}-attempt-{attempt}``: the one key of one charge attempt."""
    return f"invoice-{_check_id(invoice_id, param='invoice_id')}-attempt-{_check_attempt(attempt)}"


def refund_key(credit_note_id: str) -> str:
    """``credit-note-{id}-refund``: a credit note refunds at most once."""
    return f"credit-note-{_check_id(credit_note_id, param='credit_note_id')}-refund"


def customer_key(customer_id: str, *, email: str | None, name: str | None) -> str:
    """One provider customer per (our customer, the details sent) within the key's lifetime.

    The details are hashed into the key so that an edit between a crash and its retry creates a
    customer with the new details instead of failing with an idempotency error.
    """
    return f"customer-{_check_id(customer_id, param='customer_id')}-{_digest(email, name)}"


def checkout_key(
    invoice_id: str,
    *,
    amount: int,
    currency: str,
    provider_customer_id: str | None,
    customer_email: str | None,
    success_url: str,
    cancel_url: str,
    description: str | None,
    generation: int = 1,
) -> str:
    """The same pay link for the same request; a changed amount, URL or text gets a new session, and
    so does a new ``generation`` (the invoice's previous link expired or was paid: a fresh session for
    the same amount, which Stripe's 24-hour key memory would otherwise answer with the old one)."""
    digest = _digest(
        amount, currency, provider_customer_id, customer_email, success_url, cancel_url, description
    )
    invoice = _check_id(invoice_id, param="invoice_id")
    if generation == 1:
        return f"checkout-{invoice}-{digest}"
    return f"checkout-{invoice}-{_check_attempt(generation)}-{digest}"
