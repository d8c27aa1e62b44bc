"""Invoice drafts: what subscription items owe at a billing boundary, composed into one draft.

Pure composition: no I/O and no clock. The billing worker (``billing.services.billing_runs``), the
subscription changes (``billing.services.subscriptions``) and the previews all call it, so a preview
is exactly the invoice the worker would draft.

The schedule of an item
-----------------------
An item is always inside one period ``[current_period_start, current_period_end)``: the trial
(``[start, trial_end)``), a partial first period (an anchor off the start), or a full period of its
plan's cycle (``billing.periods``). It is **due** at:

* ``current_period_start`` when its plan's fixed fee is paid in advance and the fee of the current
  period has not been invoiced yet (``fixed_fee_paid_through < current_period_end``): the first
  period of an in-advance plan is invoiced when it starts;
* ``current_period_end`` otherwise: the period closes (arrears fee, usage, minimums) and the item
  moves into the next period, whose in-advance fee goes on the same invoice.

Each due instant is a **boundary**. A boundary of an item is invoiced at most once: the worker
commits an ``invoice_period_guard`` (subscription, item, boundary) with the invoice (the
``PeriodKey.period_start`` of an invoice is that boundary: the start of the period the item moves
into, or the instant the item ended).

What a boundary bills (``plan_item_step`` then ``compose_draft``)
-----------------------------------------------------------------
* closing period (not a trial, not paused): the fixed fee when billed in arrears (prorated by local
  days when the period is partial, skipped when a mid-period change already invoiced it), every usage
  charge rated with ``billing.rating`` over the period's events aggregated with ``billing.metering``
  (one line per group for ``group_by`` charges), each charge's ``min_amount_per_period`` shortfall,
  and the plan's ``minimum_commitment`` shortfall (full periods only);
* pending changes due at the boundary (change plan or quantity, cancel) apply between the closing and
  the opening period;
* opening period (not a trial, not paused, item not ended): the fixed fee when paid in advance,
  prorated when partial;
* the subscription's pending prorations (mid-period changes), once, on its next invoice.

Then ``billing.invoicing.totals.compute_totals`` (the one place totals are computed) applies the
coupons, tax and the customer's credit balance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from billing import metering, rating
from billing.discounts import AppliedCoupon, AppliesTo, CouponResult, parse_coupon
from billing.errors import ValidationFailed
from billing.invoicing.totals import InvoiceTotals, LineTotal, PricedLine, compute_totals
from billing.models.catalog import Coupon, Metric, Plan
from billing.models.catalog import TaxRate as CatalogTaxRate
from billing.models.customers import Customer
from billing.models.invoices import CouponTotal, Invoice, InvoiceLine, LineKind, LineTax, PeriodKey, TaxTotal
from billing.models.subscriptions import (
    Discount,
    PendingChange,
    PendingProration,
    Subscription,
    SubscriptionItem,
)
from billing.periods import BillingCycle, Interval, Period, period_containing
from billing.proration import days_in_period
from billing.tax import (
    REVERSE_CHARGE_RATE_ID,
    TaxCustomer,
    TaxRate,
    Treatment,
    determine_tax,
    tax_rates,
)

_PRECISION = Context(prec=50, rounding=ROUND_HALF_EVEN)
PlanKey = tuple[str, int]
"""(plan code, version)."""


# --------------------------------------------------------------------------- cycles and schedule


def item_cycle(plan: Plan, *, anchor: datetime, time_zone: str, calendar: bool = False) -> BillingCycle:
    return BillingCycle(
        interval=Interval(plan.interval),
        interval_count=plan.interval_count,
        anchor=anchor,
        time_zone=time_zone,
        calendar=calendar,
    )


def subscription_cycle(subscription: Subscription, plan: Plan) -> BillingCycle:
    return item_cycle(
        plan,
        anchor=subscription.billing_anchor,
        time_zone=subscription.time_zone,
        calendar=subscription.calendar_billing,
    )


def period_from(cycle: BillingCycle, at: datetime) -> Period:
    """The period that starts at ``at`` and ends at the cycle's next boundary (partial when ``at`` is
    not a boundary)."""
    full = period_containing(cycle, at)
    return full if full.start == at else Period(at, full.end)


def initial_period(
    plan: Plan,
    *,
    anchor: datetime,
    time_zone: str,
    calendar: bool,
    start: datetime,
    trial_end: datetime | None,
) -> Period:
    """An item's first period: the trial when there is one, else from the start to the next boundary."""
    if trial_end is not None and trial_end > start:
        return Period(start, trial_end)
    return period_from(item_cycle(plan, anchor=anchor, time_zone=time_zone, calendar=calendar), start)


def has_advance_fee(plan: Plan) -> bool:
    return plan.pay_in_advance and plan.amount > 0


def in_trial(subscription: Subscription, period: Period) -> bool:
    return subscription.trial_end is not None and period.end <= subscription.trial_end


def item_period(item: SubscriptionItem) -> Period:
    return Period(item.current_period_start, item.current_period_end)


def item_due_at(subscription: Subscription, item: SubscriptionItem, plan: Plan) -> datetime | None:
    """When the item next has something to invoice (module docstring); None once it has ended."""
    if item.ended_at is not None:
        return None
    period = item_period(item)
    paid = item.fixed_fee_paid_through
    if has_advance_fee(plan) and not in_trial(subscription, period) and (paid is None or paid < period.end):
        return period.start
    return period.end


