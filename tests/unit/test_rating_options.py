"""Options on any usage charge: transform_quantity, min_amount_per_period, pay_in_advance, group_by."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import ValidationFailed
from billing.rating import parse_charge, rate, rate_grouped, rate_in_advance

# Stripe's quantity-transformation example: $10 for every 5 users (or portion thereof).
PER_5_USERS = {
    "model": "standard",
    "unit_amount": 1000,
    "transform_quantity": {"divide_by": 5, "round": "up"},
}


@pytest.mark.parametrize(
    ("users", "quantity", "amount"),
    [
        (1, 1, 1000),  # ceil(1 / 5) = 1 → 1 × 1000
        (3, 1, 1000),  # ceil(3 / 5) = 1
        (5, 1, 1000),  # 5 / 5 = 1
        (6, 2, 2000),  # ceil(6 / 5) = 2 → 2 × 1000
        (7, 2, 2000),  # ceil(7 / 5) = 2
        (0, 0, 0),  # 0 / 5 = 0
    ],
)
def test_transform_quantity_round_up(users: int, quantity: int, amount: int) -> None:
    result = rate(PER_5_USERS, users)
    assert result.input_quantity == users
    assert result.quantity == quantity
    assert result.amount == amount


def test_stripe_car_rental_example() -> None:
    # $10 per hour, usage reported in minutes, rounded up: 150 minutes → 3 hours → $30.
    charge = {
        "model": "standard",
        "unit_amount": 1000,
        "transform_quantity": {"divide_by": 60, "round": "up"},
    }
    result = rate(charge, 150)
    assert (result.quantity, result.amount) == (3, 3000)  # ceil(150 / 60) = 3 → 3 × 1000


@pytest.mark.parametrize(
    ("quantity", "round_mode", "expected"),
    [
        (6, "down", 1),  # floor(6 / 5)
        (4, "down", 0),  # floor(4 / 5)
        (10, "down", 2),  # 10 / 5
        ("5.5", "up", 2),  # 5.5 / 5 = 1.1 → 2
        (-6, "up", -2),  # away from zero
        (-6, "down", -1),  # toward zero
    ],
)
def test_transform_rounding_directions(quantity: object, round_mode: str, expected: int) -> None:
    charge = {
        "model": "standard",
        "unit_amount": 1,
        "allow_negative": True,
        "transform_quantity": {"divide_by": 5, "round": round_mode},
    }
    assert rate(charge, quantity).quantity == expected


def test_transform_applies_before_tiers() -> None:
    charge = {
        "model": "graduated",
        "tiers": [{"up_to": 1, "unit_amount": 100}, {"up_to": None, "unit_amount": 10}],
        "transform_quantity": {"divide_by": 1000, "round": "up"},
    }
    result = rate(charge, 2500)
    assert result.quantity == 3  # ceil(2500 / 1000)
    assert result.amount == 120  # 1 × 100 + 2 × 10


def test_minimum_shortfall_is_its_own_line() -> None:
    charge = {"model": "standard", "unit_amount": 5, "min_amount_per_period": 1000}
    result = rate(charge, 100)
    assert result.amount == 500  # 100 × 5; the minimum does not change the usage amount
    assert result.minimum_shortfall == 500  # 1000 − 500
    assert result.minimum_shortfall_minor == 500
    assert result.total_minor == 1000
    assert result.minimum_shortfall_entry is not None
    assert result.minimum_shortfall_entry.kind == "minimum_shortfall"
    assert result.minimum_shortfall_entry.explanation == "minimum per period 1000 − amount 500 = 500"
    assert result.minimum_shortfall_entry not in result.breakdown
    assert sum(e.amount for e in result.breakdown) == result.amount


def test_no_shortfall_at_or_above_the_minimum() -> None:
    charge = {"model": "standard", "unit_amount": 5, "min_amount_per_period": 1000}
    for quantity in (200, 300):  # 200 × 5 = 1000 (at), 300 × 5 = 1500 (above)
        result = rate(charge, quantity)
        assert (result.minimum_shortfall, result.minimum_shortfall_minor) == (0, 0)
        assert result.minimum_shortfall_entry is None


def test_shortfall_lines_add_up_to_the_rounded_minimum() -> None:
    charge = {"model": "standard", "unit_amount_decimal": "0.4", "min_amount_per_period_decimal": "2.5"}
    result = rate(charge, 3)
    assert result.amount == Decimal("1.2")  # 3 × 0.4
    assert result.amount_minor == 1  # 1.2 → 1
    assert result.minimum_shortfall == Decimal("1.3")  # 2.5 − 1.2, unrounded
    assert result.minimum_shortfall_minor == 2  # round(2.5) − 1 = 3 − 1: the two lines invoice 3
    assert result.total_minor == 3


STEP = {"model": "standard", "unit_amount_decimal": "0.4", "pay_in_advance": True}


def test_in_advance_increments_are_differences_of_rounded_amounts() -> None:
    charged = []
    previous: list[int] = []
    for value in (1, 1, 1):
        step = rate_in_advance(STEP, previous_events=previous, events=[value])
        charged.append(step.amount_minor)
        previous.append(value)
    assert charged == [0, 1, 0]  # round(0.4)=0, round(0.8)−0 = 1, round(1.2)−1 = 0
    assert sum(charged) == rate(STEP, 3).amount_minor == 1  # 3 × 0.4 = 1.2 → 1


def test_first_in_advance_charge_includes_the_base_fee() -> None:
    charge = {
        "model": "graduated",
        "pay_in_advance": True,
        "tiers": [{"up_to": 10, "unit_amount": 100, "flat_amount": 500}, {"up_to": None, "unit_amount": 50}],
    }
    first = rate_in_advance(charge, quantity=4)
    assert first.before is None
    assert first.amount == 900  # 4 × 100 + 500 base fee
    second = rate_in_advance(charge, previous_quantity=4, quantity=8)
    assert second.before is not None and second.before.amount == 900
    assert second.amount == 700  # rate(12) − rate(4) = (10×100 + 500 + 2×50) − 900 = 1600 − 900
    assert second.explanation == "period amount 1600 − already charged 900 = 700"


def test_volume_in_advance_can_give_back() -> None:
    charge = {
        "model": "volume",
        "tiers": [{"up_to": 10, "unit_amount": 100}, {"up_to": None, "unit_amount": 50}],
    }
    step = rate_in_advance(charge, previous_quantity=10, quantity=2)
    assert step.amount == -400  # 12 × 50 − 10 × 100 = 600 − 1000


def test_percentage_in_advance_with_events() -> None:
    lago = {
        "model": "percentage",
        "rate": "1.2",
        "fixed_amount": 10,
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": 50000,
        "pay_in_advance": True,
    }
    charged = []
    previous: list[int] = []
    for value in (20000, 10000, 10000, 5000):
        charged.append(rate_in_advance(lago, previous_events=previous, events=[value]).amount)
        previous.append(value)
    assert charged == [0, 0, 0, 70]  # Lago: the 4th transaction costs $0.70


def test_in_advance_needs_one_kind_of_usage() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate_in_advance(STEP, quantity=1, events=[1])
    assert err.value.code == "ambiguous_usage"
    with pytest.raises(ValidationFailed) as err:
        rate_in_advance(STEP)
    assert (err.value.code, err.value.param) == ("quantity_required", "quantity")


GROUPED = {"model": "standard", "unit_amount": 10, "group_by": "region", "min_amount_per_period": 1000}


def test_each_group_is_priced_on_its_own() -> None:
    charge = {
        "model": "graduated",
        "group_by": "region",
        "tiers": [{"up_to": 10, "unit_amount": 100}, {"up_to": None, "unit_amount": 10}],
    }
    result = rate_grouped(charge, {"eu": 12, "us": 5})
    assert result.groups["eu"].amount == 1020  # 10 × 100 + 2 × 10
    assert result.groups["us"].amount == 500  # 5 × 100
    assert result.amount == 1520  # not rate(17) = 1070: each group walks its own tiers
    assert result.amount_minor == 1520


def test_group_minimum_applies_to_the_charge_total() -> None:
    result = rate_grouped(GROUPED, {"eu": 30, "us": 20})
    assert result.amount == 500  # 30 × 10 + 20 × 10
    assert result.minimum_shortfall == 500  # 1000 − 500
    assert all(group.minimum_shortfall == 0 for group in result.groups.values())
    assert result.total_minor == 1000


def test_groups_take_events_or_quantities() -> None:
    charge = {"model": "percentage", "rate": "1", "fixed_amount": 5, "group_by": "card"}
    result = rate_grouped(charge, {"visa": [1000, 2000], "amex": [500]})
    assert result.groups["visa"].amount == 40  # 3000 × 1 % + 2 × 5
    assert result.groups["amex"].amount == 10  # 500 × 1 % + 1 × 5
    assert result.amount == 50


def test_grouped_and_ungrouped_entry_points_are_not_mixed() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate(GROUPED, 10)
    assert (err.value.code, err.value.param) == ("grouped_charge", "group_by")
    with pytest.raises(ValidationFailed) as err:
        rate_grouped({"model": "standard", "unit_amount": 1}, {"eu": 1})
    assert (err.value.code, err.value.param) == ("not_grouped", "group_by")


def test_group_errors_name_the_group() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate_grouped(GROUPED, {"eu": 1, "us": -2})
    assert (err.value.code, err.value.param) == ("negative_quantity", "groups.us.quantity")
    with pytest.raises(ValidationFailed) as err:
        rate_grouped(GROUPED, {"eu": [1, "x"]})
    assert (err.value.code, err.value.param) == ("invalid_decimal", "groups.eu.events.1")


def test_a_parsed_charge_can_be_rated_many_times() -> None:
    parsed = parse_charge({"model": "standard", "unit_amount": 7})
    assert [rate(parsed, q).amount for q in (1, 2, 3)] == [7, 14, 21]
    assert parse_charge(
        {"model": "standard", "unit_amount": 7, "pay_in_advance": True}
    ).options.pay_in_advance
