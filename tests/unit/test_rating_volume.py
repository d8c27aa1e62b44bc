"""volume: the whole quantity at the price of the one tier it falls into, plus that tier's flat amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.rating import rate


def tiers(*rows: tuple[object, object, object]) -> dict[str, object]:
    out = []
    for up_to, unit, flat in rows:
        tier: dict[str, object] = {"up_to": up_to}
        tier["unit_amount_decimal" if isinstance(unit, str) else "unit_amount"] = unit
        tier["flat_amount"] = flat
        out.append(tier)
    return {"model": "volume", "tiers": out}


BRIEF = tiers((5, 500, 0), (10, 400, 0), (None, 300, 0))
STRIPE = tiers((5, 500, 0), (10, 400, 0), (15, 300, 0), (20, 200, 0), (None, 100, 0))
TYPOGRAPHIC = tiers((5, 700, 0), (10, 650, 0), (None, 600, 0))
# Lago's volume example: $0.0010 / $0.0008 / $0.0006 / $0.0004 per call by volume, each with a $10 flat fee.
LAGO = tiers((10000, "0.1", 1000), (50000, "0.08", 1000), (100000, "0.06", 1000), (None, "0.04", 1000))

CASES = [
    (BRIEF, 11, Decimal(3300)),  # 11 falls in tier 3: 11 × 300 = 3300
    (BRIEF, 0, Decimal(0)),  # zero falls in tier 1: 0 × 500
    (BRIEF, 5, Decimal(2500)),  # 5 × 500 (up_to is inclusive)
    (BRIEF, 6, Decimal(2400)),  # 6 × 400
    (BRIEF, 10, Decimal(4000)),  # 10 × 400
    (BRIEF, "10.5", Decimal(3150)),  # 10.5 is over 10: 10.5 × 300
    (STRIPE, 1, Decimal(500)),  # Stripe's volume table: 1 → $5
    (STRIPE, 5, Decimal(2500)),  # 5 → $25
    (STRIPE, 6, Decimal(2400)),  # 6 × 400 → $24
    (STRIPE, 20, Decimal(4000)),  # 20 × 200 → $40
    (STRIPE, 25, Decimal(2500)),  # 25 × 100 → $25
    (TYPOGRAPHIC, 5, Decimal(3500)),  # 5 × 700 → $35
    (TYPOGRAPHIC, 6, Decimal(3900)),  # 6 × 650 → $39
    (TYPOGRAPHIC, 20, Decimal(12000)),  # 20 × 600 → $120
    (TYPOGRAPHIC, 25, Decimal(15000)),  # 25 × 600 → $150
    (LAGO, 65000, Decimal(4900)),  # Lago: 65,000 × $0.0006 + $10 = $49 → 65000 × 0.06 + 1000
    (LAGO, 0, Decimal(1000)),  # zero falls in tier 1: 0 × 0.1 + 1000 flat
    (LAGO, 10000, Decimal(2000)),  # 10000 × 0.1 + 1000
    (LAGO, 10001, Decimal("1800.08")),  # 10001 × 0.08 + 1000
]


@pytest.mark.parametrize(("charge", "quantity", "amount"), CASES)
def test_volume_table(charge: dict[str, object], quantity: object, amount: Decimal) -> None:
    result = rate(charge, quantity)
    assert result.amount == amount
    (entry,) = result.breakdown
    assert entry.amount == amount


def test_breakdown_names_the_tier() -> None:
    (entry,) = rate(BRIEF, 11).breakdown
    assert (entry.tier_index, entry.units, entry.unit_amount) == (2, 11, 300)
    assert entry.explanation == "all 11 units in the tier for quantities over 10: 11 × 300 = 3300"
    (entry,) = rate(LAGO, 65000).breakdown
    assert entry.tier_index == 2
    assert entry.explanation == (
        "all 65000 units in the tier for quantities over 50000 up to 100000: 65000 × 0.06 + flat 1000 = 4900"
    )