def next_billing_at(subscription: Subscription, plans: Mapping[PlanKey, Plan]) -> datetime | None:
    dues = [
        due
        for item in subscription.items
        if (due := item_due_at(subscription, item, plans[(item.plan_code, item.plan_version)])) is not None
    ]
    return min(dues) if dues else None


# --------------------------------------------------------------------------- one boundary of one item


@dataclass(frozen=True, slots=True)
class ItemStep:
    """What one item does at one boundary, and its state afterwards."""

    subscription_id: str
    item: SubscriptionItem
    plan: Plan
    boundary: datetime
    closing: Period | None
    """The period that closes at the boundary (None when only an in-advance fee is due)."""
    bill_closing: bool
    opening: Period | None
    opening_plan: Plan | None
    opening_quantity: int
    bill_opening: bool
    new_item: SubscriptionItem
    time_zone: str
    anchor: datetime
    calendar: bool = False
    applied_changes: tuple[PendingChange, ...] = ()

    def cycle(self, plan: Plan) -> BillingCycle:
        return item_cycle(plan, anchor=self.anchor, time_zone=self.time_zone, calendar=self.calendar)

    @property
    def period_key(self) -> PeriodKey:
        return PeriodKey(
            subscription_id=self.subscription_id, item_id=self.item.id, period_start=self.boundary
        )


def plan_item_step(
    subscription: Subscription, item: SubscriptionItem, plans: Mapping[PlanKey, Plan], boundary: datetime
) -> ItemStep:
    """The step of ``item`` at ``boundary`` (which must be the item's due instant)."""
    plan = plans[(item.plan_code, item.plan_version)]
    due = item_due_at(subscription, item, plan)
    if due is None or due != boundary:
        raise ValueError(f"item {item.id} is not due at {boundary.isoformat()} (due {due})")
    paused = subscription.status == "paused"
    period = item_period(item)
    context: dict[str, Any] = {
        "time_zone": subscription.time_zone,
        "anchor": subscription.billing_anchor,
        "calendar": subscription.calendar_billing,
    }
    if boundary == period.start:  # the in-advance fee of the current period
        return ItemStep(
            **context,
            subscription_id=subscription.id,
            item=item,
            plan=plan,
            boundary=boundary,
            closing=None,
            bill_closing=False,
            opening=period,
            opening_plan=plan,
            opening_quantity=item.quantity,
            bill_opening=not paused,
            new_item=item.model_copy(update={"fixed_fee_paid_through": period.end}),
        )
    applied = tuple(
        c for c in subscription.pending_changes if c.item_id == item.id and c.effective_at <= boundary
    )
    new_plan, quantity, ended = plan, item.quantity, False
    for change in applied:
        if change.kind == "cancel":
            ended = True
        elif change.kind == "change_plan" and change.plan_code is not None:
            version = change.plan_version
            if version is None:
                raise ValueError("a scheduled plan change needs its plan version")
            new_plan = plans[(change.plan_code, version)]
            if change.quantity is not None:
                quantity = change.quantity
        elif change.kind == "change_quantity" and change.quantity is not None:
            quantity = change.quantity
    bill_closing = not paused and not in_trial(subscription, period)
    if ended:
        return ItemStep(
            **context,
            subscription_id=subscription.id,
            item=item,
            plan=plan,
            boundary=boundary,
            closing=period,
            bill_closing=bill_closing,
            opening=None,
            opening_plan=None,
            opening_quantity=quantity,
            bill_opening=False,
            new_item=item.model_copy(update={"ended_at": boundary}),
            applied_changes=applied,
        )
    opening = period_from(subscription_cycle(subscription, new_plan), boundary)
    bill_opening = not paused and not in_trial(subscription, opening) and has_advance_fee(new_plan)
    paid_through = item.fixed_fee_paid_through
    if has_advance_fee(new_plan) and (bill_opening or paused or in_trial(subscription, opening)):
        paid_through = opening.end  # invoiced now, or waived (paused, trial)
    new_item = item.model_copy(
        update={
            "plan_code": new_plan.code,
            "plan_version": new_plan.version,
            "quantity": quantity,
            "current_period_start": opening.start,
            "current_period_end": opening.end,
            "fixed_fee_paid_through": paid_through,
        }
    )
    return ItemStep(
        **context,
        subscription_id=subscription.id,
        item=item,
        plan=plan,
        boundary=boundary,
        closing=period,
        bill_closing=bill_closing,
        opening=opening,
        opening_plan=new_plan,
        opening_quantity=quantity,
        bill_opening=bill_opening,
        new_item=new_item,
        applied_changes=applied,
    )


def earliest_due(
    subscriptions: Iterable[Subscription], plans: Mapping[PlanKey, Plan], *, up_to: datetime
) -> tuple[datetime, list[ItemStep]] | None:
    """The earliest boundary at or before ``up_to`` among the items, and the step of every item due
    then (across subscriptions: they go on one invoice). None when nothing is due."""
    due: list[tuple[datetime, Subscription, SubscriptionItem]] = []
    for subscription in subscriptions:
        for item in subscription.items:
            at = item_due_at(subscription, item, plans[(item.plan_code, item.plan_version)])
            if at is not None and at <= up_to:
                due.append((at, subscription, item))
    if not due:
        return None
    boundary = min(at for at, _, _ in due)
    steps = [
        plan_item_step(subscription, item, plans, boundary)
        for at, subscription, item in sorted(due, key=lambda d: (d[1].id, d[2].id))
        if at == boundary
    ]
    return boundary, steps


