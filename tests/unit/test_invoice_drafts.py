"""The pure draft composition: what an item owes at a boundary, and the invoice it makes.

Every expected number has its arithmetic beside it. Whole-year scenarios walk subscriptions through
their boundaries with the clock moved and check that no period is billed twice or skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing import rating
from billing.models.catalog import Coupon, Metric, Plan, PlanCharge
from billing.models.catalog import TaxRate as CatalogTaxRate
from billing.models.customers import Address, Customer, TaxId
from billing.models.subscriptions import Discount, PendingChange, Subscription, SubscriptionItem
from billing.services import invoice_drafts as drafts

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def plan(
    code: str = "pro",
    *,
    amount: int = 0,
    advance: bool = False,
    interval: str = "month",
    charges: Sequence[PlanCharge] = (),
    minimum: int | None = None,
    version: int = 1,
    name: str | None = None,
) -> Plan:
    return Plan(
        code=code,
        version=version,
        current_version=version,
        name=name or code.title(),
        interval=interval,  # type: ignore[arg-type]
        currency="usd",
        amount=amount,
        pay_in_advance=advance,
        minimum_commitment=minimum,
        charges=list(charges),
        version_created_at=T0,
        created_at=T0,
        updated_at=T0,
    )


def charge(metric: str, definition: Mapping[str, Any]) -> PlanCharge:
    return PlanCharge(metric=metric, definition=rating.validate_charge(definition))


def metric(code: str = "calls", aggregation: str = "count", field: str | None = None) -> Metric:
    return Metric(
        code=code, name=code.title(), aggregation=aggregation, field=field, created_at=T0, updated_at=T0
    )  # type: ignore[arg-type]


def customer(**kw: Any) -> Customer:
    base: dict[str, Any] = {
        "id": "cus_0000000000000001",
        "name": "Acme",
        "currency": "usd",
        "invoice_prefix": "ACME",
        "created_at": T0,
        "updated_at": T0,
    }
    return Customer(**{**base, **kw})


def subscribe(
    plans: Sequence[Plan],
    *,
    start: datetime = T0,
    anchor: datetime | None = None,
    trial_end: datetime | None = None,
    sub_id: str = "sub_0000000000000001",
    discounts: Sequence[Discount] = (),
    quantity: int = 1,
    time_zone: str = "UTC",
) -> Subscription:
    anchor = anchor or trial_end or start
    items = []
    for n, p in enumerate(plans, 1):
        first = drafts.initial_period(
            p, anchor=anchor, time_zone=time_zone, calendar=False, start=start, trial_end=trial_end
        )
        items.append(
            SubscriptionItem(
                id=f"si_{n:016x}",
                plan_code=p.code,
                plan_version=p.version,
                quantity=quantity,
                current_period_start=first.start,
                current_period_end=first.end,
            )
        )
    sub = Subscription(
        id=sub_id,
        customer_id="cus_0000000000000001",
        status="trialing" if trial_end else "active",
        currency="usd",
        time_zone=time_zone,
        items=items,
        billing_anchor=anchor,
        start_date=start,
        trial_end=trial_end,
        discounts=list(discounts),
        created_at=start,
        updated_at=start,
    )
    return drafts.settle_status(sub, {(p.code, p.version): p for p in plans}, at=start)


def keyed(*plans: Plan) -> dict[tuple[str, int], Plan]:
    return {(p.code, p.version): p for p in plans}


def bill(
    sub: Subscription,
    plans: Mapping[tuple[str, int], Plan],
    *,
    up_to: datetime,
    metrics: Mapping[str, Metric] | None = None,
    usage: Mapping[str, Sequence[Any]] | None = None,
    coupons: Mapping[str, Coupon] | None = None,
    tax: drafts.TaxSetup = drafts.NO_TAX,
    credit: int = 0,
) -> tuple[Subscription, list[tuple[datetime, drafts.DraftResult]]]:
    """Run the worker's loop, without storage: every boundary up to ``up_to``, one draft each."""
    out = []
    for _ in range(1000):
        found = drafts.earliest_due([sub], plans, up_to=up_to)
        if found is None:
            return sub, out
        boundary, steps = found
        draft = drafts.compose_draft(
            currency="usd",
            steps=steps,
            subscriptions={sub.id: sub},
            metrics=metrics or {},
            usage=usage or {},
            coupons=coupons or {},
            tax=tax,
            credit_balance=credit,
        )
        results = draft.coupon_results.get(sub.id, {})
        sub = drafts.advance_subscription(sub, steps, plans, at=boundary, coupon_results=results)
        out.append((boundary, draft))
    raise AssertionError("runaway")


