"""Invariants of the charge models, checked with hypothesis."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import round_minor
from billing.rating import parse_charge, rate, rate_grouped, rate_in_advance, validate_charge

# Prices: integer minor units or sub-minor decimals with up to 4 places.
prices = st.one_of(
    st.integers(min_value=0, max_value=10_000).map(Decimal),
    st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False),
)
quantities = st.one_of(
    st.integers(min_value=0, max_value=100_000).map(Decimal),
    st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False),
)
event_lists = st.lists(st.integers(min_value=0, max_value=50_000).map(Decimal), min_size=1, max_size=12)


def money(name: str, value: Decimal) -> dict[str, object]:
    """The `_decimal` convention: an int when integral, else a decimal string."""
    if value == value.to_integral_value():
        return {name: int(value)}
    return {f"{name}_decimal": str(value)}


@st.composite
def bounds(draw: st.DrawFn, max_tiers: int = 5) -> list[Decimal | None]:
    count = draw(st.integers(min_value=1, max_value=max_tiers))
    ups = sorted(
        set(
            draw(st.lists(st.integers(min_value=1, max_value=50_000), min_size=count - 1, max_size=count - 1))
        )
    )
    return [Decimal(u) for u in ups] + [None]


@st.composite
def price_tiers(draw: st.DrawFn, *, decreasing: bool = False, flats: bool = True) -> list[dict[str, object]]:
    ups = draw(bounds())
    unit = draw(st.lists(prices, min_size=len(ups), max_size=len(ups)))
    if decreasing:
        unit = sorted(unit, reverse=True)
    tiers = []
    for index, up_to in enumerate(ups):
        tier: dict[str, object] = {
            "up_to": None if up_to is None else int(up_to),
            **money("unit_amount", unit[index]),
        }
        if flats:
            tier.update(money("flat_amount", draw(prices)))
        tiers.append(tier)
    return tiers


@st.composite
def rate_tiers(draw: st.DrawFn) -> list[dict[str, object]]:
    ups = draw(bounds())
    rates = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
    return [
        {
            "up_to": None if up_to is None else int(up_to),
            "rate": str(draw(rates)),
            **money("flat_amount", draw(prices)),
        }
        for up_to in ups
    ]


@st.composite
def percentage_charges(draw: st.DrawFn, *, limits: bool = True) -> dict[str, object]:
    charge: dict[str, object] = {
        "model": "percentage",
        "rate": str(
            draw(st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False))
        ),
    }
    if draw(st.booleans()):
        charge.update(money("fixed_amount", draw(prices)))
    if draw(st.booleans()):
        charge["free_units_per_events"] = draw(st.integers(min_value=0, max_value=5))
    if draw(st.booleans()):
        charge.update(money("free_units_per_total_aggregation", Decimal(draw(st.integers(0, 100_000)))))
    if limits and draw(st.booleans()):
        low = draw(prices)
        charge.update(money("per_transaction_min_amount", low))
        if draw(st.booleans()):
            charge.update(money("per_transaction_max_amount", low + draw(prices)))
    return charge


@st.composite
def any_charge(draw: st.DrawFn) -> dict[str, object]:
    model = draw(
        st.sampled_from(["standard", "package", "graduated", "volume", "percentage", "graduated_percentage"])
    )
    if model == "standard":
        return {"model": model, **money("unit_amount", draw(prices))}
    if model == "package":
        return {
            "model": model,
            **money("unit_amount", draw(prices)),
            "package_size": draw(st.integers(min_value=1, max_value=1000)),
            "free_units": draw(st.integers(min_value=0, max_value=1000)),
        }
    if model in ("graduated", "volume"):
        return {"model": model, "tiers": draw(price_tiers())}
    if model == "percentage":
        return draw(percentage_charges())
    return {"model": model, "tiers": draw(rate_tiers())}


@given(price_tiers(decreasing=True, flats=False), quantities)
def test_volume_never_exceeds_graduated_with_decreasing_prices(
    tiers: list[dict[str, object]], quantity: Decimal
) -> None:
    graduated = rate({"model": "graduated", "tiers": tiers}, quantity).amount
    volume = rate({"model": "volume", "tiers": tiers}, quantity).amount
    assert volume <= graduated


@given(prices, prices, quantities)
def test_volume_and_graduated_agree_with_a_single_tier(
    unit: Decimal, flat: Decimal, quantity: Decimal
) -> None:
    tiers = [{"up_to": None, **money("unit_amount", unit), **money("flat_amount", flat)}]
    graduated = rate({"model": "graduated", "tiers": tiers}, quantity)
    volume = rate({"model": "volume", "tiers": tiers}, quantity)
    assert graduated.amount == volume.amount == quantity * unit + flat


@given(any_charge(), event_lists)
def test_rounding_happens_once_on_the_line(charge: dict[str, object], events: list[Decimal]) -> None:
    result = rate(charge, events=events)
    assert result.amount_minor == round_minor(result.amount)
    assert sum((e.amount for e in result.breakdown), Decimal(0)) == result.amount
    assert result.amount >= 0


@given(price_tiers(), quantities, quantities)
def test_graduated_is_monotone_in_quantity(tiers: list[dict[str, object]], a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    charge = {"model": "graduated", "tiers": tiers}
    assert rate(charge, low).amount <= rate(charge, high).amount


@given(rate_tiers(), quantities, quantities)
def test_graduated_percentage_is_monotone_in_amount(
    tiers: list[dict[str, object]], a: Decimal, b: Decimal
) -> None:
    low, high = sorted((a, b))
    charge = {"model": "graduated_percentage", "tiers": tiers}
    assert rate(charge, low).amount <= rate(charge, high).amount


@given(any_charge(), st.dictionaries(st.sampled_from(["eu", "us", "apac", ""]), event_lists, max_size=4))
def test_group_totals_are_the_sum_of_the_groups(
    charge: dict[str, object], groups: dict[str, list[Decimal]]
) -> None:
    grouped = rate_grouped({**charge, "group_by": "region"}, groups)
    assert set(grouped.groups) == set(groups)
    for key, events in groups.items():
        alone = rate(charge, events=events)
        assert grouped.groups[key].amount == alone.amount
        assert grouped.groups[key].amount_minor == alone.amount_minor
    assert grouped.amount == sum((g.amount for g in grouped.groups.values()), Decimal(0))
    assert grouped.amount_minor == sum(g.amount_minor for g in grouped.groups.values())


@settings(max_examples=150)
@given(any_charge(), event_lists)
def test_in_advance_increments_add_up_to_the_arrears_amount(
    charge: dict[str, object], events: list[Decimal]
) -> None:
    charge = {**charge, "pay_in_advance": True}
    amount = Decimal(0)
    minor = 0
    for index in range(len(events)):
        step = rate_in_advance(charge, previous_events=events[:index], events=events[index : index + 1])
        amount += step.amount
        minor += step.amount_minor
    arrears = rate(charge, events=events)
    assert amount == arrears.amount
    assert minor == arrears.amount_minor


@given(any_charge(), event_lists)
def test_in_advance_by_quantity_adds_up_too(charge: dict[str, object], events: list[Decimal]) -> None:
    parsed = parse_charge(charge)
    if parsed.model.needs_events(parsed.spec):
        return  # a fixed fee, free events or limits need the events themselves (tested above)
    minor = 0
    previous: Decimal | None = None
    for value in events:
        step = rate_in_advance(charge, previous_quantity=previous, quantity=value)
        minor += step.amount_minor
        previous = value if previous is None else previous + value
    assert minor == rate(charge, sum(events)).amount_minor


@given(percentage_charges(limits=False), event_lists)
def test_limits_that_never_bind_change_nothing(charge: dict[str, object], events: list[Decimal]) -> None:
    bound = {**charge, "per_transaction_min_amount": 0, "per_transaction_max_amount": 10**12}
    assert rate(bound, events=events).amount == rate(charge, events=events).amount


@given(percentage_charges(), event_lists)
def test_per_transaction_limits_bound_each_paid_transaction(
    charge: dict[str, object], events: list[Decimal]
) -> None:
    normalized = validate_charge(charge)

    def amount(name: str) -> Decimal | None:
        value = normalized.get(name, normalized.get(f"{name}_decimal"))
        return None if value is None else Decimal(str(value))

    low, high = amount("per_transaction_min_amount"), amount("per_transaction_max_amount")
    result = rate(charge, events=events)
    if result.quantity == 0:
        assert result.amount == 0
        return
    paid = len(events) - next((e.count or 0 for e in result.breakdown if e.kind == "free"), 0)
    if high is not None:
        assert result.amount <= high * paid
    if low is not None:
        assert result.amount >= low * paid


@given(any_charge())
def test_validate_is_idempotent(charge: dict[str, object]) -> None:
    normalized = validate_charge(charge)
    assert validate_charge(normalized) == normalized
