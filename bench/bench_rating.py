"""Throughput of the pricing core: aggregations folding events, charge models rating usage.

Each figure is printed beside its floor: a plain Python loop summing the same
Decimals (the least any exact aggregation or pricing of those numbers can
cost), and the ratio floor/ours (how many times slower than that loop we are).
Best of a few runs. Run: ``PYTHONPATH=layers/billing .venv/bin/python bench/bench_rating.py``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

EVENTS = 100_000
CHARGES = 2_000
EVENTS_PER_CHARGE = 10
RUNS = 3

START = datetime(2024, 2, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)


def best(fn: Callable[[], object], runs: int = RUNS) -> float:
    """Best wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def floor_sum(values: Sequence[Decimal]) -> Callable[[], Decimal]:
    def run() -> Decimal:
        total = Decimal(0)
        for value in values:
            total += value
        return total

    return run


def make_events(rng: random.Random) -> tuple[list[dict[str, Any]], list[Decimal]]:
    span = int((END - START).total_seconds())
    events = []
    amounts = []
    for _ in range(EVENTS):
        amount = Decimal(rng.randint(1, 1_000_000)) / 100
        amounts.append(amount)
        events.append(
            {
                "timestamp": START + timedelta(seconds=rng.randrange(span)),
                "properties": {
                    "amount": amount,
                    "region": rng.choice(("eu", "us", "apac")),
                    "user": f"u{rng.randrange(5_000)}",
                },
            }
        )
    return events, amounts


def charges() -> dict[str, dict[str, Any]]:
    tiers = [
        {"up_to": 1_000, "unit_amount": 50, "flat_amount": 1000},
        {"up_to": 10_000, "unit_amount_decimal": "40.5"},
        {"up_to": 100_000, "unit_amount": 30},
        {"up_to": None, "unit_amount_decimal": "0.25"},
    ]
    return {
        "standard": {"model": "standard", "unit_amount_decimal": "0.25"},
        "package": {"model": "package", "unit_amount": 500, "package_size": 100, "free_units": 100},
        "graduated": {"model": "graduated", "tiers": tiers},
        "volume": {"model": "volume", "tiers": tiers},
        "percentage": {
            "model": "percentage",
            "rate": "1.2",
            "fixed_amount": 10,
            "free_units_per_events": 3,
            "free_units_per_total_aggregation": 50_000,
            "per_transaction_min_amount": 20,
            "per_transaction_max_amount": 5_000,
        },
        "graduated_percentage": {
            "model": "graduated_percentage",
            "tiers": [
                {"up_to": 100_000, "rate": "1", "flat_amount": 20_000},
                {"up_to": 1_000_000, "rate": "2", "flat_amount": 30_000},
                {"up_to": None, "rate": "3", "flat_amount": 40_000},
            ],
        },
    }


def row(name: str, ours: float, floor: float, unit: str) -> str:
    return f"{name:<34} {ours:>14,.0f} {unit:<9} {floor:>14,.0f} {floor / ours:>10.1f}x"


def main() -> None:
    from billing.metering import aggregate
    from billing.rating import parse_charge, rate

    rng = random.Random(20240201)
    events, amounts = make_events(rng)
    header = f"{'':<34} {'ours /s':>14} {'':<9} {'floor /s':>14} {'floor/ours':>11}"

    print(f"Aggregations: {EVENTS:,} events folded (floor: a loop summing the {EVENTS:,} amounts)")
    print(header)
    floor_time = best(floor_sum(amounts))
    definitions: list[tuple[str, dict[str, Any]]] = [
        ("count", {"aggregation": "count"}),
        ("sum", {"aggregation": "sum", "field": "amount"}),
        ("sum + filter", {"aggregation": "sum", "field": "amount", "filters": {"region": ["eu", "us"]}}),
        ("max", {"aggregation": "max", "field": "amount"}),
        ("unique_count", {"aggregation": "unique_count", "field": "user"}),
        ("latest", {"aggregation": "latest", "field": "amount"}),
        ("weighted_sum", {"aggregation": "weighted_sum", "field": "amount"}),
    ]
    for name, definition in definitions:
        seconds = best(lambda d=definition: aggregate(d, events, period_start=START, period_end=END))  # type: ignore[misc]
        print(row(name, EVENTS / seconds, EVENTS / floor_time, "events/s"))

    print()
    print(
        f"Charge models: {CHARGES:,} ratings of varied usage (floor: a loop summing the same quantities; "
        f"percentage: {EVENTS_PER_CHARGE} event values each)"
    )
    print(header)
    quantities = [Decimal(rng.randint(0, 200_000)) for _ in range(CHARGES)]
    event_lists = [amounts[i * EVENTS_PER_CHARGE : (i + 1) * EVENTS_PER_CHARGE] for i in range(CHARGES)]
    for name, charge in charges().items():
        if name == "percentage":
            flat = [v for values in event_lists for v in values]
            floor_time = best(floor_sum(flat))

            def run_json(c: dict[str, Any] = charge) -> None:
                for values in event_lists:
                    rate(c, events=values)

            parsed = parse_charge(charge)

            def run_parsed(p: Any = parsed) -> None:
                for values in event_lists:
                    rate(p, events=values)
        else:
            floor_time = best(floor_sum(quantities))

            def run_json(c: dict[str, Any] = charge) -> None:
                for quantity in quantities:
                    rate(c, quantity)

            parsed = parse_charge(charge)

            def run_parsed(p: Any = parsed) -> None:
                for quantity in quantities:
                    rate(p, quantity)

        floor_rate = CHARGES / floor_time
        print(row(f"{name} (charge JSON)", CHARGES / best(run_json), floor_rate, "charges/s"))
        print(row(f"{name} (parsed once)", CHARGES / best(run_parsed), floor_rate, "charges/s"))


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "layers" / "billing")]
    started = time.perf_counter()
    main()
    print(f"\n({time.perf_counter() - started:.1f} s)")