def amounts(draft: drafts.DraftResult) -> list[tuple[str, int]]:
    return [(line.kind, line.amount) for line in draft.lines]


# --------------------------------------------------------------------------- fixed fees


def test_fixed_fee_in_advance_is_invoiced_when_each_period_starts():
    p = plan(amount=1000, advance=True)
    sub, invoices = bill(subscribe([p]), keyed(p), up_to=at(2027, 3, 1))
    # Jan 1 (start: January in advance), Feb 1 (February), Mar 1 (March)
    assert [b for b, _ in invoices] == [at(2027, 1, 1), at(2027, 2, 1), at(2027, 3, 1)]
    assert all(amounts(d) == [("fixed_fee", 1000)] for _, d in invoices)
    assert [d.lines[0].period_start for _, d in invoices] == [at(2027, 1, 1), at(2027, 2, 1), at(2027, 3, 1)]
    assert sub.next_billing_at == at(2027, 4, 1)


def test_fixed_fee_in_arrears_is_invoiced_when_each_period_ends():
    p = plan(amount=1000)
    _sub, invoices = bill(subscribe([p]), keyed(p), up_to=at(2027, 3, 1))
    # nothing at the start; Feb 1 bills January, Mar 1 bills February
    assert [b for b, _ in invoices] == [at(2027, 2, 1), at(2027, 3, 1)]
    assert [(d.lines[0].period_start, d.lines[0].period_end) for _, d in invoices] == [
        (at(2027, 1, 1), at(2027, 2, 1)),
        (at(2027, 2, 1), at(2027, 3, 1)),
    ]
    assert all(d.totals.total == 1000 for _, d in invoices)


def test_quantity_multiplies_the_fixed_fee():
    p = plan(amount=1500, advance=True)
    _, invoices = bill(subscribe([p], quantity=3), keyed(p), up_to=T0)
    assert amounts(invoices[0][1]) == [("fixed_fee", 4500)]  # 3 × 1500


def test_anchor_off_the_start_prorates_the_first_period():
    p = plan(amount=3100, advance=True)
    sub = subscribe([p], start=at(2027, 1, 20), anchor=at(2027, 1, 1))
    _, invoices = bill(sub, keyed(p), up_to=at(2027, 2, 1))
    first = invoices[0][1].lines[0]
    # Jan 20..31 = 12 of 31 days: 3100 × 12 / 31 = 1200
    assert first.amount == 1200
    assert first.breakdown[-1]["explanation"] == "12 of 31 days"
    assert invoices[1][1].lines[0].amount == 3100  # February, full


# --------------------------------------------------------------------------- usage


GRADUATED = {
    "model": "graduated",
    "tiers": [
        {"up_to": 5, "unit_amount": 500},
        {"up_to": 10, "unit_amount": 400},
        {"up_to": None, "unit_amount": 300},
    ],
}


def events(n: int, start: datetime, **props: Any) -> list[dict[str, Any]]:
    return [{"timestamp": start + timedelta(hours=i), "properties": dict(props)} for i in range(n)]