def advance_subscription(
    subscription: Subscription,
    steps: Sequence[ItemStep],
    plans: Mapping[PlanKey, Plan],
    *,
    at: datetime,
    coupon_results: Mapping[str, CouponResult] | None = None,
    prorations_invoiced: bool = True,
) -> Subscription:
    """The subscription after ``steps`` (its items only) were invoiced: items moved, changes applied,
    prorations cleared, coupons counted, status and ``next_billing_at`` recomputed, version + 1."""
    mine = {s.item.id: s for s in steps if s.subscription_id == subscription.id}
    items = [mine[i.id].new_item if i.id in mine else i for i in subscription.items]
    applied = {id(c) for s in mine.values() for c in s.applied_changes}
    pending = [c for c in subscription.pending_changes if id(c) not in applied]
    discounts = list(subscription.discounts)
    if coupon_results:
        discounts = [_counted(d, coupon_results.get(d.coupon_code)) for d in discounts]
    updated = subscription.model_copy(
        update={
            "items": items,
            "pending_changes": pending,
            "pending_prorations": [] if prorations_invoiced else subscription.pending_prorations,
            "discounts": discounts,
            "updated_at": at,
            "version": subscription.version + 1,
        }
    )
    return settle_status(updated, plans, at=max((s.boundary for s in steps), default=at))


def settle_status(subscription: Subscription, plans: Mapping[PlanKey, Plan], *, at: datetime) -> Subscription:
    """Status and ``next_billing_at`` from the items: every item ended → canceled; trial over → active."""
    status = subscription.status
    update: dict[str, Any] = {}
    if all(i.ended_at is not None for i in subscription.items):
        status = "canceled"
        ended = max(i.ended_at for i in subscription.items if i.ended_at is not None)
        update["ended_at"] = subscription.ended_at or ended
        if subscription.canceled_at is None:
            update["canceled_at"] = at
        update["cancel_at_period_end"] = False
    elif status == "trialing" and subscription.trial_end is not None and at >= subscription.trial_end:
        status = "active"
    update["status"] = status
    update["next_billing_at"] = next_billing_at(subscription, plans)
    return subscription.model_copy(update=update)


def _counted(discount: Discount, result: CouponResult | None) -> Discount:
    if result is None or not result.active:
        return discount
    return discount.model_copy(
        update={"periods_applied": result.periods_applied, "carry_over": result.carry_over}
    )


# --------------------------------------------------------------------------- mid-period changes


def change_prorations(
    subscription: Subscription,
    item: SubscriptionItem,
    *,
    old_plan: Plan,
    new_plan: Plan | None,
    new_quantity: int,
    at: datetime,
    new_id: Callable[[], str],
) -> list[PendingProration]:
    """The prorations of changing ``item`` at ``at`` (inside its current period) to ``new_plan`` ×
    ``new_quantity``, or of ending it (``new_plan`` None), by whole local days (``billing.proration``).

    * What the period's fee already invoiced (in advance, or by an earlier change this period) and is
      not used any more becomes a **credit**: old fee × days from the change day to the period end.
    * A fee billed in arrears and not invoiced yet is **charged** for the days used: old fee × days
      from the period start to the day before the change.
    * The new fee is charged for the remaining days (the change day included). Afterwards the period's
      fee counts as invoiced (``fixed_fee_paid_through`` = period end): the closing of the period bills
      usage only.

    A trial or paused period has nothing to prorate.
    """
    period = item_period(item)
    if in_trial(subscription, period) or subscription.status == "paused":
        return []
    full = period_containing(subscription_cycle(subscription, old_plan), period.start)
    tz = subscription.time_zone
    out: list[PendingProration] = []
    old_fee = Decimal(old_plan.amount) * item.quantity
    covered = item.fixed_fee_paid_through is not None and item.fixed_fee_paid_through >= period.end
    reason = (
        "cancellation"
        if new_plan is None
        else _change_reason(old_plan, item.quantity, new_plan, new_quantity)
    )

    def add(kind: str, plan: Plan, *, quantity: int, fee: Decimal, part: Period, text: str) -> None:
        amount, days, total = _fraction(fee, part, full, tz)
        if days == 0 or fee == 0:
            return
        signed = -amount if kind == "credit" else amount
        out.append(
            PendingProration(
                id=new_id(),
                item_id=item.id,
                plan_code=plan.code,
                plan_version=plan.version,
                kind="credit" if kind == "credit" else "charge",
                reason=reason,
                description=f"{text} {plan.name}",
                plan_name=plan.name,
                label=text.split(" ", 1)[0].lower(),
                quantity=quantity,
                amount_exact=_text(signed) if signed else "0",
                days=days,
                days_in_period=total,
                period_start=part.start,
                period_end=part.end,
                created_at=at,
            )
        )

    if at > period.start and not covered:
        add(
            "charge",
            old_plan,
            quantity=item.quantity,
            fee=old_fee,
            part=Period(period.start, at),
            text="Used time on",
        )
    remaining = Period(at, period.end)
    if covered:
        add("credit", old_plan, quantity=item.quantity, fee=old_fee, part=remaining, text="Unused time on")
    if new_plan is not None:
        new_fee = Decimal(new_plan.amount) * new_quantity
        add("charge", new_plan, quantity=new_quantity, fee=new_fee, part=remaining, text="Remaining time on")
    return out


def _change_reason(old: Plan, old_quantity: int, new: Plan, new_quantity: int) -> str:
    if old.code == new.code and old.version == new.version:
        return "quantity_change"
    before, after = old.amount * old_quantity, new.amount * new_quantity
    return "upgrade" if after > before else "downgrade" if after < before else "change"


