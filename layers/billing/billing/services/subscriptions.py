"""Subscriptions: create, read, list, change (plan, quantity, now or at period end), cancel, pause.

Every change is one transaction: the subscription (conditional on the ``version`` read), its audit
entry (who and when), and what changes with it (an invoice and its period guards when a change is
invoiced at once, plan counters, coupon redemptions). ``next_billing_at`` and its schedule entry
(gsi2) are recomputed on every write (``invoice_drafts.settle_status``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from billing import clock
from billing.errors import Conflict, CurrencyMismatch, NotFound, ValidationFailed
from billing.models.catalog import Plan
from billing.models.customers import Customer
from billing.models.invoices import Invoice
from billing.models.subscriptions import (
    SUBSCRIPTION_ID_PREFIX,
    CollectionMethod,
    Discount,
    PendingChange,
    PendingProration,
    Subscription,
    SubscriptionChange,
    SubscriptionItem,
)
from billing.repositories import subscriptions as items
from billing.repositories.transactions import TransactionConflict
from billing.services import invoice_drafts as drafts
from billing.services.billing_runs import Billing, Catalog, new_invoice_id

MAX_ITEMS = 20
ProrationBehavior = Literal["create_prorations", "invoice_now", "none"]


@dataclass(frozen=True, slots=True)
class ItemRequest:
    plan_code: str
    plan_version: int | None = None
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class ChangeResult:
    subscription: Subscription
    invoice: Invoice | None = None


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


# --------------------------------------------------------------------------- reads


def get_subscription(billing: Billing, subscription_id: str) -> Subscription:
    sub = (
        billing.subscriptions.get(subscription_id)
        if subscription_id.startswith(SUBSCRIPTION_ID_PREFIX)
        else None
    )
    if sub is None:
        raise NotFound(
            f"no subscription {subscription_id}", code="subscription_not_found", param="subscription_id"
        )
    return sub


def resolve_customer(billing: Billing, customer_ref: str, *, param: str = "customer") -> Customer:
    customer = billing.customers.resolve(customer_ref)
    if customer is None or customer.deleted:
        raise NotFound(f"no customer {customer_ref}", code="customer_not_found", param=param)
    return customer


def _plan(billing: Billing, code: str, version: int | None, *, param: str) -> Plan:
    plan = billing.plans.get(code, version)
    if plan is None:
        raise NotFound(
            f"no plan {code!r}" + (f" version {version}" if version else ""),
            code="plan_not_found",
            param=param,
        )
    if plan.archived and version is None:
        raise ValidationFailed(f"plan {code!r} is archived", code="plan_archived", param=param)
    return plan


# --------------------------------------------------------------------------- create


def create_subscription(
    billing: Billing,
    *,
    customer_ref: str,
    items_requested: Sequence[ItemRequest],
    actor: str,
    start_date: datetime | None = None,
    billing_anchor: datetime | None = None,
    trial_end: datetime | None = None,
    trial_from_plan: bool = True,
    coupons: Sequence[str] = (),
    collection_method: CollectionMethod = "charge_automatically",
    days_until_due: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Subscription:
    now = clock.now()
    customer = resolve_customer(billing, customer_ref)
    if not items_requested or len(items_requested) > MAX_ITEMS:
        raise ValidationFailed(f"give 1 to {MAX_ITEMS} items", code="invalid_items", param="items")
    plans: list[Plan] = []
    metric_codes: dict[str, int] = {}
    for n, req in enumerate(items_requested):
        plan = _plan(billing, req.plan_code, req.plan_version, param=f"items.{n}.plan")
        if plan.currency != customer.currency:
            raise CurrencyMismatch(
                f"plan {plan.code} is in {plan.currency}, the customer is billed in {customer.currency}",
                code="currency_mismatch",
                param=f"items.{n}.plan",
            )
        for code in plan.metric_codes:
            if code in metric_codes:
                raise ValidationFailed(
                    f"metric {code} is charged by two items", code="duplicate_metric", param=f"items.{n}.plan"
                )
            metric_codes[code] = n
        plans.append(plan)
    _check_metrics_unbilled(billing, customer.id, set(metric_codes))
    _check_collection(collection_method, days_until_due)
    start = start_date or now
    if trial_end is None and trial_from_plan:
        days = max((p.trial_days for p in plans), default=0)
        trial_end = start + timedelta(days=days) if days else None
    if trial_end is not None and trial_end <= start:
        raise ValidationFailed(
            "trial_end must be after the start", code="invalid_trial_end", param="trial_end"
        )
    anchor = billing_anchor or trial_end or start
    discounts = [
        _discount(billing, code, customer, now, param=f"coupons.{n}") for n, code in enumerate(coupons)
    ]
    if len(set(coupons)) != len(coupons):
        raise ValidationFailed("a coupon is given twice", code="duplicate_coupon", param="coupons")
    sub_items = []
    for req, plan in zip(items_requested, plans, strict=True):
        if req.quantity < 1:
            raise ValidationFailed(
                "quantity must be at least 1", code="invalid_quantity", param="items.quantity"
            )
        first = drafts.initial_period(
            plan,
            anchor=anchor,
            time_zone=customer.time_zone,
            calendar=False,
            start=start,
            trial_end=trial_end,
        )
        sub_items.append(
            SubscriptionItem(
                id=_new_id("si_"),
                plan_code=plan.code,
                plan_version=plan.version,
                quantity=req.quantity,
                current_period_start=first.start,
                current_period_end=first.end,
            )
        )
    sub = Subscription(
        id=_new_id(SUBSCRIPTION_ID_PREFIX),
        customer_id=customer.id,
        status="trialing" if trial_end is not None else "active",
        currency=customer.currency,
        time_zone=customer.time_zone,
        items=sub_items,
        billing_anchor=anchor,
        start_date=start,
        trial_end=trial_end,
        collection_method=collection_method,
        days_until_due=days_until_due,
        discounts=discounts,
        metadata=dict(metadata or {}),
        created_at=now,
        updated_at=now,
    )
    sub = drafts.settle_status(sub, {(p.code, p.version): p for p in plans}, at=now)
    change = SubscriptionChange(
        subscription_id=sub.id,
        at=now,
        actor=actor,
        action="created",
        details={
            "items": [
                {"plan": i.plan_code, "version": i.plan_version, "quantity": i.quantity} for i in sub_items
            ]
        },
    )
    actions = [items.create_action(sub), items.change_action(change, version=sub.version)]
    actions += [items.plan_count_action(code, +1) for code in sorted({p.code for p in plans})]
    actions += [items.coupon_redeem_action(d.coupon_code, now) for d in discounts]
    try:
        billing.subscriptions.write(actions)
    except TransactionConflict as exc:
        first_coupon = 2 + len({p.code for p in plans})
        if any(i >= first_coupon for i in exc.failed):
            raise Conflict(
                "a coupon is no longer redeemable", code="coupon_not_redeemable", param="coupons"
            ) from exc
        raise Conflict("the subscription could not be created; retry", code="concurrent_update") from exc
    return sub


def _check_collection(method: str, days_until_due: int | None) -> None:
    if method == "send_invoice" and days_until_due is None:
        raise ValidationFailed(
            "send_invoice needs days_until_due", code="days_until_due_required", param="days_until_due"
        )
    if method == "charge_automatically" and days_until_due is not None:
        raise ValidationFailed(
            "days_until_due only goes with send_invoice",
            code="days_until_due_not_allowed",
            param="days_until_due",
        )


def _check_metrics_unbilled(
    billing: Billing, customer_id: str, metric_codes: set[str], *, skip: str | None = None
) -> None:
    """A metric is billed by one live subscription of a customer at a time (usage is per customer:
    two subscriptions charging it would bill the same events twice)."""
    if not metric_codes:
        return
    others = [
        s
        for s in billing.subscriptions.all_for_customer(customer_id)
        if s.status != "canceled" and s.id != skip
    ]
    if not others:
        return
    plans = Catalog(billing).plans_for(others)
    for other in others:
        for item in other.items:
            if item.ended_at is not None:
                continue
            taken = plans[(item.plan_code, item.plan_version)].metric_codes & metric_codes
            if taken:
                raise Conflict(
                    f"metric {sorted(taken)[0]} is already billed by subscription {other.id}",
                    code="metric_already_subscribed",
                    param="items",
                )


def _discount(billing: Billing, code: str, customer: Customer, now: datetime, *, param: str) -> Discount:
    coupon = billing.coupons.get(code)
    if coupon is None:
        raise NotFound(f"no coupon {code!r}", code="coupon_not_found", param=param)
    if not coupon.redeemable(now):
        raise Conflict(f"coupon {code!r} is not redeemable", code="coupon_not_redeemable", param=param)
    if coupon.amount_off is not None and coupon.currency != customer.currency:
        raise CurrencyMismatch(
            f"coupon {code} is in {coupon.currency}, the customer is billed in {customer.currency}",
            code="currency_mismatch",
            param=param,
        )
    return Discount(coupon_code=code)


# --------------------------------------------------------------------------- changes


def _live(sub: Subscription, expected_version: int | None) -> None:
    if sub.status == "canceled":
        raise Conflict(
            f"subscription {sub.id} is canceled", code="subscription_canceled", param="subscription_id"
        )
    if expected_version is not None and expected_version != sub.version:
        raise Conflict(
            f"the subscription is at version {sub.version}, not {expected_version}",
            code="version_mismatch",
            param="version",
        )


def _write(
    billing: Billing,
    current: Subscription,
    new: Subscription,
    change: SubscriptionChange,
    extra: Sequence[dict[str, Any]] = (),
) -> None:
    actions = [items.replace_action(current, new), items.change_action(change, version=new.version), *extra]
    try:
        billing.subscriptions.write(actions)
    except TransactionConflict as exc:
        raise Conflict(
            "the subscription changed meanwhile; read it again and retry", code="concurrent_update"
        ) from exc


def _bump(sub: Subscription, now: datetime, **update: Any) -> Subscription:
    return sub.model_copy(update={**update, "updated_at": now, "version": sub.version + 1})


def update_subscription(
    billing: Billing,
    subscription_id: str,
    *,
    actor: str,
    expected_version: int | None = None,
    metadata: dict[str, str] | None = None,
    collection_method: CollectionMethod | None = None,
    days_until_due: int | None = None,
    cancel_at_period_end: bool | None = None,
) -> Subscription:
    """Settings that bill nothing: metadata, collection method, undoing a cancel at period end."""
    now = clock.now()
    sub = get_subscription(billing, subscription_id)
    _live(sub, expected_version)
    update: dict[str, Any] = {}
    if metadata is not None:
        update["metadata"] = dict(metadata)
    if collection_method is not None:
        _check_collection(collection_method, days_until_due)
        update |= {"collection_method": collection_method, "days_until_due": days_until_due}
    if cancel_at_period_end is not None and cancel_at_period_end != sub.cancel_at_period_end:
        if cancel_at_period_end:
            return cancel_subscription(billing, subscription_id, actor=actor, at_period_end=True).subscription
        update["cancel_at_period_end"] = False
        update["pending_changes"] = [c for c in sub.pending_changes if c.kind != "cancel"]
    if not update:
        return sub
    new = _bump(sub, now, **update)
    plans = Catalog(billing).plans_for([new])
    new = drafts.settle_status(new, plans, at=now)
    change = SubscriptionChange(
        subscription_id=sub.id, at=now, actor=actor, action="updated", details={"fields": sorted(update)}
    )
    _write(billing, sub, new, change)
    return new


def change_item(
    billing: Billing,
    subscription_id: str,
    *,
    actor: str,
    item_id: str | None,
    plan_code: str | None,
    plan_version: int | None = None,
    quantity: int | None = None,
    effective: Literal["now", "period_end"] = "now",
    proration_behavior: ProrationBehavior = "create_prorations",
    expected_version: int | None = None,
) -> ChangeResult:
    """Change an item's plan and/or quantity, now (prorated) or at the end of its period."""
    now = clock.now()
    sub = get_subscription(billing, subscription_id)
    _live(sub, expected_version)
    live_items = [i for i in sub.items if i.ended_at is None]
    if item_id is None:
        if len(live_items) != 1:
            raise ValidationFailed("name the item to change", code="missing_field", param="item")
        item = live_items[0]
    else:
        found = [i for i in live_items if i.id == item_id]
        if not found:
            raise NotFound(f"no item {item_id} in {sub.id}", code="subscription_item_not_found", param="item")
        item = found[0]
    catalog = Catalog(billing)
    plans = catalog.plans_for([sub])
    old_plan = plans[(item.plan_code, item.plan_version)]
    if plan_code is None:
        new_plan = old_plan
    else:
        new_plan = _plan(billing, plan_code, plan_version, param="plan")
        if new_plan.currency != sub.currency:
            raise CurrencyMismatch(
                f"plan {new_plan.code} is in {new_plan.currency}, the subscription in {sub.currency}",
                code="currency_mismatch",
                param="plan",
            )
        if new_plan.code != old_plan.code:
            _check_metrics_unbilled(billing, sub.customer_id, set(new_plan.metric_codes), skip=sub.id)
            others = {
                m
                for i in live_items
                if i.id != item.id
                for m in plans[(i.plan_code, i.plan_version)].metric_codes
            }
            if others & new_plan.metric_codes:
                raise ValidationFailed(
                    "the plan's metric is charged by another item", code="duplicate_metric", param="plan"
                )
    new_quantity = quantity if quantity is not None else item.quantity
    if new_quantity < 1:
        raise ValidationFailed("quantity must be at least 1", code="invalid_quantity", param="quantity")
    if (
        new_plan.code == old_plan.code
        and new_plan.version == old_plan.version
        and new_quantity == item.quantity
    ):
        return ChangeResult(sub)
    details: dict[str, Any] = {
        "item": item.id,
        "from": {"plan": old_plan.code, "version": old_plan.version, "quantity": item.quantity},
        "to": {"plan": new_plan.code, "version": new_plan.version, "quantity": new_quantity},
        "effective": effective,
    }
    counts = []
    if new_plan.code != old_plan.code:
        counts = [items.plan_count_action(old_plan.code, -1), items.plan_count_action(new_plan.code, +1)]
    if effective == "period_end":
        pending = [c for c in sub.pending_changes if not (c.item_id == item.id and c.kind != "cancel")]
        pending.append(
            PendingChange(
                kind="change_plan"
                if new_plan.code != old_plan.code or new_plan.version != old_plan.version
                else "change_quantity",
                item_id=item.id,
                plan_code=new_plan.code,
                plan_version=new_plan.version,
                quantity=new_quantity,
                effective_at=item.current_period_end,
            )
        )
        new = drafts.settle_status(
            _bump(sub, now, pending_changes=pending),
            {**plans, (new_plan.code, new_plan.version): new_plan},
            at=now,
        )
        change = SubscriptionChange(
            subscription_id=sub.id, at=now, actor=actor, action="change_scheduled", details=details
        )
        _write(billing, sub, new, change, counts)
        return ChangeResult(new)
    if (new_plan.interval, new_plan.interval_count) != (old_plan.interval, old_plan.interval_count):
        raise ValidationFailed(
            "a plan with another interval can only take effect at the period end",
            code="interval_change_requires_period_end",
            param="effective",
        )
    prorations: list[PendingProration] = []
    period = drafts.item_period(item)
    started = now >= period.start
    if started and proration_behavior != "none":
        prorations = drafts.change_prorations(
            sub,
            item,
            old_plan=old_plan,
            new_plan=new_plan,
            new_quantity=new_quantity,
            at=now,
            new_id=lambda: _new_id("pr_"),
        )
    changed = item.model_copy(
        update={"plan_code": new_plan.code, "plan_version": new_plan.version, "quantity": new_quantity}
    )
    prorated = started and proration_behavior != "none"
    if prorated and not drafts.in_trial(sub, period) and sub.status != "paused":
        changed = changed.model_copy(update={"fixed_fee_paid_through": period.end})
    all_plans = {**plans, (new_plan.code, new_plan.version): new_plan}
    new_items = [changed if i.id == item.id else i for i in sub.items]
    details["prorations"] = [p.model_dump(mode="json") for p in prorations]
    invoice: Invoice | None = None
    extra: list[dict[str, Any]] = list(counts)
    if proration_behavior == "invoice_now" and prorations:
        customer = resolve_customer(billing, sub.customer_id)
        tax = catalog.tax_for(customer)
        draft = drafts.compose_draft(
            currency=sub.currency,
            steps=[],
            subscriptions={sub.id: sub},
            metrics={},
            usage={},
            coupons={},
            tax=tax,
            credit_balance=billing.invoices.credit_balance(customer.id, sub.currency),
            prorations=prorations,
            apply_coupons=False,
        )
        invoice = drafts.build_invoice(
            invoice_id=new_invoice_id(),
            customer=customer,
            draft=draft,
            subscriptions=[sub],
            billing_date=now,
            now=now,
            finalize_after=now + billing.grace,
            tax=tax,
        )
        invoice = invoice.model_copy(
            update={"period_keys": [], "period_start": now, "period_end": period.end}
        )
        from billing.repositories.invoices import item_of as invoice_item

        extra.append(
            {"Put": {"Item": invoice_item(invoice), "ConditionExpression": "attribute_not_exists(pk)"}}
        )
        extra.append(items.period_guard_action(sub.id, item.id, now, invoice.id))
        new = _bump(sub, now, items=new_items)
        details["invoice_id"] = invoice.id
    else:
        new = _bump(sub, now, items=new_items, pending_prorations=[*sub.pending_prorations, *prorations])
    new = drafts.settle_status(new, all_plans, at=now)
    change = SubscriptionChange(
        subscription_id=sub.id, at=now, actor=actor, action="item_changed", details=details
    )
    _write(billing, sub, new, change, extra)
    return ChangeResult(new, invoice)