def test_usage_is_rated_through_the_tiers_with_the_breakdown():
    p = plan(charges=[charge("calls", GRADUATED)])
    usage = {"calls": events(11, at(2027, 1, 3)) + events(4, at(2027, 2, 2))}  # Feb events are next period
    _, invoices = bill(
        subscribe([p]), keyed(p), up_to=at(2027, 2, 1), metrics={"calls": metric()}, usage=usage
    )
    ((_boundary, draft),) = invoices
    line = draft.lines[0]
    assert line.kind == "usage" and line.metric_code == "calls"
    assert line.amount == 4800  # 5×500 + 5×400 + 1×300 = 2500 + 2000 + 300
    assert line.quantity == "11"
    tiers = [e for e in line.breakdown if e["kind"] == "tier"]
    assert [e["amount"] for e in tiers] == ["2500", "2000", "300"]
    assert line.breakdown[0]["explanation"] == "count over 11 events = 11"


def test_charge_minimum_per_period_adds_a_shortfall_line():
    p = plan(
        charges=[charge("calls", {"model": "standard", "unit_amount": 10, "min_amount_per_period": 1000})]
    )
    usage = {"calls": events(30, at(2027, 1, 3))}
    _, invoices = bill(
        subscribe([p]), keyed(p), up_to=at(2027, 2, 1), metrics={"calls": metric()}, usage=usage
    )
    draft = invoices[0][1]
    # usage 30 × 10 = 300; minimum 1000 → shortfall 700
    assert amounts(draft) == [("usage", 300), ("minimum", 700)]
    assert draft.totals.total == 1000


def test_plan_minimum_commitment_tops_up_the_period():
    p = plan(amount=2000, charges=[charge("calls", {"model": "standard", "unit_amount": 10})], minimum=5000)
    usage = {"calls": events(100, at(2027, 1, 2))}
    _, invoices = bill(
        subscribe([p]), keyed(p), up_to=at(2027, 2, 1), metrics={"calls": metric()}, usage=usage
    )
    # fee 2000 + usage 100 × 10 = 1000 → spend 3000; commitment 5000 → shortfall 2000
    assert amounts(invoices[0][1]) == [("fixed_fee", 2000), ("usage", 1000), ("minimum", 2000)]


# --------------------------------------------------------------------------- coupons, tax, credit


def coupon(code: str, **kw: Any) -> Coupon:
    return Coupon(code=code, created_at=T0, updated_at=T0, **kw)


def test_repeating_coupon_applies_for_its_periods_then_stops():
    p = plan(amount=10000, advance=True)
    c = coupon("TENOFF", percent_off=Decimal(10), duration="repeating", duration_in_periods=2)
    sub = subscribe([p], discounts=[Discount(coupon_code="TENOFF")])
    sub, invoices = bill(sub, keyed(p), up_to=at(2027, 3, 1), coupons={"TENOFF": c})
    # 10 % of 10000 = 1000 off on the first two invoices, none on the third
    assert [d.totals.discount for _, d in invoices] == [1000, 1000, 0]
    assert [d.totals.total for _, d in invoices] == [9000, 9000, 10000]
    assert sub.discounts[0].periods_applied == 2


def test_tax_is_computed_after_discounts_per_the_customers_jurisdiction():
    p = plan(amount=10000, advance=True)
    c = coupon("TENOFF", percent_off=Decimal(10), duration="forever")
    who = customer(address=Address(country="DE"), currency="eur")
    tax = drafts.tax_setup_for(who, seller_country="DE")
    assert tax.rate_ids == ("eu_de_vat_standard",)
    sub = subscribe([p], discounts=[Discount(coupon_code="TENOFF")])
    _, invoices = bill(sub, keyed(p), up_to=T0, coupons={"TENOFF": c}, tax=tax)
    draft = invoices[0][1]
    # 10000 − 1000 = 9000 taxable; 19 % = 1710; total 10710
    assert (draft.totals.subtotal, draft.totals.discount, draft.totals.tax_exclusive) == (10000, 1000, 1710)
    assert draft.totals.total == 10710
    assert draft.lines[0].taxes[0].amount == 1710


def test_eu_business_customer_in_another_state_is_reverse_charged():
    who = customer(address=Address(country="FR"), tax_ids=[TaxId(type="eu_vat", value="FR40303265045")])
    tax = drafts.tax_setup_for(who, seller_country="DE")
    assert tax.treatment == "reverse_charge"
    assert tax.legal_mention