def cancel_step(subscription: Subscription, item: SubscriptionItem, plan: Plan, *, at: datetime) -> ItemStep:
    """Ending ``item`` now: its usage since the period start is billed (the fixed fee is settled by
    ``change_prorations(new_plan=None)``); the guard boundary is ``at``."""
    period = item_period(item)
    closing = Period(period.start, at) if at > period.start else None
    settled = item.model_copy(update={"fixed_fee_paid_through": max(period.end, at)})
    return ItemStep(
        subscription_id=subscription.id,
        item=settled,
        plan=plan,
        boundary=at,
        closing=closing,
        bill_closing=closing is not None
        and subscription.status != "paused"
        and not in_trial(subscription, period),
        opening=None,
        opening_plan=None,
        opening_quantity=item.quantity,
        bill_opening=False,
        new_item=item.model_copy(update={"ended_at": at}),
        time_zone=subscription.time_zone,
        anchor=subscription.billing_anchor,
        calendar=subscription.calendar_billing,
    )


# --------------------------------------------------------------------------- tax


@dataclass(frozen=True, slots=True)
class TaxSetup:
    """The customer's tax treatment: the rate ids every line of its invoices carries."""

    treatment: str
    rate_ids: tuple[str, ...] = ()
    inclusive: bool = False
    rates: Mapping[str, TaxRate] = field(default_factory=dict)
    legal_mention: str | None = None


def tax_setup_for(
    customer: Customer, *, seller_country: str, catalog_rates: Sequence[CatalogTaxRate] = ()
) -> TaxSetup:
    """How ``customer`` is taxed (``billing.tax.determine_tax``) with the shipped rates overridden by
    the catalog's (an inactive catalog rate is left out)."""
    overrides = [
        TaxRate(
            id=r.id,
            country=r.country,
            region=r.state,
            name=r.display_name,
            percentage=r.percentage,
            legal_mention=r.legal_mention,
            replaces_national=r.replaces_national,
        )
        for r in catalog_rates
        if r.active
    ]
    table = tax_rates(overrides)
    for r in catalog_rates:
        if not r.active:
            table.pop(r.id, None)
    inclusive_ids = {r.id for r in catalog_rates if r.inclusive}
    if customer.tax_status == "exempt":
        return TaxSetup("exempt", rates=table)
    if customer.tax_status == "reverse_charge" and REVERSE_CHARGE_RATE_ID in table:
        rate = table[REVERSE_CHARGE_RATE_ID]
        return TaxSetup("reverse_charge", (rate.id,), False, table, rate.legal_mention)
    if customer.address is None:
        return TaxSetup("not_collected", rates=table)
    vat_id = next((t.value for t in customer.tax_ids if t.type == "eu_vat"), None)
    try:
        who = TaxCustomer(country=customer.address.country, region=customer.address.state, vat_id=vat_id)
    except ValidationFailed:
        who = TaxCustomer(country=customer.address.country, region=customer.address.state)
    try:
        treatment = determine_tax(seller_country=seller_country, customer=who, rates=table)
    except ValidationFailed:
        return TaxSetup("not_collected", rates=table)
    ids = treatment.rate_ids
    inclusive = bool(ids) and all(i in inclusive_ids for i in ids)
    return TaxSetup(treatment.treatment.value, ids, inclusive, table, treatment.legal_mention)


NO_TAX = TaxSetup(Treatment.NOT_COLLECTED.value)


# --------------------------------------------------------------------------- composing a draft


@dataclass(frozen=True, slots=True)
class _Line:
    """A line before totals: the priced line and what the invoice line says about it."""

    priced: PricedLine
    kind: LineKind
    unit_amount_decimal: str | None = None
    period: Period | None = None
    subscription_id: str | None = None
    item_id: str | None = None
    plan_code: str | None = None
    plan_version: int | None = None
    metric_code: str | None = None
    group: str | None = None
    breakdown: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class DraftResult:
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    coupon_results: dict[str, dict[str, CouponResult]]
    """subscription id → coupon code → what the coupon did (for the subscription's discounts)."""
    period_keys: list[PeriodKey]
    period_start: datetime | None
    period_end: datetime | None

    @property
    def coupons(self) -> list[CouponTotal]:
        return [
            CouponTotal(coupon_code=code, amount=r.amount)
            for per_sub in self.coupon_results.values()
            for code, r in per_sub.items()
            if r.active and r.amount
        ]

    @property
    def taxes(self) -> list[TaxTotal]:
        return _tax_totals(self.totals)


def _tax_totals(totals: InvoiceTotals) -> list[TaxTotal]:
    return [
        TaxTotal(
            rate_id=t.rate_id,
            display_name=t.name,
            percentage=_text(t.percentage),
            inclusive=t.inclusive,
            taxable_amount=t.taxable_amount,
            amount=t.amount,
            legal_mention=t.legal_mention,
        )
        for t in totals.taxes
    ]


UsageEvents = Mapping[str, Sequence[metering.EventInput]]
"""metric code → the customer's events of that metric (any window covering the closing periods)."""


