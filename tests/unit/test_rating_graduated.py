"""graduated: each tier prices only its own units; flat amounts once per reached tier."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.rating import rate


def tiers(*rows: tuple[object, object, object]) -> dict[str, object]:
    """(up_to, unit_amount, flat_amount) rows; unit/flat as int or decimal string."""
    out = []
    for up_to, unit, flat in rows:
        tier: dict[str, object] = {"up_to": up_to}
        tier["unit_amount_decimal" if isinstance(unit, str) else "unit_amount"] = unit
        tier["flat_amount"] = flat
        out.append(tier)
    return {"model": "graduated", "tiers": out}


# The example from Stripe's docs: up to 5 at $5, up to 10 at $4, then $3.
BRIEF = tiers((5, 500, 0), (10, 400, 0), (None, 300, 0))
# Stripe's tiered-pricing page: 1-5 $5, 6-10 $4, 11-15 $3, 16-20 $2, 21+ $1.
STRIPE = tiers((5, 500, 0), (10, 400, 0), (15, 300, 0), (20, 200, 0), (None, 100, 0))
# Stripe's "Typographic" fonts example: 1-5 $7, 6-10 $6.50, 11+ $6.
TYPOGRAPHIC = tiers((5, 700, 0), (10, 650, 0), (None, 600, 0))
# Lago's graduated example: $1 for the first 100 units, $0.50 for the next 100, then $0.10.
LAGO = tiers((100, 100, 0), (200, 50, 0), (None, 10, 0))
# With flat amounts: a 1000 base fee for the first 5 units, 500 to enter the second tier.
FLAT = tiers((5, 0, 1000), (10, 400, 500), (None, 300, 0))

CASES = [
    (BRIEF, 11, Decimal(4800)),  # 5×500 + 5×400 + 1×300 = 2500 + 2000 + 300 = 4800
    (BRIEF, 0, Decimal(0)),  # nothing used, no flat amounts: 0
    (BRIEF, 5, Decimal(2500)),  # 5×500 = 2500 (does not reach tier 2)
    (BRIEF, 6, Decimal(2900)),  # 5×500 + 1×400 = 2900
    (BRIEF, 10, Decimal(4500)),  # 5×500 + 5×400 = 4500
    (BRIEF, "5.5", Decimal(2700)),  # 5×500 + 0.5×400 = 2700
    (STRIPE, 6, Decimal(2900)),  # Stripe: "the total cost for an amount of 6 is $29": 25 + 4
    (STRIPE, 20, Decimal(7000)),  # 5×500 + 5×400 + 5×300 + 5×200 = 2500+2000+1500+1000
    (STRIPE, 25, Decimal(7500)),  # 7000 + 5×100
    (TYPOGRAPHIC, 5, Decimal(3500)),  # 5×700
    (TYPOGRAPHIC, 6, Decimal(4150)),  # 5×700 + 1×650 = $41.50
    (TYPOGRAPHIC, 20, Decimal(12750)),  # 5×700 + 5×650 + 10×600 = 3500+3250+6000 = $127.50
    (LAGO, 250, Decimal(15500)),  # 100×100 + 100×50 + 50×10 = 10000+5000+500
    (FLAT, 0, Decimal(1000)),  # the first tier is always reached: base fee 1000
    (FLAT, 5, Decimal(1000)),  # 5×0 + 1000
    (FLAT, 6, Decimal(1900)),  # 1000 + (1×400 + 500) = 1900
    (FLAT, 11, Decimal(3800)),  # 1000 + (5×400 + 500) + 1×300 = 1000 + 2500 + 300
    (tiers((1000, "0.5", 0), (None, "0.25", 0)), 1001, Decimal("500.25")),  # 1000×0.5 + 1×0.25
]


@pytest.mark.parametrize(("charge", "quantity", "amount"), CASES)
def test_graduated_table(charge: dict[str, object], quantity: object, amount: Decimal) -> None:
    result = rate(charge, quantity)
    assert result.amount == amount
    assert sum(e.amount for e in result.breakdown) == amount


def test_breakdown_walks_the_tiers() -> None:
    result = rate(BRIEF, 11)
    rows = [
        (e.tier_index, e.from_units, e.to_units, e.units, e.unit_amount, e.amount) for e in result.breakdown
    ]
    assert rows == [
        (0, 0, 5, 5, 500, 2500),
        (1, 5, 10, 5, 400, 2000),
        (2, 10, 11, 1, 300, 300),
    ]
    assert [e.explanation for e in result.breakdown] == [
        "units 1–5: 5 × 500 = 2500",
        "units 6–10: 5 × 400 = 2000",
        "unit 11: 1 × 300 = 300",
    ]


def test_breakdown_explains_flat_amounts_and_the_base_fee() -> None:
    assert [e.explanation for e in rate(FLAT, 6).breakdown] == [
        "units 1–5: 5 × 0 + flat 1000 = 1000",
        "unit 6: 1 × 400 + flat 500 = 900",
    ]
    (base,) = rate(FLAT, 0).breakdown
    assert base.explanation == "no units: flat 1000 = 1000"


def test_sub_minor_prices_round_once_on_the_line() -> None:
    result = rate(tiers((1, "0.5", 0), (None, "0.5", 0)), 2)
    assert result.amount == Decimal("1.0")  # 1×0.5 + 1×0.5
    assert result.amount_minor == 1  # rounded once; rounding each tier would give 1 + 1 = 2