def test_exempt_customer_and_inactive_catalog_rate():
    assert drafts.tax_setup_for(customer(tax_status="exempt"), seller_country="DE").rate_ids == ()
    inactive = CatalogTaxRate(
        id="eu_de_vat_standard",
        display_name="USt",
        percentage=Decimal(19),
        country="DE",
        active=False,
        created_at=T0,
        updated_at=T0,
    )
    who = customer(address=Address(country="DE"))
    assert (
        drafts.tax_setup_for(who, seller_country="DE", catalog_rates=[inactive]).treatment == "not_collected"
    )


def test_draft_holds_use_the_codes_of_the_pre_send_checks():
    # the finalizer replaces a held draft's reasons with the pre-send checks' (docs/invoices.md): the
    # same problem keeps the same code before and after
    who = customer(emails=[], address=None)
    holds = drafts.draft_holds(who, collection_method="send_invoice", tax=drafts.NO_TAX)
    assert [h["code"] for h in holds] == ["missing_billing_email", "missing_address"]
    assert holds[0]["message"] == "The invoice is sent by email but the customer has no email."
    assert drafts.draft_holds(who, collection_method="charge_automatically", tax=drafts.NO_TAX)[0][
        "code"
    ] == ("missing_address")


def test_credit_balance_pays_what_it_can():
    p = plan(amount=1000, advance=True)
    _, invoices = bill(subscribe([p]), keyed(p), up_to=T0, credit=300)
    totals = invoices[0][1].totals
    assert (totals.total, totals.credit_applied, totals.amount_due) == (1000, 300, 700)


# --------------------------------------------------------------------------- mid-period changes


def test_mid_period_upgrade_credits_unused_days_and_charges_the_new_price():
    basic, pro = plan("basic", amount=3100, advance=True), plan("pro", amount=6200, advance=True)
    sub, _ = bill(subscribe([basic]), keyed(basic, pro), up_to=T0)  # January paid in advance
    item = sub.items[0]
    counter = iter(range(100))
    lines = drafts.change_prorations(
        sub,
        item,
        old_plan=basic,
        new_plan=pro,
        new_quantity=1,
        at=at(2027, 1, 20, 15),
        new_id=lambda: f"pr_{next(counter)}",
    )
    # Jan 20..31 = 12 of 31 days: credit −3100 × 12/31 = −1200; charge 6200 × 12/31 = 2400
    assert [(p.kind, p.amount_exact, p.days, p.days_in_period) for p in lines] == [
        ("credit", "-1200", 12, 31),
        ("charge", "2400", 12, 31),
    ]
    assert lines[0].reason == "upgrade"


def test_upgrade_prorations_go_on_the_next_invoice_once():
    basic, pro = plan("basic", amount=3100, advance=True), plan("pro", amount=6200, advance=True)
    plans = keyed(basic, pro)
    sub, _ = bill(subscribe([basic]), plans, up_to=T0)
    item = sub.items[0]
    prorations = drafts.change_prorations(
        sub, item, old_plan=basic, new_plan=pro, new_quantity=1, at=at(2027, 1, 20), new_id=lambda: "pr_1"
    )
    changed = item.model_copy(update={"plan_code": "pro", "fixed_fee_paid_through": item.current_period_end})
    sub = sub.model_copy(update={"items": [changed], "pending_prorations": prorations})
    sub, invoices = bill(sub, plans, up_to=at(2027, 3, 1))
    feb = invoices[0][1]
    # Feb 1: −1200 + 2400 prorations, then February's pro fee 6200 in advance
    assert amounts(feb) == [("fixed_fee", 6200), ("proration", -1200), ("proration", 2400)]
    assert feb.totals.total == 7400
    assert feb.lines[1].breakdown[0]["explanation"] == "12 of 31 days"
    assert amounts(invoices[1][1]) == [("fixed_fee", 6200)]  # March: no proration again