def compose_draft(
    *,
    currency: str,
    steps: Sequence[ItemStep],
    subscriptions: Mapping[str, Subscription],
    metrics: Mapping[str, Metric],
    usage: UsageEvents,
    coupons: Mapping[str, Coupon],
    tax: TaxSetup = NO_TAX,
    credit_balance: int = 0,
    prorations: Sequence[PendingProration] | None = None,
    apply_coupons: bool = True,
) -> DraftResult:
    """The lines and totals of one draft for ``steps`` (plus the pending prorations of the
    subscriptions involved, or ``prorations`` when given)."""
    lines: list[_Line] = []
    new_id = _id_factory()
    for step in steps:
        lines += _step_lines(step, currency=currency, metrics=metrics, usage=usage, tax=tax, new_id=new_id)
    pending = (
        list(prorations)
        if prorations is not None
        else [p for sid in _ordered_ids(steps) for p in subscriptions[sid].pending_prorations]
    )
    owner = {p.id: sid for sid in subscriptions for p in subscriptions[sid].pending_prorations}
    for p in pending:
        lines.append(_proration_line(p, owner.get(p.id), currency=currency, tax=tax, new_id=new_id))
    applied: list[AppliedCoupon] = []
    back: dict[str, tuple[str, str]] = {}
    if apply_coupons:
        for sid in _ordered_ids(steps):
            sub = subscriptions[sid]
            for discount in sub.discounts:
                coupon = coupons.get(discount.coupon_code)
                if coupon is None:
                    continue
                scoped = _scoped_coupon(coupon, sid, _plans_of(sub, lines))
                if scoped is None:
                    continue
                back[scoped.coupon.id] = (sid, discount.coupon_code)
                applied.append(scoped_with_state(scoped, discount))
    totals = compute_totals(
        currency=currency,
        lines=[line.priced for line in lines],
        coupons=applied,
        credit_balance=credit_balance,
        tax_rates=tax.rates or None,
    )
    results: dict[str, dict[str, CouponResult]] = {}
    for result in totals.coupons:
        sid, code = back[result.coupon_id]
        results.setdefault(sid, {})[code] = result
    invoice_lines = [_invoice_line(line, total) for line, total in zip(lines, totals.lines, strict=True)]
    starts = [p.start for s in steps for p in (s.closing, s.opening) if p is not None and _billed(s, p)]
    ends = [p.end for s in steps for p in (s.closing, s.opening) if p is not None and _billed(s, p)]
    return DraftResult(
        lines=invoice_lines,
        totals=totals,
        coupon_results=results,
        period_keys=[s.period_key for s in steps],
        period_start=min(starts) if starts else None,
        period_end=max(ends) if ends else None,
    )


def scoped_with_state(applied: AppliedCoupon, discount: Discount) -> AppliedCoupon:
    carry = discount.carry_over if applied.coupon.percent_off is None else 0
    return AppliedCoupon(coupon=applied.coupon, periods_applied=discount.periods_applied, carry_over=carry)


def _billed(step: ItemStep, period: Period) -> bool:
    return (period is step.closing and step.bill_closing) or (period is step.opening and step.bill_opening)


def _ordered_ids(steps: Sequence[ItemStep]) -> list[str]:
    return list(dict.fromkeys(s.subscription_id for s in steps))


def _plans_of(subscription: Subscription, lines: Sequence[_Line] = ()) -> frozenset[str]:
    """Every plan the subscription's lines are billed on: its items' plans, and the plans its lines
    name besides (the old plan of a mid-period change's proration, the new plan of a change applied
    at the boundary), so a coupon without ``applies_to`` discounts all of them."""
    named = (line.plan_code for line in lines if line.subscription_id == subscription.id and line.plan_code)
    return frozenset(i.plan_code for i in subscription.items) | frozenset(named)


def _scope(subscription_id: str, code: str) -> str:
    """A plan or metric code bound to its subscription, so a coupon discounts only its own lines."""
    return f"{subscription_id}|{code}"


def _scoped_coupon(coupon: Coupon, subscription_id: str, plans: frozenset[str]) -> AppliedCoupon | None:
    definition = coupon.definition()
    applies = coupon.applies_to
    if applies is not None and (applies.plans or applies.metrics):
        scope_plans = frozenset(_scope(subscription_id, p) for p in applies.plans)
        scope_metrics = frozenset(_scope(subscription_id, m) for m in applies.metrics)
    else:
        scope_plans, scope_metrics = frozenset(_scope(subscription_id, p) for p in plans), frozenset()
    if not scope_plans and not scope_metrics:
        return None
    definition.pop("applies_to", None)
    definition["id"] = f"{subscription_id}:{coupon.code}"
    parsed = parse_coupon(definition)
    parsed = type(parsed)(
        id=parsed.id,
        duration=parsed.duration,
        duration_in_periods=parsed.duration_in_periods,
        percent_off=parsed.percent_off,
        amount_off=parsed.amount_off,
        currency=parsed.currency,
        amounts_off=parsed.amounts_off,
        applies_to=AppliesTo(plans=scope_plans, metrics=scope_metrics),
    )
    return AppliedCoupon(coupon=parsed)


def _id_factory() -> Callable[[], str]:
    count = 0

    def new_id() -> str:
        nonlocal count
        count += 1
        return f"il_{count:03d}"

    return new_id


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def _fraction(amount: Decimal, part: Period, full: Period, time_zone: str) -> tuple[Decimal, int, int]:
    """``amount × days(part) / days(full)`` in local days (``billing.proration``'s rule), unrounded."""
    total = days_in_period(full, time_zone=time_zone)
    if part == full:
        return amount, total, total
    from billing.periods import zone

    tz = zone(time_zone)
    days = (part.end.astimezone(tz).date() - part.start.astimezone(tz).date()).days
    with localcontext(_PRECISION):
        return amount * days / total, days, total


def _period_text(period: Period, time_zone: str) -> str:
    from billing.periods import zone

    tz = zone(time_zone)
    first = period.start.astimezone(tz).date()
    last = period.end.astimezone(tz).date()
    return f"{first.isoformat()} – {last.isoformat()}"


