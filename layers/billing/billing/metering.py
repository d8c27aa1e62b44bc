"""Usage aggregation: from raw events to the quantity a charge is priced on.

Pure functions over event iterables, no I/O. An event is a Mapping or an
object with ``timestamp`` (an aware ``datetime``) and ``properties`` (a
Mapping). A billable metric's aggregation is defined as::

    {"aggregation": "sum", "field": "amount", "filters": {"region": ["eu", "us"]}}

``aggregation`` is one of ``count``, ``sum``, ``max``, ``unique_count``,
``latest`` and ``weighted_sum``; ``field`` names the property to read (required
except for ``count``, refused for it); ``filters`` keeps only the events whose
property value is in the list (every filter must match).

Each aggregation is a streaming accumulator (``add(event)``, ``result()``,
``merge(other)``): a single pass in O(1) memory, except ``unique_count`` which
keeps the distinct values. ``aggregate`` folds an iterable in one call,
``aggregate_grouped`` does it per value of a ``group_by`` property, and
``event_values`` gives the ordered per-event values a percentage charge needs.

Rules shared by every aggregation:

* only events with ``period_start <= timestamp < period_end`` count, when a
  period is given (always for ``aggregate``);
* numeric property values may be int, Decimal or a numeric string; anything
  else (a float included) raises ``ValidationFailed(code="invalid_property",
  param="properties.<field>")``; an absent or null property is skipped;
* property values are compared as text for filters, groups and distinct
  values: ``1`` and ``"1"`` are the same value, ``true`` is ``"true"``;
* the result is a Decimal; an empty ``max`` or ``latest`` is 0.

``weighted_sum`` is the time-weighted sum used for seats or storage held over
the period: each event **adjusts** the running value by its field (``+3``
seats, ``-1`` seat) at its timestamp; the value carried from before the period
is ``initial_value``. The result is ``Σ value × seconds held / period seconds``,
computed exactly in integer microseconds, with one division at the end rounded
half-up to ``WEIGHTED_SUM_PLACES`` decimal places. Because every adjustment
holds from its timestamp to the end of the period, events need not be sorted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Any, ClassVar, Protocol, Self

from billing.errors import ValidationFailed
from billing.money import to_decimal

AGGREGATIONS = ("count", "sum", "max", "unique_count", "latest", "weighted_sum")
DEFINITION_FIELDS = frozenset({"aggregation", "field", "filters"})
WEIGHTED_SUM_PLACES = 12
"""Decimal places of a ``weighted_sum`` result (its one division is rounded half-up there)."""
MISSING_GROUP = ""
"""The group of events that lack the ``group_by`` property."""

_CONTEXT = Context(
    prec=80,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
"""Sums and products are exact or refused (``precision_exceeded``), never silently rounded."""
_DIVISION = Context(prec=80, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999)
"""The one inexact operation: weighted_sum's final division, then rounded to WEIGHTED_SUM_PLACES."""
_ADD = _CONTEXT.add
_MULTIPLY = _CONTEXT.multiply
_ZERO = Decimal(0)
_WEIGHTED_QUANTUM = Decimal(1).scaleb(-WEIGHTED_SUM_PLACES)


class EventLike(Protocol):
    @property
    def timestamp(self) -> datetime: ...

    @property
    def properties(self) -> Mapping[str, Any]: ...


EventInput = Mapping[str, Any] | EventLike


@dataclass(frozen=True, slots=True)
class Event:
    """A usage event: when it happened and its properties."""

    timestamp: datetime
    properties: Mapping[str, Any]


Number = int | Decimal


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True, slots=True)
class AggregationDefinition:
    """A validated aggregation: filters hold the accepted values as text."""

    aggregation: str
    field: str | None
    filters: tuple[tuple[str, frozenset[str]], ...] = ()

    def normalized(self) -> dict[str, object]:
        out: dict[str, object] = {"aggregation": self.aggregation}
        if self.field is not None:
            out["field"] = self.field
        out["filters"] = {name: sorted(values) for name, values in self.filters}
        return out