def upgraded_with_coupon() -> tuple[Subscription, dict[tuple[str, int], Plan], Coupon]:
    """Basic (3100, arrears) with a 10 % forever coupon, upgraded to Pro (6200) on Jan 20."""
    basic, pro = plan("basic", amount=3100), plan("pro", amount=6200)
    c = coupon("TENOFF", percent_off=Decimal(10), duration="forever")
    sub = subscribe([basic], discounts=[Discount(coupon_code="TENOFF")])
    item = sub.items[0]
    prorations = drafts.change_prorations(
        sub, item, old_plan=basic, new_plan=pro, new_quantity=1, at=at(2027, 1, 20), new_id=lambda: "pr_1"
    )
    changed = item.model_copy(update={"plan_code": "pro", "fixed_fee_paid_through": item.current_period_end})
    sub = sub.model_copy(update={"items": [changed], "pending_prorations": prorations})
    return sub, keyed(basic, pro), c


def test_a_subscription_coupon_discounts_the_old_plans_proration_too():
    sub, plans, c = upgraded_with_coupon()
    _, invoices = bill(sub, plans, up_to=at(2027, 2, 1), coupons={"TENOFF": c})
    feb = invoices[0][1]
    # used Basic 1900 + remaining Pro 2400 = 4300; the coupon (no applies_to) takes 10 % of every
    # line of its subscription, the Basic one included: 190 + 240 = 430
    assert amounts(feb) == [("proration", 1900), ("proration", 2400)]
    assert [line.discount for line in feb.lines] == [190, 240]
    assert (feb.totals.discount, feb.totals.total) == (430, 3870)


def test_arrears_change_charges_used_days_of_the_old_price():
    basic, pro = plan("basic", amount=3100), plan("pro", amount=6200)
    sub = subscribe([basic])
    lines = drafts.change_prorations(
        sub,
        sub.items[0],
        old_plan=basic,
        new_plan=pro,
        new_quantity=1,
        at=at(2027, 1, 20),
        new_id=lambda: "x",
    )
    # used Jan 1..19 = 19 of 31: 3100 × 19/31 = 1900; remaining 12 of 31 at 6200 = 2400
    assert [(p.kind, p.amount_exact) for p in lines] == [("charge", "1900"), ("charge", "2400")]


def test_cancel_now_bills_usage_so_far_and_credits_the_unused_fee():
    p = plan(amount=3100, advance=True, charges=[charge("calls", {"model": "standard", "unit_amount": 5})])
    sub, _ = bill(subscribe([p]), keyed(p), up_to=T0)
    cancel_at = at(2027, 1, 20, 12)
    prorations = drafts.change_prorations(
        sub, sub.items[0], old_plan=p, new_plan=None, new_quantity=0, at=cancel_at, new_id=lambda: "pr_c"
    )
    step = drafts.cancel_step(sub, sub.items[0], p, at=cancel_at)
    usage = {"calls": events(10, at(2027, 1, 2)) + events(3, at(2027, 1, 21))}  # 3 after the cancel
    draft = drafts.compose_draft(
        currency="usd",
        steps=[step],
        subscriptions={sub.id: sub},
        metrics={"calls": metric()},
        usage=usage,
        coupons={},
        prorations=prorations,
    )
    # usage 10 × 5 = 50; credit of Jan 20..31: −3100 × 12/31 = −1200; total −1150 → a credit
    assert amounts(draft) == [("usage", 50), ("proration", -1200)]
    assert (draft.totals.total, draft.totals.credit_created, draft.totals.amount_due) == (-1150, 1150, 0)
    ended = drafts.advance_subscription(sub, [step], keyed(p), at=cancel_at)
    assert ended.status == "canceled" and ended.next_billing_at is None


def test_cancel_at_period_end_bills_the_last_period_then_stops():
    p = plan(amount=1000)
    sub = subscribe([p])
    item = sub.items[0]
    sub = sub.model_copy(
        update={
            "cancel_at_period_end": True,
            "pending_changes": [
                PendingChange(kind="cancel", item_id=item.id, effective_at=item.current_period_end)
            ],
        }
    )
    sub, invoices = bill(sub, keyed(p), up_to=at(2027, 6, 1))
    assert [b for b, _ in invoices] == [at(2027, 2, 1)]
    assert amounts(invoices[0][1]) == [("fixed_fee", 1000)]
    assert (
        sub.status == "canceled" and sub.next_billing_at is None and sub.items[0].ended_at == at(2027, 2, 1)
    )