def _step_lines(
    step: ItemStep,
    *,
    currency: str,
    metrics: Mapping[str, Metric],
    usage: UsageEvents,
    tax: TaxSetup,
    new_id: Callable[[], str],
) -> list[_Line]:
    out: list[_Line] = []
    sid = step.subscription_id
    tz = step.time_zone

    def priced(
        description: str, quantity: Decimal | int, amount: Decimal, plan: Plan, metric: str | None
    ) -> PricedLine:
        return PricedLine.priced(
            id=new_id(),
            description=description,
            currency=currency,
            quantity=quantity,
            amount=amount,
            tax_rate_ids=tax.rate_ids,
            tax_inclusive=tax.inclusive,
            plan_code=_scope(sid, plan.code),
            metric_code=_scope(sid, metric) if metric else None,
        )

    closing, plan = step.closing, step.plan
    if closing is not None and step.bill_closing:
        spend = Decimal(0)
        cycle_full = period_containing(step.cycle(plan), closing.start)
        full_period = closing == cycle_full
        covered = (
            step.item.fixed_fee_paid_through is not None and step.item.fixed_fee_paid_through >= closing.end
        )
        if plan.amount > 0 and not plan.pay_in_advance and not covered:
            fee = Decimal(plan.amount) * step.item.quantity
            amount, days, total = _fraction(fee, closing, cycle_full, tz)
            out.append(
                _fee_line(
                    priced,
                    step,
                    plan=plan,
                    period=closing,
                    amount=amount,
                    days=days,
                    total=total,
                    time_zone=tz,
                    quantity=step.item.quantity,
                )
            )
            spend += amount
        elif plan.amount > 0 and plan.pay_in_advance:
            spend += _fraction(Decimal(plan.amount) * step.item.quantity, closing, cycle_full, tz)[0]
        for charge in plan.charges:
            metric = metrics.get(charge.metric)
            if metric is None:
                raise ValidationFailed(
                    f"plan {plan.code} v{plan.version} charges unknown metric {charge.metric!r}",
                    code="metric_not_found",
                    param="metric",
                )
            for line in _usage_lines(
                priced,
                step,
                plan=plan,
                metric=metric,
                definition=charge.definition,
                period=closing,
                usage=usage,
            ):
                out.append(line)
                spend += line.priced.amount
        if plan.minimum_commitment and full_period:
            shortfall = Decimal(plan.minimum_commitment) - spend
            if shortfall > 0:
                out.append(
                    _Line(
                        priced=priced(f"{plan.name}: minimum commitment shortfall", 1, shortfall, plan, None),
                        kind="minimum",
                        period=closing,
                        subscription_id=sid,
                        item_id=step.item.id,
                        plan_code=plan.code,
                        plan_version=plan.version,
                        breakdown=(
                            {
                                "kind": "minimum_commitment",
                                "minimum": plan.minimum_commitment,
                                "spend": _text(spend),
                                "amount": _text(shortfall),
                                "explanation": (
                                    f"minimum commitment {plan.minimum_commitment} − period spend "
                                    f"{_text(spend)} = {_text(shortfall)}"
                                ),
                            },
                        ),
                    )
                )
    opening, opening_plan = step.opening, step.opening_plan
    if opening is not None and opening_plan is not None and step.bill_opening:
        full = period_containing(step.cycle(opening_plan), opening.start)
        fee = Decimal(opening_plan.amount) * step.opening_quantity
        amount, days, total = _fraction(fee, opening, full, tz)
        out.append(
            _fee_line(
                priced,
                step,
                plan=opening_plan,
                period=opening,
                amount=amount,
                days=days,
                total=total,
                time_zone=tz,
                quantity=step.opening_quantity,
            )
        )
    return out


def _fee_line(
    priced: Callable[[str, Decimal | int, Decimal, Plan, str | None], PricedLine],
    step: ItemStep,
    *,
    plan: Plan,
    period: Period,
    amount: Decimal,
    days: int,
    total: int,
    time_zone: str,
    quantity: int,
) -> _Line:
    when = "in advance" if plan.pay_in_advance else "in arrears"
    # The period is the line's own (period_start/end), printed once: not repeated in the name.
    description = plan.name
    breakdown: list[dict[str, Any]] = [
        {
            "kind": "fixed_fee",
            "unit_amount": plan.amount,
            "quantity": quantity,
            "interval": plan.interval,
            "in_advance": plan.pay_in_advance,
            "explanation": f"{quantity} × {plan.amount} per {plan.interval}, billed {when} "
            f"({_period_text(period, time_zone)})",
        }
    ]
    if days != total:
        breakdown.append(
            {
                "kind": "proration",
                "days": days,
                "days_in_period": total,
                "amount": _text(amount),
                "explanation": f"{days} of {total} days",
            }
        )
    return _Line(
        priced=priced(description, quantity, amount, plan, None),
        kind="fixed_fee",
        unit_amount_decimal=str(plan.amount),
        period=period,
        subscription_id=step.subscription_id,
        item_id=step.item.id,
        plan_code=plan.code,
        plan_version=plan.version,
        breakdown=tuple(breakdown),
    )


