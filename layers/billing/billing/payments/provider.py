"""The payment provider interface. ``StripeProvider`` is the real one.

Rules every implementation keeps:

* A charge is identified by ``(invoice_id, attempt)`` and sent under an idempotency key derived
  from it (``billing.payments.idempotency.charge_key``): retrying one attempt, for any reason and
  any number of times, charges at most once. A new attempt number is taken only once the previous
  attempt's outcome is known.
* Outcomes of a payment (paid, declined, needs authentication, pending) are returned as a
  ``PaymentResult``; errors that say nothing about the payment are raised: ``ProviderUnavailable``
  (transient, retry later with the same arguments), ``Conflict`` (an idempotency key reused with
  different parameters), ``NotFound``/``ValidationFailed`` (a bad request), ``PaymentFailed`` (a
  card refused while being attached), ``ConfigurationError`` (bad or missing keys).
* No card number ever passes through this interface: payment methods are collected client-side
  (SetupIntent or Checkout) and referred to by id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from billing.payments.models import (
    CheckoutLink,
    CheckoutSession,
    PaymentMethodDetails,
    PaymentMethodInfo,
    PaymentRecord,
    PaymentResult,
    RefundRecord,
    RefundResult,
    SetupIntentResult,
    WebhookEvent,
)


@runtime_checkable
class PaymentProvider(Protocol):
    name: str

    def ensure_customer(
        self,
        *,
        customer_id: str,
        email: str | None,
        name: str | None,
        existing_provider_id: str | None = None,
    ) -> str:
        """The provider's customer id for our customer, created on first use (the caller stores it)."""
        ...

    def attach_payment_method(
        self, *, provider_customer_id: str, payment_method_id: str, make_default: bool = True
    ) -> PaymentMethodInfo:
        """Attach a payment method collected client-side; returns the attached method (its id may differ)."""
        ...

    def create_setup_intent(self, *, provider_customer_id: str) -> SetupIntentResult:
        """A SetupIntent for off-session use; its client secret lets the client collect a method."""
        ...

    def charge(
        self,
        *,
        invoice_id: str,
        attempt: int,
        amount: int,
        currency: str,
        provider_customer_id: str,
        payment_method_id: str | None = None,
        description: str | None = None,
    ) -> PaymentResult:
        """Charge off-session; ``payment_method_id=None`` uses the customer's default method."""
        ...

    def refund(
        self,
        *,
        provider_payment_id: str,
        amount: int,
        credit_note_id: str,
        reason: str | None = None,
    ) -> RefundResult:
        """Refund part or all of a payment, once per credit note."""
        ...

    def create_checkout_session(
        self,
        *,
        invoice_id: str,
        amount: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        provider_customer_id: str | None = None,
        customer_email: str | None = None,
        description: str | None = None,
        generation: int = 1,
    ) -> CheckoutLink:
        """A hosted pay link (Checkout, payment mode) for ``amount`` of the invoice. The same request
        gives the same session; ``generation`` n+1 asks for a new one after link n expired or was paid."""
        ...

    def retrieve_checkout_session(self, *, session_id: str) -> CheckoutSession:
        """A Checkout Session with its PaymentIntent's state and card (payment mode) or the saved card
        (setup mode). ``NotFound`` for an unknown session."""
        ...

    def expire_checkout_session(self, *, session_id: str) -> CheckoutSession:
        """Expire an open session so that it can no longer be paid; a session that is no longer open
        (paid, expired) is returned as it is: the caller looks at ``status``."""
        ...

    def create_setup_checkout_session(
        self, *, provider_customer_id: str, success_url: str, cancel_url: str
    ) -> CheckoutLink:
        """A hosted page (Checkout, setup mode) where the customer saves a card to their provider
        customer; once complete, ``retrieve_checkout_session(...).setup_payment_method`` is the card."""
        ...

    def payment_method_details(self, *, provider_payment_id: str) -> PaymentMethodDetails | None:
        """Brand and last digits of the method a payment was made with (None when it has none)."""
        ...

    def list_payments(self, *, created_gte: datetime, created_lt: datetime) -> Iterator[PaymentRecord]:
        """Every payment created in ``[created_gte, created_lt)``, all pages."""
        ...

    def list_refunds(self, *, created_gte: datetime, created_lt: datetime) -> Iterator[RefundRecord]:
        """Every refund created in ``[created_gte, created_lt)``, all pages."""
        ...

    def list_refunds_of_payment(self, *, provider_payment_id: str) -> Iterator[RefundRecord]:
        """Every refund of one payment (``charge.refunded`` does not name the refund)."""
        ...

    def construct_webhook_event(
        self, payload: bytes | str, sig_header: str | None, *, tolerance: int = 300
    ) -> WebhookEvent:
        """Verify a webhook's signature and timestamp; ``ValidationFailed`` (``invalid_signature``) if not."""
        ...