def test_scheduled_plan_change_applies_at_the_period_roll():
    basic, pro = plan("basic", amount=1000, advance=True), plan("pro", amount=3000, advance=True)
    sub, _ = bill(subscribe([basic]), keyed(basic, pro), up_to=T0)
    item = sub.items[0]
    change = PendingChange(
        kind="change_plan",
        item_id=item.id,
        plan_code="pro",
        plan_version=1,
        effective_at=item.current_period_end,
    )
    sub = sub.model_copy(update={"pending_changes": [change]})
    sub, invoices = bill(sub, keyed(basic, pro), up_to=at(2027, 2, 1))
    assert amounts(invoices[0][1]) == [("fixed_fee", 3000)]  # February at the new price
    assert sub.items[0].plan_code == "pro" and sub.pending_changes == []


# --------------------------------------------------------------------------- trials and pauses


def test_trial_bills_nothing_then_starts_the_cycle_at_trial_end():
    p = plan(amount=1000, advance=True, charges=[charge("calls", {"model": "standard", "unit_amount": 5})])
    sub = subscribe([p], trial_end=at(2027, 1, 15))
    assert sub.status == "trialing"
    usage = {"calls": events(10, at(2027, 1, 2))}  # during the trial: free
    sub, invoices = bill(sub, keyed(p), up_to=at(2027, 2, 15), metrics={"calls": metric()}, usage=usage)
    assert [b for b, _ in invoices] == [at(2027, 1, 15), at(2027, 2, 15)]
    assert amounts(invoices[0][1]) == [("fixed_fee", 1000)]  # the first paid month, nothing for the trial
    assert sub.status == "active"


def test_paused_subscription_rolls_its_periods_without_billing():
    p = plan(amount=1000, advance=True)
    sub, _ = bill(subscribe([p]), keyed(p), up_to=T0)
    sub = sub.model_copy(update={"status": "paused"})
    sub, invoices = bill(sub, keyed(p), up_to=at(2027, 3, 1))
    assert [b for b, _ in invoices] == [at(2027, 2, 1), at(2027, 3, 1)]
    assert all(d.lines == [] for _, d in invoices)
    assert sub.next_billing_at == at(2027, 4, 1)


# --------------------------------------------------------------------------- whole years


def walk_year(
    sub: Subscription, plans: Mapping[tuple[str, int], Plan], *, until: datetime, step: timedelta, **kw: Any
):
    """Move a clock by ``step`` until ``until``, billing what is due at each tick (as the hourly run)."""
    now, invoices = sub.start_date, []
    while now <= until:
        sub, found = bill(sub, plans, up_to=now, **kw)
        invoices += found
        now += step
    return sub, invoices


