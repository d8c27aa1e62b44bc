"""A customer's payment setup: the provider customer (created on first use) and the default payment
method charged automatically. No card number ever passes through here: methods are collected
client-side (Stripe.js with a SetupIntent's client secret, or Checkout) and attached by id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from billing import clock
from billing.errors import Conflict
from billing.models.customers import ChangeSource, Customer, CustomerChange
from billing.observability import logger, metrics
from billing.payments.models import PaymentMethodInfo, SetupIntentResult
from billing.payments.provider import PaymentProvider
from billing.repositories.customers import CustomerRepository
from billing.services.customers import changed_fields, get_customer

if TYPE_CHECKING:
    from billing.services.dunning import Dunning

MAX_ATTEMPTS = 5
SYSTEM = "system"


def _update(
    repo: CustomerRepository,
    customer_id: str,
    change: Callable[[Customer], dict[str, object] | None],
    *,
    actor: str,
    source: ChangeSource,
) -> Customer:
    """Re-read and apply ``change`` under the customer's version (a lost race retries), with its audit
    entry in the same transaction. ``change`` returns None to leave the customer as is."""
    for _ in range(MAX_ATTEMPTS):
        current = get_customer(repo, customer_id)
        updates = change(current)
        if updates is None or all(getattr(current, k) == v for k, v in updates.items()):
            return current
        now = clock.now()
        new = current.model_copy(update={**updates, "version": current.version + 1, "updated_at": now})
        entry = CustomerChange(
            customer_id=new.id,
            version=new.version,
            at=now,
            source=source,
            actor=actor,
            changes=changed_fields(current, new),
        )
        try:
            repo.update(current, new, change=entry)
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

    stored = _update(repo, customer.id, change, actor=SYSTEM, source="system")
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
    actor: str = SYSTEM,
    source: ChangeSource = "api",
) -> tuple[Customer, PaymentMethodInfo]:
    """Attach ``payment_method_id`` (``pm_...``) and make it the default charged automatically.

    With ``dunning``: the customer's invoices waiting for a dunning retry are retried at once."""
    customer, provider_customer_id = ensure_provider_customer(repo, provider, customer_ref)
    info = provider.attach_payment_method(
        provider_customer_id=provider_customer_id, payment_method_id=payment_method_id, make_default=True
    )
    stored = set_default_payment_method(repo, customer.id, info, actor=actor, source=source, dunning=dunning)
    return stored, info


def set_default_payment_method(
    repo: CustomerRepository,
    customer_id: str,
    info: PaymentMethodInfo,
    *,
    actor: str,
    source: ChangeSource,
    dunning: Dunning | None = None,
    unless_changed_after: datetime | None = None,
) -> Customer:
    """Record ``info`` (attached at the provider already) as the customer's default payment method,
    audited. Idempotent: the method already the default changes nothing. ``unless_changed_after``:
    leave the customer as is when its payment method changed after that instant (a newer card wins)."""

    def change(current: Customer) -> dict[str, object] | None:
        if current.default_payment_method == info.id:
            return None
        changed = current.payment_method_updated_at
        if unless_changed_after is not None and changed is not None and changed > unless_changed_after:
            return None
        return {
            "default_payment_method": info.id,
            "payment_method_brand": info.brand,
            "payment_method_last4": info.last4,
            "payment_method_updated_at": clock.now(),
        }

    stored = _update(repo, customer_id, change, actor=actor, source=source)
    if stored.default_payment_method != info.id:
        logger.info(
            "payment method not made default: changed since", customer_id=customer_id, payment_method=info.id
        )
        return stored
    logger.info("payment method attached", customer_id=stored.id, payment_method=info.id, type=info.type)
    metrics.add_metric(name="PaymentMethodsAttached", unit="Count", value=1)
    if dunning is not None:
        from billing.services.dunning import retry_now_for_customer

        retry_now_for_customer(dunning, stored.id)
    return stored


def create_setup_intent(
    repo: CustomerRepository, provider: PaymentProvider, customer_ref: str
) -> tuple[Customer, SetupIntentResult]:
    customer, provider_customer_id = ensure_provider_customer(repo, provider, customer_ref)
    return customer, provider.create_setup_intent(provider_customer_id=provider_customer_id)