def cancel_subscription(
    billing: Billing,
    subscription_id: str,
    *,
    actor: str,
    at_period_end: bool = False,
    expected_version: int | None = None,
) -> ChangeResult:
    """Cancel now (a final invoice: usage so far, the unused in-advance fee credited, pending
    prorations) or at the end of each item's current period."""
    now = clock.now()
    sub = get_subscription(billing, subscription_id)
    _live(sub, expected_version)
    live_items = [i for i in sub.items if i.ended_at is None]
    catalog = Catalog(billing)
    plans = catalog.plans_for([sub])
    if at_period_end:
        pending = [c for c in sub.pending_changes if c.kind != "cancel"]
        pending += [
            PendingChange(kind="cancel", item_id=i.id, effective_at=i.current_period_end) for i in live_items
        ]
        new = drafts.settle_status(
            _bump(sub, now, pending_changes=pending, cancel_at_period_end=True), plans, at=now
        )
        change = SubscriptionChange(
            subscription_id=sub.id,
            at=now,
            actor=actor,
            action="cancel_scheduled",
            details={"effective_at": {i.id: i.current_period_end.isoformat() for i in live_items}},
        )
        _write(billing, sub, new, change)
        return ChangeResult(new)
    customer = resolve_customer(billing, sub.customer_id)
    prorations: list[PendingProration] = []
    steps = []
    for item in live_items:
        plan = plans[(item.plan_code, item.plan_version)]
        if now > item.current_period_start:
            prorations += drafts.change_prorations(
                sub, item, old_plan=plan, new_plan=None, new_quantity=0, at=now, new_id=lambda: _new_id("pr_")
            )
        steps.append(drafts.cancel_step(sub, item, plan, at=now))
    with_prorations = sub.model_copy(update={"pending_prorations": [*sub.pending_prorations, *prorations]})
    closing_plans = [s.plan for s in steps if s.closing is not None and s.bill_closing]
    usage: dict[str, Any] = {}
    if any(p.charges for p in closing_plans):
        from billing.services.billing_runs import _usage

        usage = _usage(billing, customer.id, steps)
    tax = catalog.tax_for(customer)
    draft = drafts.compose_draft(
        currency=sub.currency,
        steps=steps,
        subscriptions={sub.id: with_prorations},
        metrics=catalog.metrics_for(closing_plans),
        usage=usage,
        coupons=catalog.coupons_for([sub]),
        tax=tax,
        credit_balance=billing.invoices.credit_balance(customer.id, sub.currency),
    )
    new = drafts.advance_subscription(
        with_prorations, steps, plans, at=now, coupon_results=draft.coupon_results.get(sub.id)
    )
    invoice: Invoice | None = None
    extra: list[dict[str, Any]] = []
    if draft.lines:
        invoice = drafts.build_invoice(
            invoice_id=new_invoice_id(),
            customer=customer,
            draft=draft,
            subscriptions=[sub],
            billing_date=now,
            now=now,
            finalize_after=now + billing.grace,
            tax=tax,
        )
        from billing.repositories.invoices import item_of as invoice_item

        extra.append(
            {"Put": {"Item": invoice_item(invoice), "ConditionExpression": "attribute_not_exists(pk)"}}
        )
    extra += [
        items.period_guard_action(sub.id, s.item.id, now, invoice.id if invoice else None) for s in steps
    ]
    extra += [items.plan_count_action(code, -1) for code in sorted({i.plan_code for i in live_items})]
    change = SubscriptionChange(
        subscription_id=sub.id,
        at=now,
        actor=actor,
        action="canceled",
        details={
            "invoice_id": invoice.id if invoice else None,
            "prorations": [p.model_dump(mode="json") for p in prorations],
        },
    )
    _write(billing, sub, new, change, extra)
    return ChangeResult(new, invoice)