def parse_aggregation(definition: Mapping[str, object] | AggregationDefinition) -> AggregationDefinition:
    """Validate an aggregation definition; raise ``ValidationFailed`` naming the field at fault."""
    if isinstance(definition, AggregationDefinition):
        return definition
    if not isinstance(definition, Mapping):
        raise ValidationFailed("an aggregation definition must be an object", code="invalid_aggregation")
    for key in definition:
        if key not in DEFINITION_FIELDS:
            raise ValidationFailed(f"unknown field {key!r}", code="unknown_field", param=str(key))
    aggregation = definition.get("aggregation")
    if aggregation is None:
        raise ValidationFailed("aggregation is required", code="missing_field", param="aggregation")
    if aggregation not in AGGREGATIONS:
        raise ValidationFailed(
            f"unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}",
            code="unknown_aggregation",
            param="aggregation",
        )
    assert isinstance(aggregation, str)
    field = definition.get("field")
    if aggregation == "count":
        if field is not None:
            raise ValidationFailed("count takes no field", code="field_not_allowed", param="field")
    elif field is None:
        raise ValidationFailed(
            f"{aggregation} needs the property to read", code="missing_field", param="field"
        )
    elif not isinstance(field, str) or not field.strip():
        raise ValidationFailed("field must be a property name", code="invalid_field", param="field")
    return AggregationDefinition(
        aggregation=aggregation, field=field, filters=_parse_filters(definition.get("filters"))
    )


def validate_aggregation(definition: Mapping[str, object]) -> dict[str, object]:
    """Validate without aggregating and return the normalized copy."""
    return parse_aggregation(definition).normalized()


