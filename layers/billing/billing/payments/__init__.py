"""Payments: the provider interface, its typed results, and the Stripe adapter.

Importing this package does not import the stripe SDK (cold starts): ``StripeProvider`` loads it
on first use. See docs/payments.md.
"""

from __future__ import annotations

from billing.payments.factory import get_payment_provider, reset_payment_provider
from billing.payments.idempotency import charge_key, refund_key
from billing.payments.models import (
    CheckoutLink,
    PaymentMethodInfo,
    PaymentRecord,
    PaymentResult,
    PaymentStatus,
    RefundRecord,
    RefundResult,
    SetupIntentResult,
    WebhookEvent,
)
from billing.payments.provider import PaymentProvider
from billing.payments.settings import StripeSettings
from billing.payments.stripe_provider import StripeProvider
from billing.payments.webhooks import construct_webhook_event

__all__ = [
    "CheckoutLink",
    "PaymentMethodInfo",
    "PaymentProvider",
    "PaymentRecord",
    "PaymentResult",
    "PaymentStatus",
    "RefundRecord",
    "RefundResult",
    "SetupIntentResult",
    "StripeProvider",
    "StripeSettings",
    "WebhookEvent",
    "charge_key",
    "construct_webhook_event",
    "get_payment_provider",
    "refund_key",
    "reset_payment_provider",
]
