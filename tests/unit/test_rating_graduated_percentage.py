"""graduated_percentage: percentage tiers walked like graduated on the aggregated amount (minor units)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.rating import rate, rate_in_advance

# Lago's documented example (in dollars): tier 1 up to $1,000 at 1 % + $200 flat, tier 2 up to $10,000
# at 2 % + $300 flat, tier 3 above at 3 % + $400 flat. In cents:
LAGO = {
    "model": "graduated_percentage",
    "tiers": [
        {"up_to": 100000, "rate": "1", "flat_amount": 20000},
        {"up_to": 1000000, "rate": "2", "flat_amount": 30000},
        {"up_to": None, "rate": "3", "flat_amount": 40000},
    ],
}

CASES = [
    (LAGO, 50000, Decimal(20500)),  # 50000 × 1 % + 20000 = 500 + 20000 ($205.00)
    (LAGO, 0, Decimal(20000)),  # the first tier is always reached: base flat 20000
    (LAGO, 100000, Decimal(21000)),  # 100000 × 1 % + 20000 (tier 2 not reached)
    (LAGO, 105000, Decimal(51100)),  # (100000 × 1 % + 20000) + (5000 × 2 % + 30000) = 21000 + 30100
    (LAGO, 2000000, Decimal(139000)),
    # 21000 + (900000 × 2 % + 30000 = 48000) + (1000000 × 3 % + 40000 = 70000) = 139000
    (
        {"model": "graduated_percentage", "tiers": [{"up_to": None, "rate": "0.5"}]},
        333,
        Decimal("1.665"),
    ),  # 333 × 0.5 % = 1.665 (→ 2)
]


@pytest.mark.parametrize(("charge", "quantity", "amount"), CASES)
def test_graduated_percentage_table(charge: dict[str, object], quantity: int, amount: Decimal) -> None:
    result = rate(charge, quantity)
    assert result.amount == amount
    assert sum(e.amount for e in result.breakdown) == amount


def test_lago_transactions_in_advance() -> None:
    # Lago: "$500 would cost 500 × 1 % + $200 = $205; a second transaction at $550 would cost
    # (500 × 1 %) + (50 × 2 %) + $300 = $306; a third at $4,000 would cost 4,000 × 2 % = $80".
    first = rate_in_advance(LAGO, quantity=50000)
    assert first.amount == 20500  # nothing charged before: 50000 × 1 % + 20000 base
    second = rate_in_advance(LAGO, previous_quantity=50000, quantity=55000)
    assert second.amount == 30600  # 50000 × 1 % + 5000 × 2 % + 30000 = 500 + 100 + 30000
    third = rate_in_advance(LAGO, previous_quantity=105000, quantity=400000)
    assert third.amount == 8000  # 400000 × 2 % (tier 2 already entered: no flat)
    assert first.amount_minor + second.amount_minor + third.amount_minor == rate(LAGO, 505000).amount_minor


def test_breakdown() -> None:
    result = rate(LAGO, 105000)
    assert [e.explanation for e in result.breakdown] == [
        "units 1–100000: 1% × 100000 + flat 20000 = 21000",
        "units 100001–105000: 2% × 5000 + flat 30000 = 30100",
    ]
    assert [e.rate for e in result.breakdown] == [1, 2]


def test_rounds_once() -> None:
    charge = {
        "model": "graduated_percentage",
        "tiers": [{"up_to": 150, "rate": "1"}, {"up_to": None, "rate": "1"}],
    }
    result = rate(charge, 300)
    assert result.amount == 3  # 150 × 1 % + 150 × 1 % = 1.5 + 1.5
    assert result.amount_minor == 3  # rounding per tier would give 2 + 2 = 4
