"""package: unit_amount per started package of package_size units, after free_units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.rating import rate

STRIPE = {"model": "package", "unit_amount": 500, "package_size": 5}  # Stripe: $5 per 5 units
LAGO = {
    "model": "package",
    "unit_amount": 500,
    "package_size": 100,
    "free_units": 100,
}  # Lago: $5 / 100, 100 free

CASES = [
    # (charge, quantity, packages, amount)
    (STRIPE, 8, 2, Decimal(1000)),  # Stripe's example: 8 units → 2 packages × 500 = 1000
    (STRIPE, 5, 1, Decimal(500)),  # exactly one package: 1 × 500
    (STRIPE, 10, 2, Decimal(1000)),  # 10 / 5 = 2 packages, no partial one
    (STRIPE, 1, 1, Decimal(500)),  # a started package is due: 1 × 500
    (STRIPE, "5.5", 2, Decimal(1000)),  # 5.5 units start a second package: 2 × 500
    (STRIPE, 0, 0, Decimal(0)),  # nothing used: 0
    (LAGO, 201, 2, Decimal(1000)),  # Lago's example: 201 − 100 free = 101 → 2 packages × 500 = $10
    (LAGO, 100, 0, Decimal(0)),  # all free: 100 − 100 = 0 paid units
    (LAGO, 50, 0, Decimal(0)),  # fewer than the free units: nothing
    (LAGO, 101, 1, Decimal(500)),  # 1 paid unit → 1 package
    (LAGO, 300, 2, Decimal(1000)),  # 200 paid units → 2 packages
    (
        {"model": "package", "unit_amount_decimal": "12.5", "package_size": 3},
        7,
        3,
        Decimal("37.5"),
    ),  # 7 / 3 → 3 packages × 12.5 = 37.5 (→ 38)
]


@pytest.mark.parametrize(("charge", "quantity", "packages", "amount"), CASES)
def test_package_table(charge: dict[str, object], quantity: object, packages: int, amount: Decimal) -> None:
    result = rate(charge, quantity)
    assert result.amount == amount
    package_line = [e for e in result.breakdown if e.kind == "package"]
    assert len(package_line) == 1
    assert package_line[0].count == packages
    assert sum(e.amount for e in result.breakdown) == result.amount


def test_rounding_of_a_fractional_package_price() -> None:
    result = rate({"model": "package", "unit_amount_decimal": "12.5", "package_size": 3}, 7)
    assert result.amount_minor == 38  # 37.5 → 38, half-up


def test_breakdown_shows_free_and_paid_units() -> None:
    result = rate(LAGO, 201)
    free, paid = result.breakdown
    assert free.kind == "free"
    assert (free.units, free.amount) == (Decimal(100), Decimal(0))
    assert free.explanation == "units 1–100: free"
    assert paid.explanation == "101 paid units in 2 packages of 100: 2 × 500 = 1000"
    assert (paid.units, paid.count, paid.unit_amount) == (Decimal(101), 2, Decimal(500))
