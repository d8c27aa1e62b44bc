"""Aggregations over usage events: count, sum, max, unique_count, latest, weighted_sum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import ValidationFailed
from billing.metering import (
    MISSING_GROUP,
    Event,
    SumAccumulator,
    aggregate,
    aggregate_grouped,
    event_values,
    event_values_grouped,
    make_accumulator,
    validate_aggregation,
)

START = datetime(2024, 2, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)  # leap-year February: 29 days
PERIOD = {"period_start": START, "period_end": END}


def ev(day: float, **properties: object) -> dict[str, object]:
    return {"timestamp": START + timedelta(days=day), "properties": properties}


EVENTS = [
    ev(0, amount=100, region="eu", user="a"),
    ev(1, amount="250.5", region="us", user="b"),
    ev(2, amount=Decimal("49.5"), region="eu", user="a"),
    ev(3, amount=7, region="apac", user="c"),
    ev(4, region="eu", user="d"),  # no amount: skipped by sum/max/latest
    ev(-1, amount=1000, region="eu", user="z"),  # before the period: ignored
    ev(29, amount=1000, region="eu", user="z"),  # at period_end (exclusive): ignored
]

TABLE = [
    # (definition, expected)
    ({"aggregation": "count"}, Decimal(5)),  # 5 events inside the period
    ({"aggregation": "sum", "field": "amount"}, Decimal("407")),  # 100 + 250.5 + 49.5 + 7
    ({"aggregation": "max", "field": "amount"}, Decimal("250.5")),
    ({"aggregation": "unique_count", "field": "user"}, Decimal(4)),  # a, b, c, d
    ({"aggregation": "latest", "field": "amount"}, Decimal(7)),  # day 3 (day 4 has no amount)
    ({"aggregation": "count", "filters": {"region": ["eu"]}}, Decimal(3)),  # days 0, 2, 4
    (
        {"aggregation": "sum", "field": "amount", "filters": {"region": ["eu", "us"]}},
        Decimal(400),
    ),  # 100+250.5+49.5
    ({"aggregation": "max", "field": "amount", "filters": {"region": ["eu"]}}, Decimal(100)),
    ({"aggregation": "unique_count", "field": "user", "filters": {"region": ["eu"]}}, Decimal(2)),  # a, d
    ({"aggregation": "latest", "field": "amount", "filters": {"region": ["eu"]}}, Decimal("49.5")),
    ({"aggregation": "sum", "field": "amount", "filters": {"region": ["mars"]}}, Decimal(0)),
    ({"aggregation": "max", "field": "amount", "filters": {"region": ["mars"]}}, Decimal(0)),  # empty max: 0
    ({"aggregation": "latest", "field": "amount", "filters": {"region": ["mars"]}}, Decimal(0)),
]


@pytest.mark.parametrize(("definition", "expected"), TABLE)
def test_aggregation_table(definition: dict[str, object], expected: Decimal) -> None:
    assert aggregate(definition, EVENTS, **PERIOD) == expected


def test_attribute_events_and_numeric_strings() -> None:
    events = [Event(START, {"n": "1.25"}), Event(START + timedelta(hours=1), {"n": 2})]
    assert aggregate({"aggregation": "sum", "field": "n"}, events, **PERIOD) == Decimal("3.25")


def test_filters_compare_values_as_text() -> None:
    events = [ev(0, tier=1), ev(1, tier="1"), ev(2, tier=2), ev(3, flag=True)]
    assert aggregate({"aggregation": "count", "filters": {"tier": [1]}}, events, **PERIOD) == 2
    assert aggregate({"aggregation": "count", "filters": {"tier": ["1", "2"]}}, events, **PERIOD) == 3
    assert aggregate({"aggregation": "count", "filters": {"flag": [True]}}, events, **PERIOD) == 1
    assert (
        aggregate({"aggregation": "count", "filters": {"tier": [1], "flag": [True]}}, events, **PERIOD) == 0
    )


def test_latest_takes_the_latest_timestamp_not_the_last_event() -> None:
    events = [ev(5, v=50), ev(2, v=20), ev(5, v=51)]  # a tie at day 5: the one folded last wins
    assert aggregate({"aggregation": "latest", "field": "v"}, events, **PERIOD) == 51


@pytest.mark.parametrize("bad", [1.5, "abc", "NaN", [1], {"x": 1}, True])
def test_non_numeric_values_are_refused(bad: object) -> None:
    for aggregation in ("sum", "max", "latest", "weighted_sum"):
        with pytest.raises(ValidationFailed) as err:
            aggregate({"aggregation": aggregation, "field": "amount"}, [ev(1, amount=bad)], **PERIOD)
        assert (err.value.code, err.value.param) == ("invalid_property", "properties.amount")


# weighted_sum: seats held over February 2024 (29 days = 2,505,600 s).
SEATS = {"aggregation": "weighted_sum", "field": "seats"}


@pytest.mark.parametrize(
    ("events", "initial", "expected"),
    [
        ([], 3, Decimal(3)),  # 3 seats all period: 3 × 29 / 29
        ([ev(0, seats=2)], None, Decimal(2)),  # +2 from the first second: 2 × 29 / 29
        ([ev(14.5, seats=2)], None, Decimal(1)),  # +2 for the second half: 2 × 14.5 / 29
        ([ev(14.5, seats=2)], 3, Decimal(4)),  # 3 × 29/29 + 2 × 14.5/29 = 3 + 1
        ([ev(10, seats=4), ev(20, seats=-4)], 1, Decimal("2.379310344828")),
        # 1 + 4 × (29 − 10)/29 − 4 × (29 − 20)/29 = 1 + 4 × 10/29 = 1 + 40/29 = 2.3793103448275… → 12 places
        ([ev(20, seats=-4), ev(10, seats=4)], 1, Decimal("2.379310344828")),  # the order does not matter
        ([ev(28, seats="0.5")], None, Decimal("0.017241379310")),  # 0.5 × 1/29 = 0.01724137931034…
        ([ev(-5, seats=100), ev(1, seats=29, other=1)], None, Decimal(28)),  # before the period: ignored
        # 29 × 28/29 = 28
    ],
)
def test_weighted_sum(events: list[dict[str, object]], initial: int | None, expected: Decimal) -> None:
    assert aggregate(SEATS, events, initial_value=initial, **PERIOD) == expected


def test_weighted_sum_is_exact_to_the_microsecond() -> None:
    one_microsecond_before_end = END - timedelta(microseconds=1)
    result = aggregate(
        SEATS, [{"timestamp": one_microsecond_before_end, "properties": {"seats": 2_505_600}}], **PERIOD
    )
    assert result == Decimal("0.000001")  # 2505600 × 1 µs / 2505600 s


def test_sums_too_precise_to_be_exact_are_refused() -> None:
    events = [ev(0, n="1E+50"), ev(1, n="1E-50")]  # the exact sum needs 101 digits
    with pytest.raises(ValidationFailed) as err:
        aggregate({"aggregation": "sum", "field": "n"}, events, **PERIOD)
    assert (err.value.code, err.value.param) == ("precision_exceeded", "properties.n")


def test_initial_value_only_for_weighted_sum() -> None:
    with pytest.raises(ValidationFailed) as err:
        aggregate({"aggregation": "sum", "field": "n"}, [], initial_value=3, **PERIOD)
    assert (err.value.code, err.value.param) == ("initial_value_not_supported", "initial_value")


def test_group_by() -> None:
    definition = {"aggregation": "sum", "field": "amount"}
    assert aggregate_grouped(definition, EVENTS, group_by="region", **PERIOD) == {
        "apac": Decimal(7),
        "eu": Decimal("149.5"),  # 100 + 49.5 (the day-4 event has no amount)
        "us": Decimal("250.5"),
    }
    counts = aggregate_grouped(
        {"aggregation": "count"}, [*EVENTS, ev(5, user="x")], group_by="region", **PERIOD
    )
    assert counts == {MISSING_GROUP: 1, "apac": 1, "eu": 3, "us": 1}


def test_group_by_with_filters_and_initial_values() -> None:
    definition = {"aggregation": "weighted_sum", "field": "seats", "filters": {"plan": ["pro"]}}
    events = [ev(14.5, seats=2, team="a", plan="pro"), ev(0, seats=5, team="b", plan="free")]
    result = aggregate_grouped(definition, events, group_by="team", initial_values={"c": 4}, **PERIOD)
    assert result == {"a": Decimal(1), "c": Decimal(4)}  # b is filtered out; c only carries its 4 seats


def test_event_values_in_time_order() -> None:
    definition = {"aggregation": "sum", "field": "amount", "filters": {"region": ["eu", "us", "apac"]}}
    shuffled = [EVENTS[3], EVENTS[0], EVENTS[2], EVENTS[1], EVENTS[4]]
    assert event_values(definition, shuffled, **PERIOD) == [100, Decimal("250.5"), Decimal("49.5"), 7]
    assert event_values({"aggregation": "count"}, EVENTS[:3]) == [1, 1, 1]
    assert event_values_grouped(definition, EVENTS, group_by="region", **PERIOD) == {
        "apac": [7],
        "eu": [100, Decimal("49.5")],
        "us": [Decimal("250.5")],
    }
    with pytest.raises(ValidationFailed) as err:
        event_values({"aggregation": "max", "field": "amount"}, EVENTS)
    assert err.value.code == "per_event_values_unsupported"


@pytest.mark.parametrize(
    ("definition", "code", "param"),
    [
        ({}, "missing_field", "aggregation"),
        ({"aggregation": "avg", "field": "x"}, "unknown_aggregation", "aggregation"),
        ({"aggregation": "sum"}, "missing_field", "field"),
        ({"aggregation": "sum", "field": ""}, "invalid_field", "field"),
        ({"aggregation": "count", "field": "x"}, "field_not_allowed", "field"),
        ({"aggregation": "count", "filter": {}}, "unknown_field", "filter"),
        ({"aggregation": "count", "filters": ["eu"]}, "invalid_filter", "filters"),
        ({"aggregation": "count", "filters": {"region": "eu"}}, "invalid_filter", "filters.region"),
        ({"aggregation": "count", "filters": {"region": []}}, "invalid_filter", "filters.region"),
        ({"aggregation": "count", "filters": {"region": [1.5]}}, "invalid_filter", "filters.region"),
    ],
)
def test_invalid_definitions(definition: dict[str, object], code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_aggregation(definition)
    assert (err.value.code, err.value.param) == (code, param)


def test_validate_normalizes_filters() -> None:
    assert validate_aggregation({"aggregation": "sum", "field": "n", "filters": {"r": ["us", 1, "eu"]}}) == {
        "aggregation": "sum",
        "field": "n",
        "filters": {"r": ["1", "eu", "us"]},
    }


def test_timestamps_and_periods_must_be_aware() -> None:
    naive = {"timestamp": datetime(2024, 2, 2), "properties": {}}
    with pytest.raises(ValidationFailed) as err:
        aggregate({"aggregation": "count"}, [naive], **PERIOD)
    assert (err.value.code, err.value.param) == ("invalid_timestamp", "timestamp")
    with pytest.raises(ValidationFailed) as err:
        aggregate({"aggregation": "count"}, [], period_start=END, period_end=START)
    assert (err.value.code, err.value.param) == ("invalid_period", "period_end")
    other_zone = timezone(timedelta(hours=-5))
    late = {
        "timestamp": datetime(2024, 2, 29, 20, tzinfo=other_zone),
        "properties": {},
    }  # 2024-03-01 01:00 UTC
    assert aggregate({"aggregation": "count"}, [late], **PERIOD) == 0


# Merge of accumulators equals a single pass, for every aggregation.
DEFINITIONS = [
    {"aggregation": "count"},
    {"aggregation": "sum", "field": "v"},
    {"aggregation": "max", "field": "v"},
    {"aggregation": "unique_count", "field": "v"},
    {"aggregation": "latest", "field": "v"},
    {"aggregation": "weighted_sum", "field": "v"},
]
values = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
)
streams = st.lists(
    st.tuples(st.integers(min_value=0, max_value=29 * 86_400 - 1), values, st.sampled_from(["eu", "us"])),
    max_size=40,
)


@given(st.sampled_from(DEFINITIONS), streams, st.integers(min_value=0, max_value=40), st.integers(-5, 5))
def test_merge_equals_single_pass(
    definition: dict[str, object], stream: list[tuple[int, object, str]], cut: int, initial: int
) -> None:
    events = [
        {"timestamp": START + timedelta(seconds=s), "properties": {"v": v, "region": r}} for s, v, r in stream
    ]
    weighted = definition["aggregation"] == "weighted_sum"
    whole = make_accumulator(definition, **PERIOD, initial_value=initial if weighted else None)
    for event in events:
        whole.add(event)
    left = make_accumulator(definition, **PERIOD, initial_value=initial if weighted else None)
    right = make_accumulator(definition, **PERIOD, initial_value=0 if weighted else None)
    for event in events[:cut]:
        left.add(event)
    for event in events[cut:]:
        right.add(event)
    assert left.merge(right).result() == whole.result()
    assert whole.result() == aggregate(
        definition, events, **PERIOD, initial_value=initial if weighted else None
    )


@given(st.sampled_from(DEFINITIONS[:5]), streams)
def test_groups_add_up_for_additive_aggregations(
    definition: dict[str, object], stream: list[tuple[int, object, str]]
) -> None:
    events = [
        {"timestamp": START + timedelta(seconds=s), "properties": {"v": v, "region": r}} for s, v, r in stream
    ]
    groups = aggregate_grouped(definition, events, group_by="region", **PERIOD)
    total = aggregate(definition, events, **PERIOD)
    if definition["aggregation"] in ("count", "sum"):
        assert sum(groups.values(), Decimal(0)) == total
    elif definition["aggregation"] == "max" and groups:
        assert max(groups.values()) == total


def test_merge_refuses_different_definitions() -> None:
    a = SumAccumulator({"aggregation": "sum", "field": "a"})
    b = SumAccumulator({"aggregation": "sum", "field": "b"})
    with pytest.raises(ValueError, match="merged"):
        a.merge(b)
