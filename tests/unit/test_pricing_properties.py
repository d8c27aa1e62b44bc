"""Hypothesis properties of the pricing core: the invariants that must hold for every input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.discounts import AppliedCoupon, AppliesTo, Coupon, DiscountLine, Duration, apply_discounts
from billing.invoicing.totals import PricedLine, compute_totals
from billing.money import (
    allocate,
    apportion,
    currency_exponent,
    major_to_minor,
    minor_to_major,
    round_exact,
    round_minor,
)
from billing.periods import BillingCycle, Interval, next_period, period_containing
from billing.proration import prorate_remaining, prorate_used

settings.register_profile("pricing", deadline=None, max_examples=200)
settings.load_profile("pricing")

ZONES = [
    "UTC",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Australia/Lord_Howe",
    "America/Santiago",
]
RATE_IDS = [
    "eu_fr_vat_standard",
    "eu_de_vat_standard",
    "ca_gst",
    "ca_qc_qst",
    "eu_fi_vat_standard",
    "eu_reverse_charge",
]
PLANS = ["basic", "pro"]
METRICS = ["api_calls", "storage"]

amounts = st.integers(min_value=-(10**12), max_value=10**12)
weights = st.one_of(
    st.integers(min_value=0, max_value=10**9),
    st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)


# --------------------------------------------------------------------------- allocation


@given(amounts, st.lists(weights, min_size=1, max_size=12))
def test_allocate_sums_exactly_and_stays_within_one_unit(total: int, ws: list[Decimal | int]) -> None:
    assume(sum(Fraction(w) for w in ws) > 0)
    parts = allocate(total, ws)
    assert sum(parts) == total
    weight_sum = sum(Fraction(w) for w in ws)
    for part, w in zip(parts, ws, strict=True):
        exact = total * Fraction(w) / weight_sum
        assert abs(part - exact) < 1  # each part is its exact share rounded down or up
        if w == 0:
            assert part == 0
    assert allocate(-total, ws) == [-p for p in parts]


@given(
    st.lists(
        st.decimals(min_value=-(10**6), max_value=10**6, places=6, allow_nan=False, allow_infinity=False),
        max_size=12,
    )
)
def test_apportion_sums_to_the_rounded_sum(values: list[Decimal]) -> None:
    total = round_minor(sum(values, Decimal(0)))
    parts = apportion(total, values)
    assert sum(parts) == total
    for part, value in zip(parts, values, strict=True):
        assert abs(part - value) < 1


# --------------------------------------------------------------------------- money conversions


@given(
    st.sampled_from(["usd", "jpy", "kwd", "clf", "eur", "iqd"]),
    st.integers(min_value=-(10**15), max_value=10**15),
)
def test_minor_major_round_trip(currency: str, minor: int) -> None:
    major = minor_to_major(minor, currency)
    assert -major.as_tuple().exponent == currency_exponent(currency)  # type: ignore[operator]
    assert major_to_minor(major, currency) == minor


@given(st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**9))
def test_round_exact_is_half_up(value: Fraction) -> None:
    rounded = round_exact(value)
    assert abs(rounded - value) <= Fraction(1, 2)
    if abs(rounded - value) == Fraction(1, 2):
        assert abs(rounded) > abs(value)  # ties go away from zero
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:  # a terminating decimal: the Decimal rule gives the same int
        assert rounded == round_minor(Decimal(value.numerator) / Decimal(value.denominator))


# --------------------------------------------------------------------------- periods


@st.composite
def cycles(draw: st.DrawFn) -> BillingCycle:
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
    )
    return BillingCycle(
        interval=draw(st.sampled_from(list(Interval))),
        interval_count=draw(st.integers(min_value=1, max_value=4)),
        anchor=anchor,
        time_zone=zone,
        calendar=draw(st.booleans()),
    )


@given(cycles(), instants)
def test_every_instant_is_in_exactly_one_period_and_periods_chain(
    cycle: BillingCycle, instant: datetime
) -> None:
    period = period_containing(cycle, instant)
    assert period.start <= instant < period.end
    following = next_period(cycle, period)
    assert following.start == period.end  # contiguous: nothing skipped, nothing billed twice
    assert period_containing(cycle, period.end - timedelta(microseconds=1)) == period
    if cycle.interval is Interval.MONTH and not cycle.calendar:
        anchor_day = cycle.anchor.astimezone(ZoneInfo(cycle.time_zone)).day
        start_day = period.start.astimezone(ZoneInfo(cycle.time_zone)).day
        assert start_day == anchor_day or start_day >= 28  # the anchor day, clamped only at a month end


# --------------------------------------------------------------------------- proration


@given(
    cycles(),
    instants,
    st.data(),
    st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
)
def test_prorating_both_parts_of_a_split_gives_the_full_amount(
    cycle: BillingCycle, instant: datetime, data: st.DataObject, full: Decimal
) -> None:
    period = period_containing(cycle, instant)
    span = int((period.end - period.start).total_seconds())
    change = period.start + timedelta(seconds=data.draw(st.integers(min_value=0, max_value=span - 1)))
    used = prorate_used(full, period, change, time_zone=cycle.time_zone)
    remaining = prorate_remaining(full, period, change, time_zone=cycle.time_zone)
    assert used.days + remaining.days == used.days_in_period
    assert abs(used.amount + remaining.amount - full) < Decimal("1e-30")  # unrounded: exact to 50 digits
    assert abs(used.amount_minor + remaining.amount_minor - round_minor(full)) <= 1  # within one minor unit


# --------------------------------------------------------------------------- discounts


@st.composite
def coupon_states(draw: st.DrawFn, index: int) -> AppliedCoupon:
    scoped = draw(st.booleans())
    applies_to = (
        AppliesTo(
            plans=frozenset(draw(st.sets(st.sampled_from(PLANS), min_size=1))), metrics=frozenset(METRICS[:1])
        )
        if scoped
        else None
    )
    duration = draw(st.sampled_from(list(Duration)))
    common = {
        "id": f"c{index}",
        "duration": duration,
        "duration_in_periods": draw(st.integers(min_value=1, max_value=4))
        if duration is Duration.REPEATING
        else None,
        "applies_to": applies_to,
    }
    if draw(st.booleans()):
        coupon = Coupon(percent_off=draw(st.decimals(min_value="0.01", max_value=100, places=2)), **common)  # type: ignore[arg-type]
        carry = 0
    else:
        coupon = Coupon(amount_off=draw(st.integers(min_value=1, max_value=10**6)), currency="usd", **common)  # type: ignore[arg-type]
        carry = draw(st.integers(min_value=0, max_value=10**5))
    return AppliedCoupon(
        coupon, periods_applied=draw(st.integers(min_value=0, max_value=5)), carry_over=carry
    )


@st.composite
def coupon_lists(draw: st.DrawFn) -> list[AppliedCoupon]:
    return [draw(coupon_states(i)) for i in range(draw(st.integers(min_value=0, max_value=4)))]


def discount_lines(min_amount: int) -> st.SearchStrategy[list[DiscountLine]]:
    line = st.tuples(
        st.integers(min_value=min_amount, max_value=10**7),
        st.sampled_from([*PLANS, None]),
        st.sampled_from([*METRICS, None]),
    )
    return st.lists(line, max_size=8).map(
        lambda rows: [
            DiscountLine(f"l{i}", amount, plan, metric) for i, (amount, plan, metric) in enumerate(rows)
        ]
    )


@given(discount_lines(min_amount=-(10**6)), coupon_lists())
def test_discounts_never_go_below_zero(lines: list[DiscountLine], coupons: list[AppliedCoupon]) -> None:
    result = apply_discounts(lines, coupons, currency="usd")
    subtotal = sum(line.amount for line in lines)
    assert 0 <= result.total <= max(0, subtotal)
    assert sum(result.lines.values()) == result.total == sum(c.amount for c in result.coupons)
    for line in lines:
        assert 0 <= result.lines[line.id] <= max(0, line.amount)  # a line never goes below zero either
    fixed = {state.coupon.id for state in coupons if state.coupon.percent_off is None}
    for c in result.coupons:
        assert sum(c.lines.values()) == c.amount  # each coupon's allocation is exact
        assert c.carry_over >= 0 and c.forfeited >= 0
        if c.coupon_id in fixed:  # a fixed amount is used, carried or forfeited, never lost or made up
            assert c.amount + c.carry_over + c.forfeited == c.granted + c.carried_in


# --------------------------------------------------------------------------- invoice totals


@st.composite
def priced_lines(draw: st.DrawFn, allow_negative: bool) -> list[PricedLine]:
    count = draw(st.integers(min_value=0, max_value=8))
    low = -(10**8) if allow_negative else 0
    lines = []
    for i in range(count):
        amount = draw(
            st.decimals(min_value=low, max_value=10**8, places=4, allow_nan=False, allow_infinity=False)
        )
        rate_ids = draw(st.lists(st.sampled_from(RATE_IDS), unique=True, max_size=2))
        lines.append(
            PricedLine.priced(
                id=f"l{i}",
                description=f"line {i}",
                currency="usd",
                quantity=1,
                amount=amount,
                tax_rate_ids=rate_ids,
                tax_inclusive=draw(st.booleans()),
                plan_code=draw(st.sampled_from([*PLANS, None])),
                metric_code=draw(st.sampled_from([*METRICS, None])),
            )
        )
    return lines


@given(priced_lines(allow_negative=True), coupon_lists(), st.integers(min_value=0, max_value=10**7))
def test_totals_are_the_sum_of_their_lines(
    lines: list[PricedLine], coupons: list[AppliedCoupon], credit: int
) -> None:
    t = compute_totals(currency="usd", lines=lines, coupons=coupons, credit_balance=credit)
    # rounding happens once, per line, and the subtotal adds the rounded lines
    assert [line.amount for line in t.lines] == [round_minor(line.amount) for line in lines]
    assert t.subtotal == sum(line.amount for line in t.lines)
    # discounts: what the lines received is what the coupons gave
    assert t.discount == sum(line.discount for line in t.lines) == sum(c.amount for c in t.coupons)
    # tax: per rate rounded once from the exact sum, and the lines add up to it
    for rate in t.taxes:
        line_shares = [
            tax.amount
            for line in t.lines
            for tax in line.taxes
            if (tax.rate_id, tax.inclusive) == (rate.rate_id, rate.inclusive)
        ]
        assert sum(line_shares) == rate.amount
        assert abs(rate.amount - rate.exact) <= Decimal("0.5")
    assert t.tax_exclusive == sum(r.amount for r in t.taxes if not r.inclusive)
    assert t.tax_exclusive == sum(line.tax_exclusive for line in t.lines)
    # the order: total = subtotal − discount + exclusive tax; lines add up to it
    assert t.total == t.subtotal - t.discount + t.tax_exclusive
    assert t.total == sum(line.total for line in t.lines)
    # credits and amount due
    assert t.amount_due >= 0
    assert t.amount_due == max(0, t.total - t.credit_applied)
    assert 0 <= t.credit_applied <= credit
    assert t.credit_remaining == credit - t.credit_applied + t.credit_created


@given(priced_lines(allow_negative=False), coupon_lists())
def test_discounts_never_make_a_total_negative(lines: list[PricedLine], coupons: list[AppliedCoupon]) -> None:
    t = compute_totals(currency="usd", lines=lines, coupons=coupons)
    assert t.subtotal - t.discount >= 0
    assert t.total >= 0
    assert t.amount_due == t.total
