"""standard: unit_amount × quantity. Amounts in minor units; the arithmetic is beside each number."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import ValidationFailed
from billing.money import round_minor
from billing.rating import rate

CASES = [
    # (charge fields, quantity, amount (unrounded), amount_minor)
    # Lago's standard example: $0.05 per API call, 1,000 calls = $50.
    ({"unit_amount": 5}, 1000, Decimal("5000"), 5000),  # 1000 × 5 = 5000
    ({"unit_amount": 5}, 12, Decimal("60"), 60),  # 12 × 5 = 60
    ({"unit_amount": 5}, 0, Decimal("0"), 0),  # 0 × 5 = 0
    ({"unit_amount_decimal": "0.25"}, 7, Decimal("1.75"), 2),  # 7 × 0.25 = 1.75 → 2
    ({"unit_amount_decimal": "0.5"}, 5, Decimal("2.5"), 3),  # 5 × 0.5 = 2.5 → 3 (half-up)
    ({"unit_amount_decimal": "0.5"}, 3, Decimal("1.5"), 2),  # 3 × 0.5 = 1.5 → 2
    ({"unit_amount_decimal": "0.5"}, 1, Decimal("0.5"), 1),  # 0.5 → 1 (half-up; half-even would give 0)
    ({"unit_amount": 100}, "2.5", Decimal("250"), 250),  # 2.5 × 100 = 250
    ({"unit_amount_decimal": "0.000001"}, 1_234_567, Decimal("1.234567"), 1),  # 1234567 × 0.000001
    ({"unit_amount_decimal": "0.001"}, 1500, Decimal("1.5"), 2),  # 1500 × 0.001 = 1.5 → 2
]


@pytest.mark.parametrize(("fields", "quantity", "amount", "minor"), CASES)
def test_standard_table(fields: dict[str, object], quantity: object, amount: Decimal, minor: int) -> None:
    result = rate({"model": "standard", **fields}, quantity)
    assert result.amount == amount
    assert result.amount_minor == minor
    assert result.quantity == Decimal(str(quantity))
    assert sum(e.amount for e in result.breakdown) == result.amount


def test_breakdown_explains_the_multiplication() -> None:
    result = rate({"model": "standard", "unit_amount_decimal": "0.25"}, 7)
    (entry,) = result.breakdown
    assert entry.kind == "units"
    assert (entry.units, entry.unit_amount, entry.amount) == (Decimal(7), Decimal("0.25"), Decimal("1.75"))
    assert entry.explanation == "7 units × 0.25 = 1.75"
    assert entry.to_dict()["amount"] == "1.75"


def test_events_default_the_quantity_to_their_sum() -> None:
    result = rate({"model": "standard", "unit_amount": 3}, events=[1, "2.5", Decimal("0.5")])
    assert result.quantity == 4  # 1 + 2.5 + 0.5
    assert result.amount == 12  # 4 × 3


def test_negative_quantity_is_refused_unless_allowed() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate({"model": "standard", "unit_amount": 100}, -3)
    assert (err.value.code, err.value.param) == ("negative_quantity", "quantity")
    with pytest.raises(ValidationFailed) as err:
        rate({"model": "standard", "unit_amount": 100}, events=[2, -3])
    assert (err.value.code, err.value.param) == ("negative_quantity", "events.1")


@pytest.mark.parametrize(
    ("quantity", "amount", "minor"),
    [
        (-3, Decimal(-300), -300),  # -3 × 100
        ("-0.025", Decimal("-2.5"), -3),  # -0.025 × 100 = -2.5 → -3 (ties away from zero)
    ],
)
def test_allow_negative_prices_a_credit(quantity: object, amount: Decimal, minor: int) -> None:
    result = rate({"model": "standard", "unit_amount": 100, "allow_negative": True}, quantity)
    assert result.amount == amount
    assert result.amount_minor == minor == round_minor(amount)