def pause_subscription(
    billing: Billing, subscription_id: str, *, actor: str, expected_version: int | None = None
) -> Subscription:
    """Nothing is billed for periods that close or open while paused (their fees are waived)."""
    now = clock.now()
    sub = get_subscription(billing, subscription_id)
    _live(sub, expected_version)
    if sub.status == "paused":
        raise Conflict(
            "the subscription is already paused", code="subscription_paused", param="subscription_id"
        )
    new = _bump(sub, now, status="paused", paused_at=now)
    change = SubscriptionChange(
        subscription_id=sub.id, at=now, actor=actor, action="paused", details={"from": sub.status}
    )
    _write(billing, sub, new, change)
    return new


def resume_subscription(
    billing: Billing, subscription_id: str, *, actor: str, expected_version: int | None = None
) -> Subscription:
    now = clock.now()
    sub = get_subscription(billing, subscription_id)
    _live(sub, expected_version)
    if sub.status != "paused":
        raise Conflict(
            "the subscription is not paused", code="subscription_not_paused", param="subscription_id"
        )
    status = "trialing" if sub.trial_end is not None and now < sub.trial_end else "active"
    new = _bump(sub, now, status=status, paused_at=None)
    change = SubscriptionChange(
        subscription_id=sub.id, at=now, actor=actor, action="resumed", details={"to": status}
    )
    _write(billing, sub, new, change)
    return new


def set_past_due(
    billing: Billing, subscription_id: str, *, past_due: bool, invoice_id: str, actor: str = "dunning"
) -> Subscription | None:
    """Dunning: ``active`` → ``past_due`` when an invoice's payment fails, and back to ``active``
    once it is paid. Idempotent (None when there is nothing to change: already in that status,
    paused, canceled); a lost race is retried."""
    for _ in range(MAX_ITEMS):
        now = clock.now()
        sub = get_subscription(billing, subscription_id)
        if past_due and sub.status not in ("active", "trialing"):
            return None
        if not past_due and sub.status != "past_due":
            return None
        status = "past_due" if past_due else "active"
        new = _bump(sub, now, status=status)
        change = SubscriptionChange(
            subscription_id=sub.id,
            at=now,
            actor=actor,
            action="past_due" if past_due else "recovered",
            details={"from": sub.status, "invoice_id": invoice_id},
        )
        try:
            _write(billing, sub, new, change)
        except Conflict:
            continue
        return new
    raise Conflict(
        f"subscription {subscription_id} is being changed concurrently; retry",
        code="concurrent_update",
        param="subscription_id",
    )