def _usage_lines(
    priced: Callable[[str, Decimal | int, Decimal, Plan, str | None], PricedLine],
    step: ItemStep,
    *,
    plan: Plan,
    metric: Metric,
    definition: Mapping[str, Any],
    period: Period,
    usage: UsageEvents,
) -> list[_Line]:
    parsed = rating.parse_charge(definition)
    events = usage.get(metric.code, ())
    aggregation = metric.aggregation_definition()
    start, end = period.start, period.end
    counted = sum(1 for e in events if _inside(e, period))
    how = (
        f"{metric.aggregation}" + (f" of {metric.field}" if metric.field else "") + f" over {counted} events"
    )

    def line(
        result: rating.RatingResult, group: str | None, quantity: Decimal, shortfall: bool = True
    ) -> list[_Line]:
        suffix = f" [{group}]" if group is not None else ""
        entries: list[dict[str, Any]] = [
            {"kind": "aggregation", "quantity": _text(quantity), "explanation": f"{how} = {_text(quantity)}"}
        ]
        entries += [dict(entry.to_dict()) for entry in result.breakdown]
        out = [
            _Line(
                priced=priced(f"{metric.name}{suffix}", result.quantity, result.amount, plan, metric.code),
                kind="usage",
                period=period,
                subscription_id=step.subscription_id,
                item_id=step.item.id,
                plan_code=plan.code,
                plan_version=plan.version,
                metric_code=metric.code,
                group=group,
                breakdown=tuple(entries),
            )
        ]
        if shortfall and result.minimum_shortfall > 0:
            out.append(
                _shortfall_line(
                    priced,
                    step,
                    plan=plan,
                    metric=metric,
                    period=period,
                    shortfall=result.minimum_shortfall,
                    result=result,
                )
            )
        return out

    if parsed.options.group_by is None:
        if parsed.model.uses_events and metric.aggregation in ("sum", "count"):
            values = metering.event_values(aggregation, events, period_start=start, period_end=end)
            result = rating.rate(parsed, events=values)
            return line(result, None, result.input_quantity)
        quantity = metering.aggregate(aggregation, events, period_start=start, period_end=end)
        return line(rating.rate(parsed, quantity=quantity), None, quantity)
    group_by = parsed.options.group_by
    groups: Mapping[str, Decimal | list[Decimal]]
    if parsed.model.uses_events and metric.aggregation in ("sum", "count"):
        groups = metering.event_values_grouped(
            aggregation, events, group_by=group_by, period_start=start, period_end=end
        )
    else:
        groups = metering.aggregate_grouped(
            aggregation, events, group_by=group_by, period_start=start, period_end=end
        )
    grouped = rating.rate_grouped(parsed, groups)
    out: list[_Line] = []
    for key, result in grouped.groups.items():
        out += line(result, key, result.input_quantity, shortfall=False)
    if grouped.minimum_shortfall > 0:
        out.append(
            _shortfall_line(
                priced,
                step,
                plan=plan,
                metric=metric,
                period=period,
                shortfall=grouped.minimum_shortfall,
                result=None,
            )
        )
    return out


def _inside(event: metering.EventInput, period: Period) -> bool:
    timestamp = event["timestamp"] if isinstance(event, Mapping) else event.timestamp
    return isinstance(timestamp, datetime) and period.start <= timestamp < period.end


def _shortfall_line(
    priced: Callable[[str, Decimal | int, Decimal, Plan, str | None], PricedLine],
    step: ItemStep,
    *,
    plan: Plan,
    metric: Metric,
    period: Period,
    shortfall: Decimal,
    result: rating.RatingResult | None,
) -> _Line:
    entry = (
        result.minimum_shortfall_entry.to_dict()
        if result is not None and result.minimum_shortfall_entry is not None
        else {"kind": "minimum_shortfall", "amount": _text(shortfall), "explanation": "minimum per period"}
    )
    return _Line(
        priced=priced(f"{metric.name}: minimum per period", 1, shortfall, plan, metric.code),
        kind="minimum",
        period=period,
        subscription_id=step.subscription_id,
        item_id=step.item.id,
        plan_code=plan.code,
        plan_version=plan.version,
        metric_code=metric.code,
        breakdown=(entry,),
    )


def _proration_line(
    p: PendingProration,
    subscription_id: str | None,
    *,
    currency: str,
    tax: TaxSetup,
    new_id: Callable[[], str],
) -> _Line:
    sid = subscription_id or ""
    return _Line(
        priced=PricedLine.priced(
            id=new_id(),
            description=p.description,
            currency=currency,
            quantity=p.quantity,
            amount=Decimal(p.amount_exact),
            tax_rate_ids=tax.rate_ids,
            tax_inclusive=tax.inclusive,
            plan_code=_scope(sid, p.plan_code),
        ),
        kind="proration",
        period=Period(p.period_start, p.period_end),
        subscription_id=subscription_id,
        item_id=p.item_id,
        plan_code=p.plan_code,
        plan_version=p.plan_version,
        breakdown=(
            {
                "kind": "proration",
                "proration_kind": p.kind,
                "reason": p.reason,
                "plan_name": p.plan_name,
                "label": p.label,
                "days": p.days,
                "days_in_period": p.days_in_period,
                "amount": p.amount_exact,
                "explanation": f"{p.days} of {p.days_in_period} days",
            },
        ),
    )


def _line_taxes(total: LineTotal) -> list[LineTax]:
    return [
        LineTax(
            rate_id=t.rate_id,
            percentage=_text(t.percentage),
            amount=t.amount,
            inclusive=t.inclusive,
            legal_mention=t.legal_mention,
        )
        for t in total.taxes
    ]