def test_year_of_monthly_usage_and_annual_fee_bills_every_period_once():
    usage_plan = plan("usage", charges=[charge("calls", {"model": "standard", "unit_amount": 2})])
    platform = plan("platform", amount=120000, advance=True, interval="year")
    plans = keyed(usage_plan, platform)
    sub = subscribe([usage_plan, platform])
    usage = {"calls": [{"timestamp": T0 + timedelta(days=d, hours=1), "properties": {}} for d in range(366)]}
    sub, invoices = walk_year(
        sub,
        plans,
        until=at(2028, 1, 1, 12),
        step=timedelta(hours=7),
        metrics={"calls": metric()},
        usage=usage,
    )
    keys = [k for _, d in invoices for k in d.period_keys]
    assert len(keys) == len({(k.item_id, k.period_start) for k in keys})  # never twice
    usage_periods = [
        (line.period_start, line.period_end) for _, d in invoices for line in d.lines if line.kind == "usage"
    ]
    assert usage_periods == [
        (at(2027, m, 1), at(2027 + m // 12, m % 12 + 1, 1)) for m in range(1, 13)
    ]  # none skipped
    fees = [line.amount for _, d in invoices for line in d.lines if line.kind == "fixed_fee"]
    assert fees == [120000, 120000]  # 2027 at the start, 2028 on Jan 1 2028
    assert sum(line.amount for _, d in invoices for line in d.lines if line.kind == "usage") == 365 * 2
    # the annual fee and December's usage share the Jan 1 2028 boundary: one invoice
    assert [line.kind for line in invoices[-1][1].lines] == ["usage", "fixed_fee"]


def test_anchor_on_the_31st_through_a_leap_february():
    p = plan(amount=1000)
    sub = subscribe([p], start=at(2028, 1, 31))
    sub, invoices = walk_year(sub, keyed(p), until=at(2028, 6, 1), step=timedelta(days=1))
    assert [b for b, _ in invoices] == [
        at(2028, 2, 29),  # leap year: Jan 31 → Feb 29
        at(2028, 3, 31),
        at(2028, 4, 30),
        at(2028, 5, 31),
    ]
    spans = [(d.lines[0].period_start, d.lines[0].period_end) for _, d in invoices]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # contiguous: none skipped


def test_a_late_run_catches_up_one_invoice_per_boundary():
    p = plan(amount=1000, advance=True)
    _sub, invoices = bill(subscribe([p]), keyed(p), up_to=at(2027, 12, 15))  # a year of missed runs
    assert [b.month for b, _ in invoices] == list(range(1, 13))
    assert sum(d.totals.total for _, d in invoices) == 12 * 1000


@pytest.mark.parametrize("inclusive", [False, True])
def test_a_draft_priced_without_tax_is_taxed_later_as_a_fresh_draft_would_be(inclusive: bool) -> None:
    """The missing-address hold: priced with no address, taxed at finalization once it is known. Line
    amounts and coupons do not depend on tax, so the re-taxed draft equals one priced with the tax."""
    sub, plans, c = upgraded_with_coupon()
    catalog = [
        CatalogTaxRate(
            id="eu_de_vat_standard", display_name="USt", percentage=Decimal(19), country="DE",
            inclusive=inclusive, created_at=T0, updated_at=T0,
        )
    ]  # fmt: skip
    before, after = customer(), customer(address=Address(country="DE"))
    tax = drafts.tax_setup_for(after, seller_country="DE", catalog_rates=catalog)
    assert tax.inclusive is inclusive

    def invoice(who: Customer, setup: drafts.TaxSetup) -> Any:
        _, [(boundary, draft)] = bill(sub, plans, up_to=at(2027, 2, 1), coupons={"TENOFF": c}, tax=setup)
        return drafts.build_invoice(
            invoice_id="in_1", customer=who, draft=draft, subscriptions=[sub], billing_date=boundary,
            now=T0, finalize_after=None, tax=setup,
        )  # fmt: skip

    untaxed = invoice(before, drafts.NO_TAX)
    assert drafts.priced_without_tax(untaxed)
    assert [h["code"] for h in untaxed.hold_reasons] == ["missing_address"]
    assert (untaxed.tax, untaxed.total) == (0, 3870)

    taxed = drafts.retax_draft(untaxed, tax, credit_balance=0, now=at(2027, 2, 2))
    fresh = invoice(after, tax)
    same = {"lines", "taxes", "tax", "total", "subtotal", "discount", "amount_due", "legal_mentions"}
    assert taxed.model_dump(include=same) == fresh.model_dump(include=same)
    assert taxed.hold_reasons == [] and taxed.version == untaxed.version + 1
    assert not drafts.priced_without_tax(taxed)
    # 19 % on 3870 after the coupon: exclusive 735.3 → 735 on top; inclusive 3870 × 19/119 = 617.9 → 618 inside
    assert (taxed.tax, taxed.total) == ((0, 3870) if inclusive else (735, 4605))
    assert sum(t.amount for t in taxed.taxes) == (618 if inclusive else 735)