def _parse_filters(filters: object) -> tuple[tuple[str, frozenset[str]], ...]:
    if filters is None:
        return ()
    if not isinstance(filters, Mapping):
        raise ValidationFailed(
            "filters must map a property to its accepted values", code="invalid_filter", param="filters"
        )
    parsed = []
    for name, values in filters.items():
        param = f"filters.{name}"
        if not isinstance(name, str) or not name:
            raise ValidationFailed(
                "filter names must be property names", code="invalid_filter", param="filters"
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ValidationFailed(
                f"{param} must be a non-empty list of values", code="invalid_filter", param=param
            )
        accepted = set()
        for value in values:
            if isinstance(value, float) or not isinstance(value, str | int | Decimal):
                raise ValidationFailed(
                    f"{param} values must be strings, integers or booleans",
                    code="invalid_filter",
                    param=param,
                )
            key = _key(value)
            assert key is not None
            accepted.add(key)
        parsed.append((name, frozenset(accepted)))
    return tuple(sorted(parsed))


# --------------------------------------------------------------------------- event access


def _key(value: object) -> str | None:
    """A property value as the text used by filters, groups and distinct counts (None: not a scalar)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(_DIVISION), "f")
    if isinstance(value, float):
        return repr(value)
    return None


def _parts(event: EventInput) -> tuple[object, Mapping[str, Any]]:
    """(timestamp, properties) of a Mapping or attribute event."""
    if type(event) is dict or isinstance(event, Mapping):
        if "timestamp" not in event:
            raise ValidationFailed("an event needs a timestamp", code="invalid_event", param="timestamp")
        timestamp = event["timestamp"]
        properties = event.get("properties")
    else:
        timestamp = getattr(event, "timestamp", None)
        properties = getattr(event, "properties", None)
    if properties is None:
        properties = {}
    elif not isinstance(properties, Mapping):
        raise ValidationFailed("event properties must be an object", code="invalid_event", param="properties")
    return timestamp, properties


def _aware(timestamp: object, param: str = "timestamp") -> datetime:
    if not isinstance(timestamp, datetime) or timestamp.utcoffset() is None:
        raise ValidationFailed(
            f"{param} must be a timezone-aware datetime", code="invalid_timestamp", param=param
        )
    return timestamp


def _number(properties: Mapping[str, Any], field: str) -> Number | None:
    """The numeric value of ``properties[field]``: int or finite Decimal, None when absent."""
    raw = properties.get(field)
    if raw is None:
        return None
    kind = type(raw)
    if kind is int:
        return int(raw)
    if kind is Decimal:
        if raw.is_finite():
            return raw  # type: ignore[no-any-return]
    elif kind is str:
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            pass
        else:
            if value.is_finite():
                return value
    raise ValidationFailed(
        f"property {field!r} must be a number (an integer, a Decimal or a numeric string), not {raw!r}",
        code="invalid_property",
        param=f"properties.{field}",
    )


def _too_precise(field: str) -> ValidationFailed:
    return ValidationFailed(
        f"the values of property {field!r} are too large or too precise to add up exactly",
        code="precision_exceeded",
        param=f"properties.{field}",
    )


def _micros(delta: timedelta) -> int:
    """A timedelta as an exact integer number of microseconds (never through float)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _period(period_start: object, period_end: object) -> tuple[datetime, datetime]:
    start = _aware(period_start, "period_start")
    end = _aware(period_end, "period_end")
    if end <= start:
        raise ValidationFailed(
            "period_end must be after period_start", code="invalid_period", param="period_end"
        )
    return start, end


# --------------------------------------------------------------------------- accumulators


class Accumulator(ABC):
    """Folds events one at a time into an aggregation result; mergeable for roll-ups.

    ``add`` applies the period window (when the accumulator has a period) and the
    definition's filters, then folds the event. ``merge(other)`` folds another
    accumulator of the same definition and period into this one, in place, as if
    ``other``'s events had been added after this one's.
    """

    aggregation: ClassVar[str]

    def __init__(
        self,
        definition: Mapping[str, object] | AggregationDefinition,
        *,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> None:
        self.definition = parse_aggregation(definition)
        if self.definition.aggregation != self.aggregation:
            raise ValueError(f"{type(self).__name__} cannot fold a {self.definition.aggregation} aggregation")
        self.period: tuple[datetime, datetime] | None = None
        if period_start is not None or period_end is not None:
            self.period = _period(period_start, period_end)
        self._field = self.definition.field or ""
        self._filters = self.definition.filters
        self._start()

    def _start(self) -> None:  # noqa: B027 - a hook, empty by default
        """Set up the folding state (called once the definition and period are set)."""

    def add(self, event: EventInput) -> None:
        timestamp, properties = _parts(event)
        if self.accepts(timestamp, properties):
            self._fold(timestamp, properties)

    def accepts(self, timestamp: object, properties: Mapping[str, Any]) -> bool:
        """Whether the event is inside the period and passes every filter."""
        if self.period is not None:
            moment = _aware(timestamp)
            if not self.period[0] <= moment < self.period[1]:
                return False
        return not self._filters or all(
            _key(properties.get(name)) in accepted for name, accepted in self._filters
        )

    @abstractmethod
    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        """Fold one accepted event."""

    @abstractmethod
    def result(self) -> Decimal:
        """The aggregation of the events folded so far."""

    @abstractmethod
    def merge(self, other: Self) -> Self:
        """Fold ``other`` into this accumulator (in place) and return self."""

    def _check_mergeable(self, other: Accumulator) -> None:
        if (
            type(other) is not type(self)
            or other.definition != self.definition
            or other.period != self.period
        ):
            raise ValueError("only accumulators of the same aggregation, definition and period can be merged")


class CountAccumulator(Accumulator):
    aggregation = "count"

    def _start(self) -> None:
        self._count = 0

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        self._count += 1

    def result(self) -> Decimal:
        return Decimal(self._count)

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        self._count += other._count
        return self


class SumAccumulator(Accumulator):
    aggregation = "sum"

    def _start(self) -> None:
        self._integers = 0  # integer values are summed as Python ints: exact and fast
        self._decimals = _ZERO

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        value = _number(properties, self._field)
        if value is None:
            return
        if type(value) is int:
            self._integers += value
        else:
            try:
                self._decimals = _ADD(self._decimals, value)
            except DecimalException:
                raise _too_precise(self._field) from None

    def result(self) -> Decimal:
        try:
            return _ADD(Decimal(self._integers), self._decimals)
        except DecimalException:
            raise _too_precise(self._field) from None

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        self._integers += other._integers
        self._decimals = _ADD(self._decimals, other._decimals)
        return self


class MaxAccumulator(Accumulator):
    aggregation = "max"

    def _start(self) -> None:
        self._best: Number | None = None

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        value = _number(properties, self._field)
        if value is not None and (self._best is None or value > self._best):
            self._best = value

    def result(self) -> Decimal:
        return _ZERO if self._best is None else Decimal(self._best)

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        if other._best is not None and (self._best is None or other._best > self._best):
            self._best = other._best
        return self


class UniqueCountAccumulator(Accumulator):
    """Distinct values of the field (as text): O(distinct values) memory."""

    aggregation = "unique_count"

    def _start(self) -> None:
        self._seen: set[str] = set()

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        raw = properties.get(self._field)
        if raw is None:
            return
        key = _key(raw)
        if key is None:
            raise ValidationFailed(
                f"property {self._field!r} must be a scalar value",
                code="invalid_property",
                param=f"properties.{self._field}",
            )
        self._seen.add(key)

    def result(self) -> Decimal:
        return Decimal(len(self._seen))

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        self._seen |= other._seen
        return self


class LatestAccumulator(Accumulator):
    """The value of the event with the latest timestamp (a tie goes to the one folded last)."""

    aggregation = "latest"

    def _start(self) -> None:
        self._at: datetime | None = None
        self._value: Number = 0

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        value = _number(properties, self._field)
        if value is None:
            return
        moment = _aware(timestamp)
        if self._at is None or moment >= self._at:
            self._at = moment
            self._value = value

    def result(self) -> Decimal:
        return Decimal(self._value)

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        if other._at is not None and (self._at is None or other._at >= self._at):
            self._at = other._at
            self._value = other._value
        return self


class WeightedSumAccumulator(Accumulator):
    """Time-weighted sum over a period: each event adjusts the running value from its timestamp on.

    ``Σ value × seconds held / period seconds`` = ``initial_value + Σ adjustment ×
    (period_end − timestamp) / (period_end − period_start)``: order-independent,
    O(1) memory. Merging adds the initial values as well as the adjustments, so
    to split one stream across accumulators give the initial value to one only.
    """

    aggregation = "weighted_sum"

    def __init__(
        self,
        definition: Mapping[str, object] | AggregationDefinition,
        *,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
        initial_value: int | Decimal | str | None = None,
    ) -> None:
        super().__init__(definition, period_start=period_start, period_end=period_end)
        if self.period is None:
            raise ValidationFailed(
                "weighted_sum needs the period", code="invalid_period", param="period_start"
            )
        self._end = self.period[1]
        self._length = _micros(self.period[1] - self.period[0])
        self._initial: Number = (
            0 if initial_value is None else to_decimal(initial_value, param="initial_value")
        )
        self._weighted_integers = 0
        self._weighted_decimals = _ZERO

    def _fold(self, timestamp: object, properties: Mapping[str, Any]) -> None:
        value = _number(properties, self._field)
        if value is None:
            return
        held = _micros(self._end - _aware(timestamp))
        if type(value) is int:
            self._weighted_integers += value * held
        else:
            try:
                self._weighted_decimals = _ADD(self._weighted_decimals, _MULTIPLY(value, held))
            except DecimalException:
                raise _too_precise(self._field) from None

    def result(self) -> Decimal:
        try:
            held = _MULTIPLY(Decimal(self._initial), self._length)
            total = _ADD(_ADD(held, Decimal(self._weighted_integers)), self._weighted_decimals)
        except DecimalException:
            raise _too_precise(self._field) from None
        return _DIVISION.divide(total, self._length).quantize(
            _WEIGHTED_QUANTUM, rounding=ROUND_HALF_UP, context=_DIVISION
        )

    def merge(self, other: Self) -> Self:
        self._check_mergeable(other)
        self._initial = _ADD(Decimal(self._initial), Decimal(other._initial))
        self._weighted_integers += other._weighted_integers
        self._weighted_decimals = _ADD(self._weighted_decimals, other._weighted_decimals)
        return self


ACCUMULATORS: Mapping[str, type[Accumulator]] = {
    cls.aggregation: cls
    for cls in (
        CountAccumulator,
        SumAccumulator,
        MaxAccumulator,
        UniqueCountAccumulator,
        LatestAccumulator,
        WeightedSumAccumulator,
    )
}


def make_accumulator(
    definition: Mapping[str, object] | AggregationDefinition,
    *,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    initial_value: int | Decimal | str | None = None,
) -> Accumulator:
    """The accumulator of the definition's aggregation (``initial_value`` only for weighted_sum)."""
    parsed = parse_aggregation(definition)
    if parsed.aggregation == "weighted_sum":
        return WeightedSumAccumulator(
            parsed, period_start=period_start, period_end=period_end, initial_value=initial_value
        )
    if initial_value is not None:
        raise ValidationFailed(
            "only weighted_sum carries an initial value",
            code="initial_value_not_supported",
            param="initial_value",
        )
    return ACCUMULATORS[parsed.aggregation](parsed, period_start=period_start, period_end=period_end)


# --------------------------------------------------------------------------- one-call helpers


def aggregate(
    definition: Mapping[str, object] | AggregationDefinition,
    events: Iterable[EventInput],
    *,
    period_start: datetime,
    period_end: datetime,
    initial_value: int | Decimal | str | None = None,
) -> Decimal:
    """Aggregate the events of one period (single pass)."""
    accumulator = make_accumulator(
        definition, period_start=period_start, period_end=period_end, initial_value=initial_value
    )
    add = accumulator.add
    for event in events:
        add(event)
    return accumulator.result()


def aggregate_grouped(
    definition: Mapping[str, object] | AggregationDefinition,
    events: Iterable[EventInput],
    *,
    period_start: datetime,
    period_end: datetime,
    group_by: str,
    initial_values: Mapping[str, int | Decimal | str] | None = None,
) -> dict[str, Decimal]:
    """Aggregate per value of the ``group_by`` property, sorted by group.

    Events without the property fall in the group ``MISSING_GROUP`` (``""``). A
    group appears when at least one of its events passes the window and filters,
    or (weighted_sum) when it has an initial value.
    """
    parsed = parse_aggregation(definition)
    gate = _gate(parsed, period_start, period_end)
    groups: dict[str, Accumulator] = {}

    def new(group: str) -> Accumulator:
        initial = None if initial_values is None else initial_values.get(group)
        return make_accumulator(
            parsed, period_start=period_start, period_end=period_end, initial_value=initial
        )

    for group in initial_values or {}:
        groups[group] = new(group)
    for event in events:
        timestamp, properties = _parts(event)
        if not gate.accepts(timestamp, properties):
            continue
        group = _group(properties, group_by)
        accumulator = groups.get(group)
        if accumulator is None:
            accumulator = groups[group] = new(group)
        accumulator._fold(timestamp, properties)
    return {group: groups[group].result() for group in sorted(groups)}


def _gate(
    parsed: AggregationDefinition, period_start: datetime | None, period_end: datetime | None
) -> Accumulator:
    """An accumulator used only for its ``accepts`` (the period window and the filters)."""
    return CountAccumulator(
        AggregationDefinition("count", None, parsed.filters), period_start=period_start, period_end=period_end
    )


def _group(properties: Mapping[str, Any], group_by: str) -> str:
    raw = properties.get(group_by)
    if raw is None:
        return MISSING_GROUP
    key = _key(raw)
    if key is None:
        raise ValidationFailed(
            f"property {group_by!r} must be a scalar value to group by",
            code="invalid_property",
            param=f"properties.{group_by}",
        )
    return key


def event_values(
    definition: Mapping[str, object] | AggregationDefinition,
    events: Iterable[EventInput],
    *,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> list[Decimal]:
    """The per-event values a percentage charge needs, in time order (stable for equal timestamps).

    For ``sum`` the field of each matching event (events without it are skipped),
    for ``count`` 1 per matching event; other aggregations have no per-event value.
    """
    return [
        value for _, value in _ordered_values(parse_aggregation(definition), events, period_start, period_end)
    ]


def event_values_grouped(
    definition: Mapping[str, object] | AggregationDefinition,
    events: Iterable[EventInput],
    *,
    group_by: str,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> dict[str, list[Decimal]]:
    """``event_values`` per value of the ``group_by`` property, sorted by group."""
    parsed = parse_aggregation(definition)
    groups: dict[str, list[Decimal]] = {}
    for properties, value in _ordered_values(parsed, events, period_start, period_end):
        groups.setdefault(_group(properties, group_by), []).append(value)
    return {group: groups[group] for group in sorted(groups)}


def _ordered_values(
    parsed: AggregationDefinition,
    events: Iterable[EventInput],
    period_start: datetime | None,
    period_end: datetime | None,
) -> Iterator[tuple[Mapping[str, Any], Decimal]]:
    if parsed.aggregation not in ("sum", "count"):
        raise ValidationFailed(
            f"{parsed.aggregation} has no per-event values (only sum and count do)",
            code="per_event_values_unsupported",
            param="aggregation",
        )
    gate = _gate(parsed, period_start, period_end)
    rows: list[tuple[datetime, Mapping[str, Any], Decimal]] = []
    for event in events:
        timestamp, properties = _parts(event)
        moment = _aware(timestamp)
        if not gate.accepts(moment, properties):
            continue
        if parsed.field is None:
            rows.append((moment, properties, Decimal(1)))
            continue
        value = _number(properties, parsed.field)
        if value is not None:
            rows.append((moment, properties, Decimal(value)))
    rows.sort(key=lambda row: row[0])
    for _, properties, value in rows:
        yield properties, value