def _invoice_line(line: _Line, total: LineTotal) -> InvoiceLine:
    priced = line.priced
    return InvoiceLine(
        id=priced.id,
        kind=line.kind,
        description=priced.description,
        quantity=_text(priced.quantity),
        unit_amount_decimal=line.unit_amount_decimal,
        amount=priced.amount_minor,
        amount_exact=_text(priced.amount) if priced.amount else "0",
        discount=total.discount,
        taxes=_line_taxes(total),
        tax_rate_ids=list(priced.tax_rate_ids),
        tax_inclusive=priced.tax_inclusive,
        period_start=line.period.start if line.period else None,
        period_end=line.period.end if line.period else None,
        subscription_id=line.subscription_id,
        subscription_item_id=line.item_id,
        plan_code=line.plan_code,
        plan_version=line.plan_version,
        metric_code=line.metric_code,
        group=line.group,
        breakdown=list(line.breakdown),
    )


# --------------------------------------------------------------------------- the draft invoice


def draft_holds(customer: Customer, *, collection_method: str, tax: TaxSetup) -> list[dict[str, str]]:
    """Checks a draft can fail at once (it stays a draft, held, until fixed and finalized). The codes
    and messages are those of the finalization's pre-send checks (``billing.services.invoices``), so
    a held draft's reasons read the same before and after the finalizer looks at it again."""
    holds: list[dict[str, str]] = []
    if collection_method == "send_invoice" and not customer.emails:
        holds.append(
            {
                "code": "missing_billing_email",
                "message": "The invoice is sent by email but the customer has no email.",
            }
        )
    if customer.tax_status == "taxable" and customer.address is None:
        holds.append(
            {
                "code": "missing_address",
                "message": "The customer has no address: tax cannot be determined.",
            }
        )
    return holds


def priced_without_tax(invoice: Invoice) -> bool:
    """A cycle draft priced while the customer's tax could not be determined (no address): held
    ``missing_address``, no line carries a tax rate."""
    return (
        invoice.status == "draft"
        and invoice.origin == "subscription"
        and any(h.get("code") == "missing_address" for h in invoice.hold_reasons)
        and not any(line.tax_rate_ids or line.taxes for line in invoice.lines)
    )


def retax_draft(invoice: Invoice, tax: TaxSetup, *, credit_balance: int, now: datetime) -> Invoice:
    """The draft's lines taxed as ``tax`` says (the customer's treatment now), amounts and
    discounts unchanged: what pricing the draft today would give, as line amounts and coupons do not
    depend on tax. Totals through ``compute_totals`` (the coupons are not applied twice)."""
    priced = [
        PricedLine(
            id=line.id,
            description=line.description,
            currency=invoice.currency,
            quantity=Decimal(line.quantity),
            amount=Decimal(line.amount_exact),
            amount_minor=line.amount,
            tax_rate_ids=tax.rate_ids,
            tax_inclusive=tax.inclusive,
            plan_code=line.plan_code,
            metric_code=line.metric_code,
        )
        for line in invoice.lines
    ]
    totals = compute_totals(
        currency=invoice.currency,
        lines=priced,
        credit_balance=credit_balance,
        tax_rates=tax.rates or None,
        fixed_discounts={line.id: line.discount for line in invoice.lines},
    )
    assert (totals.subtotal, totals.discount) == (invoice.subtotal, invoice.discount)
    lines = [
        line.model_copy(
            update={
                "tax_rate_ids": list(tax.rate_ids),
                "tax_inclusive": tax.inclusive,
                "taxes": _line_taxes(total),
            }
        )
        for line, total in zip(invoice.lines, totals.lines, strict=True)
    ]
    return invoice.model_copy(
        update={
            "lines": lines,
            "taxes": _tax_totals(totals),
            "tax": totals.tax_exclusive,
            "total": totals.total,
            "credit_applied": totals.credit_applied,
            "credit_created": totals.credit_created,
            "amount_due": totals.amount_due,
            "amount_remaining": totals.amount_due,
            "legal_mentions": list(totals.legal_mentions),
            "hold_reasons": [h for h in invoice.hold_reasons if h.get("code") != "missing_address"],
            "updated_at": now,
            "version": invoice.version + 1,
        }
    )


def build_invoice(
    *,
    invoice_id: str,
    customer: Customer,
    draft: DraftResult,
    subscriptions: Sequence[Subscription],
    billing_date: datetime,
    now: datetime,
    finalize_after: datetime | None,
    run_id: str | None = None,
    tax: TaxSetup = NO_TAX,
) -> Invoice:
    """The draft invoice of ``draft`` (status ``draft``; numbered and opened at finalization)."""
    first = subscriptions[0]
    totals = draft.totals
    return Invoice(
        id=invoice_id,
        customer_id=customer.id,
        status="draft",
        origin="subscription",
        collection_method=first.collection_method,
        currency=totals.currency,
        billing_date=billing_date,
        period_start=draft.period_start,
        period_end=draft.period_end,
        subscription_ids=[s.id for s in subscriptions],
        period_keys=draft.period_keys,
        lines=draft.lines,
        subtotal=totals.subtotal,
        discount=totals.discount,
        coupons=draft.coupons,
        taxes=draft.taxes,
        tax=totals.tax_exclusive,
        total=totals.total,
        credit_applied=totals.credit_applied,
        credit_created=totals.credit_created,
        amount_due=totals.amount_due,
        amount_remaining=totals.amount_due,
        days_until_due=first.days_until_due,
        finalize_after=finalize_after,
        hold_reasons=draft_holds(customer, collection_method=first.collection_method, tax=tax),
        legal_mentions=list(totals.legal_mentions),
        billing_run_id=run_id,
        created_at=now,
        updated_at=now,
    )
