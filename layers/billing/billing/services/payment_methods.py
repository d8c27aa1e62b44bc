"""A customer's payment setup: the provider customer (created on first use) and the default payment
method charged automatically. No card number ever passes through here: methods are collected
client-side (Stripe.js with a SetupIntent's client secret, or Checkout) and attached by id."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from billing import clock
from billing.errors import Conflict
from billing.models.customers import Customer
from billing.observability import logger, metrics
from billing.payments.models import PaymentMethodInfo, SetupIntentResult
from billing.payments.provider import PaymentProvider
from billing.repositories.customers import CustomerRepository
from billing.services.customers import get_customer

if TYPE_CHECKING:
    from billing.services.dunning import Dunning

MAX_ATTEMPTS = 5


def _update(
    repo: CustomerRepository, customer_id: str, change: Callable[[Customer], dict[str, object]]
) -> Customer:
    """Re-read and apply ``change`` under the customer's version (a lost race retries)."""
    for _ in range(MAX_ATTEMPTS):
        current = get_customer(repo, customer_id)
        updates = change(current)
        if all(getattr(current, k) == v for k, v in updates.items()):
            return current
        new = current.model_copy(
            update={**updates, "version": current.version + 1, "updated_at": clock.now()}
        )
        try:
            repo.update(current, new)
        except Conflict as exc:
            if exc.code == "concurrent_update":
                continue
            raise
        return new
    raise Conflict(
        f"customer {customer_id} is being changed concurrently; retry",
        code="concurrent_update",
        param="customer_id",
    )


def ensure_provider_customer(
    repo: CustomerRepository, provider: PaymentProvider, customer_ref: str
) -> tuple[Customer, str]:
    """The customer and its provider customer id, created and stored on first use.

    The provider call is idempotent per (customer, email, name), so two concurrent first uses end
    with the same provider customer; the first stored id wins."""
    customer = get_customer(repo, customer_ref)
    if customer.deleted:
        raise Conflict(f"customer {customer.id} is deleted", code="customer_deleted", param="customer_id")
    if customer.provider_customer_id:
        return customer, customer.provider_customer_id
    provider_id = provider.ensure_customer(
        customer_id=customer.id, email=customer.emails[0] if customer.emails else None, name=customer.name
    )

    def change(current: Customer) -> dict[str, object]:
        return {"provider_customer_id": current.provider_customer_id or provider_id}

    stored = _update(repo, customer.id, change)
    logger.info("provider customer created", customer_id=stored.id, provider=provider.name)
    assert stored.provider_customer_id is not None
    return stored, stored.provider_customer_id


def attach_payment_method(
    repo: CustomerRepository,
    provider: PaymentProvider,
    customer_ref: str,
    *,
    payment_method_id: str,
    dunning: Dunning | None = None,
) -> tuple[Customer, PaymentMethodInfo]:
    """Attach ``payment_method_id`` (``pm_...``) and make it the default charged automatically.

    With ``dunning``: the customer's invoices waiting for a dunning retry are retried at once."""
    customer, provider_customer_id = ensure_provider_customer(repo, provider, customer_ref)
    info = provider.attach_payment_method(
        provider_customer_id=provider_customer_id, payment_method_id=payment_method_id, make_default=True
    )

    def change(current: Customer) -> dict[str, object]:
        return {
            "default_payment_method": info.id,
            "payment_method_brand": info.brand,
            "payment_method_last4": info.last4,
        }

    stored = _update(repo, customer.id, change)
    logger.info("payment method attached", customer_id=stored.id, payment_method=info.id, type=info.type)
    metrics.add_metric(name="PaymentMethodsAttached", unit="Count", value=1)
    if dunning is not None:
        from billing.services.dunning import retry_now_for_customer

        retry_now_for_customer(dunning, stored.id)
    return stored, info


def create_setup_intent(
    repo: CustomerRepository, provider: PaymentProvider, customer_ref: str
) -> tuple[Customer, SetupIntentResult]:
    customer, provider_customer_id = ensure_provider_customer(repo, provider, customer_ref)
    return customer, provider.create_setup_intent(provider_customer_id=provider_customer_id)
