"""percentage: rate % of the aggregated amount + fixed fee per paid event, free units, per-transaction limits.

Amounts are minor units (cents): a $200 transaction is 20000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import ValidationFailed
from billing.rating import rate


def pct(**fields: object) -> dict[str, object]:
    return {"model": "percentage", **fields}


# Lago's documented example: 1.2 % + $0.10 per transaction, the first 3 events or $500 free;
# transactions of $200, $100, $100 are free, the 4th ($50) costs $0.10 + 1.2 % of $50 = $0.70.
LAGO = pct(rate="1.2", fixed_amount=10, free_units_per_events=3, free_units_per_total_aggregation=50000)

CASES = [
    # (charge, events, amount)
    (LAGO, [20000, 10000, 10000, 5000], Decimal(70)),
    # F = min(sum of first 3 = 40000, 50000) = 40000; free events = min(3, running totals < 50000: 4) = 3
    # (45000 − 40000) × 1.2 % + 1 paid × 10 = 60 + 10 = 70
    (LAGO, [20000, 10000, 10000], Decimal(0)),  # 3 events, all free: (40000 − 40000) × 1.2 % + 0 × 10
    # Stripe's card pricing as a percentage charge (Lago's template): 2.9 % + 30 per transaction.
    (pct(rate="2.9", fixed_amount=30), [10000, 2000], Decimal(408)),  # 12000 × 2.9 % + 2 × 30 = 348 + 60
    (pct(rate="1.3"), [10000], Decimal(130)),  # 10000 × 1.3 % = 130
    (pct(rate="1.3"), [12345], Decimal("160.485")),  # 12345 × 1.3 % = 160.485 (→ 160)
    # N only: F = sum of the first N events; those N events pay no fixed fee.
    (pct(rate=1, fixed_amount=10, free_units_per_events=2), [1000, 2000, 3000], Decimal(40)),
    # F = 1000 + 2000 = 3000; (6000 − 3000) × 1 % + 1 paid × 10 = 30 + 10
    # X only: the free events are those whose running total stays strictly below X.
    (
        pct(rate=1, fixed_amount=10, free_units_per_total_aggregation=2500),
        [1000, 1000, 1000, 500],
        Decimal(30),
    ),
    # running totals 1000, 2000 < 2500 (free), 3000 (paid), 3500 (paid); (3500 − 2500) × 1 % + 2 × 10 = 10 + 20
    (pct(rate=1, fixed_amount=10, free_units_per_total_aggregation=2000), [1000, 1000, 500], Decimal(25)),
    # running total 2000 is not strictly below 2000: 1 free event; (2500 − 2000) × 1 % + 2 × 10 = 5 + 20
    # both set, X gives the fewer free events and the smaller F:
    (
        pct(rate=1, fixed_amount=10, free_units_per_events=5, free_units_per_total_aggregation=1500),
        [1000, 1000, 1000],
        Decimal(35),
    ),
    # F = min(3000, 1500) = 1500; free = min(3, 1) = 1; (3000 − 1500) × 1 % + 2 × 10 = 15 + 20
    (pct(rate=2, free_units_per_total_aggregation=100000), [5000], Decimal(0)),  # F covers it all: 0
]


@pytest.mark.parametrize(("charge", "events", "amount"), CASES)
def test_percentage_table(charge: dict[str, object], events: list[int], amount: Decimal) -> None:
    result = rate(charge, events=events)
    assert result.amount == amount
    assert result.quantity == sum(events)
    assert sum(e.amount for e in result.breakdown) == amount


def test_lago_breakdown() -> None:
    result = rate(LAGO, events=[20000, 10000, 10000, 5000])
    assert [(e.kind, e.amount) for e in result.breakdown] == [
        ("free", 0),
        ("percentage", 60),
        ("fixed_fee", 10),
    ]
    assert [e.explanation for e in result.breakdown] == [
        "3 free events; 40000 of 45000 free",
        "1.2% × 5000 = 60",
        "1 paid event × 10 = 10",
    ]


@pytest.mark.parametrize(
    ("charge", "quantity", "amount"),
    [
        (pct(rate="1.3"), 10000, Decimal(130)),  # the quantity alone: 10000 × 1.3 %
        (pct(rate=2, free_units_per_total_aggregation=1000), 5000, Decimal(80)),  # (5000 − 1000) × 2 %
        (pct(rate=2, free_units_per_total_aggregation=1000), 800, Decimal(0)),  # below X: 0
        (pct(rate="1.2", fixed_amount=10), 0, Decimal(0)),  # zero quantity costs nothing, even with a fee
    ],
)
def test_quantity_alone_when_no_event_is_needed(
    charge: dict[str, object], quantity: int, amount: Decimal
) -> None:
    assert rate(charge, quantity).amount == amount


def test_zero_quantity_costs_nothing_with_events() -> None:
    assert rate(pct(rate=1, fixed_amount=30, per_transaction_min_amount=50), events=[]).amount == 0
    assert rate(pct(rate=1, fixed_amount=30, per_transaction_min_amount=50), events=[0, 0]).amount == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"fixed_amount": 10},
        {"free_units_per_events": 3},
        {"per_transaction_min_amount": 5},
        {"per_transaction_max_amount": 500},
    ],
)
def test_event_features_need_the_events(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as err:
        rate(pct(rate=1, **fields), 1000)
    assert (err.value.code, err.value.param) == ("events_required", "events")


def test_quantity_must_match_the_events() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate(pct(rate=1), 100, events=[50])
    assert (err.value.code, err.value.param) == ("quantity_mismatch", "quantity")
    assert rate(pct(rate=1), 100, events=[50, 50]).amount == 1  # consistent: 100 × 1 %


def test_negative_event_values_are_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate(pct(rate=1), events=[100, -5])
    assert (err.value.code, err.value.param) == ("negative_quantity", "events.1")


LIMITS_CASES = [
    # (charge, events, amount)
    (
        pct(rate=1, fixed_amount=10, per_transaction_min_amount=50, per_transaction_max_amount=200),
        [1000, 30000, 5000],
        Decimal(310),
    ),
    # per event: 1000×1% + 10 = 20 → min 50; 30000×1% + 10 = 310 → max 200; 5000×1% + 10 = 60
    # 50 + 200 + 60 = 310 (= 360 percentage + 30 fixed + 30 raised − 110 capped)
    (
        pct(rate=1, fixed_amount=10, per_transaction_min_amount=20, free_units_per_total_aggregation=1500),
        [1000, 1000, 2000],
        Decimal(50),
    ),
    # X = 1500: event 1 (running 1000 < 1500) is free and uses 1000 of F; event 2: 500 still covered,
    # (1000 − 500)×1% + 10 = 15 → min 20; event 3: 2000×1% + 10 = 30. 0 + 20 + 30 = 50
    (
        pct(rate="0.5", per_transaction_max_amount=100, free_units_per_events=1),
        [99999, 10000, 40000],
        Decimal(150),
    ),
    # N = 1: F = 99999 covers event 1 (free); 10000×0.5% = 50; 40000×0.5% = 200 → max 100. 0 + 50 + 100 = 150
    (
        pct(
            rate="1.2",
            fixed_amount=10,
            per_transaction_min_amount=0,
            per_transaction_max_amount=10**9,
            **{
                "free_units_per_events": 3,
                "free_units_per_total_aggregation": 50000,
            },
        ),
        [20000, 10000, 10000, 5000],
        Decimal(70),
    ),  # limits that never bind give Lago's 70, as without limits
]


@pytest.mark.parametrize(("charge", "events", "amount"), LIMITS_CASES)
def test_per_transaction_limits_table(charge: dict[str, object], events: list[int], amount: Decimal) -> None:
    result = rate(charge, events=events)
    assert result.amount == amount
    assert sum(e.amount for e in result.breakdown) == amount


def test_limits_breakdown_shows_the_adjustments() -> None:
    charge = pct(rate=1, fixed_amount=10, per_transaction_min_amount=50, per_transaction_max_amount=200)
    result = rate(charge, events=[1000, 30000, 5000])
    assert [(e.kind, e.count, e.amount) for e in result.breakdown] == [
        ("percentage", None, 360),  # 36000 × 1 %
        ("fixed_fee", 3, 30),  # 3 × 10
        ("transaction_minimum", 1, 30),  # 20 → 50
        ("transaction_maximum", 1, -110),  # 310 → 200
    ]
    assert result.breakdown[2].explanation == "1 transaction raised to the per-transaction minimum 50: +30"
    assert result.breakdown[3].explanation == "1 transaction capped at the per-transaction maximum 200: -110"


def test_percentage_rounds_once() -> None:
    result = rate(pct(rate="1.3"), events=[12345])
    assert result.amount_minor == 160  # 160.485 → 160
    result = rate(pct(rate="0.5"), events=[101, 101, 101])
    assert result.amount == Decimal("1.515")  # 303 × 0.5 %
    assert result.amount_minor == 2  # once on the line; per event it would be 3 × round(0.505) = 3
