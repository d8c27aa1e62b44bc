"""What a payment provider hands back: typed results, never the provider's own objects.

Every amount is an int in minor units with a lowercase ISO currency code, as everywhere in the
package. Timestamps are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PaymentStatus = Literal["succeeded", "requires_action", "failed", "processing"]
"""The outcome of one charge attempt, as the rest of the package sees it.

* ``succeeded``: the money is captured.
* ``requires_action``: the customer must authenticate (3-D Secure) on-session; retrying off-session
  with the same payment method cannot succeed.
* ``failed``: declined (``decline_code``/``failure_code`` say why) or no usable payment method.
* ``processing``: the provider has not decided yet; the outcome arrives by webhook.
"""

RefundStatus = Literal["succeeded", "pending", "failed", "requires_action", "canceled"]


class PaymentResult(BaseModel):
    """One charge attempt of one invoice: ``(invoice_id, attempt)`` is its identity."""

    model_config = ConfigDict(frozen=True)

    status: PaymentStatus
    invoice_id: str
    attempt: int
    amount: int
    currency: str
    idempotency_key: str
    """The provider idempotency key the attempt was made under (derived from invoice and attempt)."""
    provider_payment_id: str | None = None
    """The PaymentIntent id (``pi_...``); None only when no PaymentIntent was created."""
    payment_method_id: str | None = None
    failure_code: str | None = None
    """The provider's error code (``card_declined``, ``expired_card``, ``authentication_required``...)."""
    decline_code: str | None = None
    """The issuer's reason when the card was declined (``insufficient_funds``, ``stolen_card``...)."""
    failure_message: str | None = None
    hard_decline: bool = False
    """True when retrying the same payment method off-session must not be attempted (see docs/payments.md)."""
    raw_status: str | None = None
    """The PaymentIntent status exactly as the provider reported it."""
    replayed: bool = False
    """The provider answered from its idempotency cache: this attempt had already been made."""


class RefundResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_refund_id: str
    provider_payment_id: str
    credit_note_id: str
    amount: int
    currency: str
    status: RefundStatus
    idempotency_key: str
    failure_reason: str | None = None
    replayed: bool = False


class PaymentMethodInfo(BaseModel):
    """A payment method attached to a customer; card data is limited to what may be shown."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The attached method's id: for Stripe's ``pm_card_*`` test shortcuts a new ``pm_`` id."""
    provider_customer_id: str
    type: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    is_default: bool = False


class SetupIntentResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    client_secret: str
    """Handed to the client (Stripe.js) to collect a payment method; never logged."""


class CheckoutLink(BaseModel):
    """A hosted page: Stripe Checkout in payment mode (pay an invoice) or setup mode (save a card)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    url: str
    expires_at: datetime | None = None


class PaymentMethodDetails(BaseModel):
    """What may be shown of the method a payment was made with ("Visa •••• 4242"): never card data."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    type: str = "card"
    brand: str | None = None
    """``visa``, ``mastercard``, ``amex``... (Stripe's ``card.brand``)."""
    last4: str | None = None


CheckoutStatus = Literal["open", "complete", "expired"]


class CheckoutSession(BaseModel):
    """A Checkout Session as retrieved (or expired) at the provider."""

    model_config = ConfigDict(frozen=True)

    id: str
    mode: Literal["payment", "setup", "subscription"]
    status: CheckoutStatus
    payment_status: Literal["paid", "unpaid", "no_payment_required"]
    url: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    provider_customer_id: str | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    expires_at: datetime | None = None
    provider_payment_id: str | None = None
    """Payment mode: the PaymentIntent (``pi_...``) once the customer tried to pay."""
    payment_status_detail: str | None = None
    """Payment mode: the PaymentIntent's own status (``succeeded``, ``requires_payment_method``...)."""
    payment_method: PaymentMethodDetails | None = None
    """Payment mode: the method the PaymentIntent was (last) confirmed with."""
    last_payment_error: dict[str, str] | None = None
    """Payment mode: ``{code, decline_code, message}`` of the PaymentIntent's last failure, if any."""
    setup_intent_id: str | None = None
    setup_payment_method: PaymentMethodInfo | None = None
    """Setup mode, once complete: the card saved to the customer (the portal makes it the default)."""

    @property
    def invoice_id(self) -> str | None:
        """The invoice a payment-mode session pays (``metadata.invoice_id``, else the reference)."""
        return self.metadata.get("invoice_id") or self.client_reference_id


class PaymentRecord(BaseModel):
    """A payment as the provider's books show it (reconciliation)."""

    model_config = ConfigDict(frozen=True)

    provider_payment_id: str
    status: str
    """The provider's raw PaymentIntent status."""
    amount: int
    amount_received: int
    currency: str
    created: datetime
    provider_customer_id: str | None = None
    invoice_id: str | None = None
    attempt: int | None = None
    latest_charge_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class RefundRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_refund_id: str
    status: str
    amount: int
    currency: str
    created: datetime
    provider_payment_id: str | None = None
    charge_id: str | None = None
    credit_note_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class WebhookEvent(BaseModel):
    """A verified provider event: identity, type and the object it is about (as plain JSON)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    created: datetime
    livemode: bool
    api_version: str | None = None
    data_object: dict[str, Any]
    """``data.object`` of the event: the PaymentIntent, Charge, Checkout Session, Dispute..."""
    previous_attributes: dict[str, Any] | None = None
    request_idempotency_key: str | None = None
    """``request.idempotency_key``: the key of the API call that caused the event, when there was one."""
