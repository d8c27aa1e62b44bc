"""billing.discounts: coupon validation, stacking on what is left, scope, carry-over, allocation to lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.discounts import (
    AppliedCoupon,
    AppliesTo,
    Coupon,
    DiscountLine,
    Duration,
    apply_discounts,
    parse_coupon,
)
from billing.errors import CurrencyMismatch, ValidationFailed


def percent(coupon_id: str, value: str, **kw: Any) -> AppliedCoupon:
    periods = kw.pop("periods_applied", 0)
    return AppliedCoupon(
        Coupon(id=coupon_id, percent_off=Decimal(value), duration=Duration.FOREVER, **kw), periods
    )


def fixed(
    coupon_id: str, amount: int, *, duration: str = "forever", currency: str = "usd", **kw: Any
) -> Coupon:
    return Coupon(id=coupon_id, amount_off=amount, currency=currency, duration=Duration(duration), **kw)


ONE_LINE = [DiscountLine("l1", 10000, plan_code="pro")]


# --------------------------------------------------------------------------- stacking


def test_15_then_20_percent_takes_32_percent_not_35() -> None:
    result = apply_discounts(ONE_LINE, [percent("a", "15"), percent("b", "20")], currency="usd")
    # 10000 × 15 % = 1500 → 8500 left; 8500 × 20 % = 1700; 1500 + 1700 = 3200 = 32 % of 10000
    assert [c.amount for c in result.coupons] == [1500, 1700]
    assert result.total == 3200
    assert result.lines == {"l1": 3200}


def test_percentage_is_rounded_once_half_up() -> None:
    lines = [DiscountLine("l1", 999)]
    result = apply_discounts(lines, [percent("a", "15")], currency="usd")
    assert result.total == 150  # 999 × 15 % = 149.85 → 150


def test_percentage_tie_rounds_away_from_zero() -> None:
    result = apply_discounts([DiscountLine("l1", 10)], [percent("a", "25")], currency="usd")
    assert result.total == 3  # 10 × 25 % = 2.5 → 3


def test_scoped_coupons_apply_before_unscoped_ones() -> None:
    lines = [DiscountLine("pro", 10000, plan_code="pro"), DiscountLine("basic", 5000, plan_code="basic")]
    unscoped = AppliedCoupon(fixed("flat", 3000))
    scoped = percent("half_pro", "50", applies_to=AppliesTo(plans=frozenset({"pro"})))
    result = apply_discounts(lines, [unscoped, scoped], currency="usd")
    # scoped first: 50 % of pro 10000 = 5000 → pro 5000, basic 5000 left
    # then 3000 unscoped on 10000 left, pro rata 5000:5000 → 1500 each
    assert [c.coupon_id for c in result.coupons] == ["half_pro", "flat"]
    assert result.lines == {"pro": 6500, "basic": 1500}  # 5000 + 1500, 1500
    assert result.total == 8000
    assert result.coupons[1].lines == {"pro": 1500, "basic": 1500}


def test_metric_scope() -> None:
    lines = [
        DiscountLine("fee", 2000, plan_code="pro"),
        DiscountLine("calls", 4000, plan_code="pro", metric_code="api_calls"),
        DiscountLine("storage", 1000, plan_code="pro", metric_code="storage_gb"),
    ]
    coupon = percent("calls10", "10", applies_to=AppliesTo(metrics=frozenset({"api_calls"})))
    result = apply_discounts(lines, [coupon], currency="usd")
    assert result.lines == {"fee": 0, "calls": 400, "storage": 0}  # 4000 × 10 %


def test_scoped_coupon_with_no_matching_line_gives_nothing() -> None:
    coupon = percent("x", "50", applies_to=AppliesTo(plans=frozenset({"enterprise"})))
    result = apply_discounts(ONE_LINE, [coupon], currency="usd")
    assert result.total == 0
    assert result.coupons[0].active and result.coupons[0].periods_applied == 1  # the period still counts


# --------------------------------------------------------------------------- allocation to lines


def test_invoice_discount_is_allocated_pro_rata_exactly() -> None:
    lines = [DiscountLine("a", 3333), DiscountLine("b", 3333), DiscountLine("c", 3334)]
    result = apply_discounts(lines, [AppliedCoupon(fixed("f", 1000))], currency="usd")
    # shares 333.3, 333.3, 333.4 → floors 333 × 3 = 999; 1 unit left → largest remainder (c)
    assert result.lines == {"a": 333, "b": 333, "c": 334}
    assert sum(result.lines.values()) == 1000


def test_credit_lines_lower_the_base_but_receive_no_discount() -> None:
    lines = [
        DiscountLine("new_plan", 10000, plan_code="pro"),
        DiscountLine("unused_old", -3000, plan_code="pro"),
    ]
    result = apply_discounts(lines, [percent("half", "50")], currency="usd")
    # base = 10000 − 3000 = 7000; 50 % = 3500, all on the positive line
    assert result.lines == {"new_plan": 3500, "unused_old": 0}


def test_negative_invoice_gets_no_discount() -> None:
    lines = [DiscountLine("charge", 1000), DiscountLine("credit", -4000)]
    result = apply_discounts(lines, [percent("p", "10"), AppliedCoupon(fixed("f", 500))], currency="usd")
    assert result.total == 0  # net −3000: nothing to discount


def test_scoped_coupon_never_takes_the_invoice_below_zero() -> None:
    lines = [DiscountLine("pro", 1000, plan_code="pro"), DiscountLine("credit", -800, plan_code="other")]
    coupon = AppliedCoupon(fixed("f", 1000, applies_to=AppliesTo(plans=frozenset({"pro"}))))
    result = apply_discounts(lines, [coupon], currency="usd")
    # the pro line alone could take 1000, but the invoice only has 1000 − 800 = 200 left
    assert result.total == 200
    assert result.coupons[0].carry_over == 800  # forever: the unused 800 carries


# --------------------------------------------------------------------------- fixed amounts and carry-over


def test_amount_off_larger_than_the_invoice_stops_at_zero_and_carries() -> None:
    coupon = fixed("f", 5000, duration="repeating", duration_in_periods=3)
    first = apply_discounts([DiscountLine("l", 3000)], [AppliedCoupon(coupon)], currency="usd")
    c = first.coupons[0]
    assert (c.amount, c.granted, c.carry_over, c.forfeited, c.periods_applied) == (3000, 5000, 2000, 0, 1)
    # period 2: 5000 granted + 2000 carried = 7000 available on a 10000 invoice
    second = apply_discounts(
        [DiscountLine("l", 10000)],
        [AppliedCoupon(coupon, periods_applied=1, carry_over=2000)],
        currency="usd",
    )
    c = second.coupons[0]
    assert (c.amount, c.carried_in, c.carry_over, c.periods_applied, c.exhausted) == (7000, 2000, 0, 2, False)
    # period 3 (the last): 5000 granted on a 1000 invoice; the 4000 left is forfeited, not carried
    third = apply_discounts(
        [DiscountLine("l", 1000)], [AppliedCoupon(coupon, periods_applied=2)], currency="usd"
    )
    c = third.coupons[0]
    assert (c.amount, c.carry_over, c.forfeited, c.periods_applied, c.exhausted) == (1000, 0, 4000, 3, True)
    # period 4: the duration is over
    fourth = apply_discounts(
        [DiscountLine("l", 1000)], [AppliedCoupon(coupon, periods_applied=3)], currency="usd"
    )
    assert (fourth.total, fourth.coupons[0].active) == (0, False)


def test_once_coupon_forfeits_what_it_does_not_use() -> None:
    result = apply_discounts(
        [DiscountLine("l", 3000)], [AppliedCoupon(fixed("f", 5000, duration="once"))], currency="usd"
    )
    c = result.coupons[0]
    assert (c.amount, c.carry_over, c.forfeited, c.exhausted) == (3000, 0, 2000, True)  # 5000 − 3000


def test_forever_coupon_carries_indefinitely() -> None:
    coupon = AppliedCoupon(fixed("f", 1000), periods_applied=40, carry_over=300)
    result = apply_discounts([DiscountLine("l", 500)], [coupon], currency="usd")
    c = result.coupons[0]
    assert (c.amount, c.carry_over, c.exhausted) == (500, 800, False)  # 1000 + 300 − 500


def test_inactive_coupon_forfeits_its_carry_over() -> None:
    coupon = AppliedCoupon(
        fixed("f", 1000, duration="repeating", duration_in_periods=2), periods_applied=2, carry_over=700
    )
    c = apply_discounts(ONE_LINE, [coupon], currency="usd").coupons[0]
    assert (c.active, c.amount, c.forfeited, c.exhausted) == (False, 0, 700, True)


def test_per_currency_amounts() -> None:
    coupon = Coupon(id="multi", amounts_off={"usd": 500, "EUR": 450}, duration=Duration.ONCE)
    assert coupon.amounts_off == {"usd": 500, "eur": 450}
    result = apply_discounts([DiscountLine("l", 2000)], [AppliedCoupon(coupon)], currency="eur")
    assert result.total == 450


def test_amount_in_another_currency_is_a_mismatch() -> None:
    with pytest.raises(CurrencyMismatch) as info:
        apply_discounts(ONE_LINE, [AppliedCoupon(fixed("f", 500, currency="usd"))], currency="eur")
    assert info.value.code == "currency_mismatch"
    multi = Coupon(id="m", amounts_off={"usd": 500}, duration=Duration.ONCE)
    with pytest.raises(CurrencyMismatch):
        apply_discounts(ONE_LINE, [AppliedCoupon(multi)], currency="gbp")


def test_no_coupons_no_lines() -> None:
    assert apply_discounts([], [], currency="usd").total == 0
    result = apply_discounts(ONE_LINE, [], currency="usd")
    assert (result.total, result.lines, result.coupons) == (0, {"l1": 0}, [])


# --------------------------------------------------------------------------- validation of coupon definitions


def test_parse_coupon_accepts_the_api_shape() -> None:
    coupon = parse_coupon(
        {
            "id": "SPRING",
            "percent_off": "12.5",
            "duration": "repeating",
            "duration_in_periods": 3,
            "applies_to": {"plans": ["pro"], "metrics": ["api_calls"]},
        }
    )
    assert coupon.percent_off == Decimal("12.5")
    assert coupon.duration is Duration.REPEATING
    assert coupon.applies_to == AppliesTo(plans=frozenset({"pro"}), metrics=frozenset({"api_calls"}))


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        ({"id": "c", "percent_off": "0", "duration": "once"}, "percent_off_out_of_range", "coupons.0.percent_off"),
        ({"id": "c", "percent_off": "100.01", "duration": "once"}, "percent_off_out_of_range", "coupons.0.percent_off"),
        ({"id": "c", "percent_off": "-5", "duration": "once"}, "percent_off_out_of_range", "coupons.0.percent_off"),
        ({"id": "c", "percent_off": "abc", "duration": "once"}, "invalid_decimal", "coupons.0.percent_off"),
        ({"id": "c", "percent_off": 12.5, "duration": "once"}, "invalid_decimal", "coupons.0.percent_off"),
        ({"id": "c", "amount_off": 500, "duration": "once"}, "amount_off_currency_required", "coupons.0.currency"),
        ({"id": "c", "amount_off": 0, "currency": "usd", "duration": "once"}, "amount_off_out_of_range", "coupons.0.amount_off"),
        ({"id": "c", "amount_off": "5", "currency": "usd", "duration": "once"}, "invalid_amount", "coupons.0.amount_off"),
        ({"id": "c", "amount_off": 5, "currency": "xyz", "duration": "once"}, "unknown_currency", "coupons.0.currency"),
        ({"id": "c", "percent_off": "10", "currency": "usd", "duration": "once"}, "currency_not_allowed", "coupons.0.currency"),
        ({"id": "c", "percent_off": "10", "amount_off": 5, "duration": "once"}, "discount_value_conflict", "coupons.0.amount_off"),
        ({"id": "c", "duration": "once"}, "discount_value_required", "coupons.0.percent_off"),
        ({"id": "c", "amounts_off": {}, "duration": "once"}, "invalid_amounts_off", "coupons.0.amounts_off"),
        ({"id": "c", "amounts_off": {"usd": 5, "USD": 6}, "duration": "once"}, "duplicate_currency", "coupons.0.amounts_off.USD"),
        ({"id": "c", "amounts_off": {"usd": -5}, "duration": "once"}, "amount_off_out_of_range", "coupons.0.amounts_off.usd"),
        ({"id": "c", "amounts_off": {"zzz": 5}, "duration": "once"}, "unknown_currency", "coupons.0.amounts_off.zzz"),
        ({"id": "c", "percent_off": "10", "duration": "monthly"}, "invalid_duration", "coupons.0.duration"),
        ({"id": "c", "percent_off": "10"}, "invalid_duration", "coupons.0.duration"),
        ({"id": "c", "percent_off": "10", "duration": "repeating"}, "duration_in_periods_required", "coupons.0.duration_in_periods"),
        ({"id": "c", "percent_off": "10", "duration": "repeating", "duration_in_periods": 0}, "invalid_duration_in_periods", "coupons.0.duration_in_periods"),
        ({"id": "c", "percent_off": "10", "duration": "once", "duration_in_periods": 2}, "duration_in_periods_not_allowed", "coupons.0.duration_in_periods"),
        ({"id": "c", "percent_off": "10", "duration": "once", "applies_to": {}}, "invalid_applies_to", "coupons.0.applies_to"),
        ({"id": "c", "percent_off": "10", "duration": "once", "applies_to": {"plans": "pro"}}, "invalid_applies_to", "coupons.0.applies_to.plans"),
        ({"id": "c", "percent_off": "10", "duration": "once", "applies_to": {"plans": [1]}}, "invalid_applies_to", "coupons.0.applies_to.plans.0"),
        ({"id": "c", "percent_off": "10", "duration": "once", "applies_to": {"tiers": ["x"]}}, "unknown_field", "coupons.0.applies_to.tiers"),
        ({"id": "c", "percent_off": "10", "duration": "once", "max_redemptions": 3}, "unknown_field", "coupons.0.max_redemptions"),
        ({"id": "", "percent_off": "10", "duration": "once"}, "invalid_coupon_id", "coupons.0.id"),
    ],
)  # fmt: skip
def test_invalid_coupon_definitions(raw: dict[str, object], code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_coupon(raw, param="coupons.0")
    assert (info.value.code, info.value.param) == (code, param)


def test_applied_coupon_state_is_validated() -> None:
    with pytest.raises(ValidationFailed) as info:
        apply_discounts(ONE_LINE, [AppliedCoupon(fixed("f", 5), periods_applied=-1)], currency="usd")
    assert (info.value.code, info.value.param) == ("invalid_periods_applied", "coupons.0.periods_applied")
    with pytest.raises(ValidationFailed) as info:
        apply_discounts(ONE_LINE, [AppliedCoupon(percent("p", "5").coupon, carry_over=5)], currency="usd")
    assert info.value.code == "invalid_carry_over"
    with pytest.raises(ValidationFailed) as info:
        apply_discounts(ONE_LINE, [percent("p", "5"), percent("p", "6")], currency="usd")
    assert info.value.code == "duplicate_coupon"


def test_lines_are_validated() -> None:
    with pytest.raises(ValidationFailed) as info:
        apply_discounts([DiscountLine("a", 1), DiscountLine("a", 2)], [], currency="usd")
    assert (info.value.code, info.value.param) == ("duplicate_line_id", "lines.1.id")
    with pytest.raises(ValidationFailed) as info:
        apply_discounts([DiscountLine("a", Decimal(1))], [], currency="usd")  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_amount", "lines.0.amount")
    with pytest.raises(ValidationFailed) as info:
        apply_discounts([], [], currency="xyz")
    assert info.value.code == "unknown_currency"
