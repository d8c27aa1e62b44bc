"""Usage: record events (first write of an id wins), and aggregate them over a window.

Recording a batch (docs/usage.md has the contract, docs/decisions.md the reasoning):

1. each event is validated on its own (shape, customer, metric, timestamp window, the
   metric's property): a bad event is only that event's rejection;
2. ids repeated inside the batch: the first valid one wins, the others are duplicates;
3. a strongly consistent BatchGetItem finds the ids already stored: duplicates, untouched;
4. the roll-ups of the new events are written, then the events: an event is written only once
   a roll-up covers it, so the query path never misses a stored event;
5. an event is ``accepted`` only once stored; what could not be stored after the store's
   retries is rejected with ``storage_unavailable`` (retryable: resend it as is).

Two requests racing with the same new id may both write it (BatchWriteItem has no conditions):
both are told ``accepted`` and the last write stays. Both wrote a roll-up first, and readers
deduplicate roll-up entries by id, so billing counts it once either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from pydantic import ValidationError

from billing import clock, metering
from billing.errors import NotFound, ValidationFailed
from billing.models.catalog import Metric
from billing.models.customers import Customer
from billing.models.usage import (
    MAX_PROPERTIES_BYTES,
    STORAGE_UNAVAILABLE,
    EventOutcome,
    EventStatus,
    IncomingEvent,
    RollupEntry,
    UsageEvent,
    dumps_scalars,
)
from billing.repositories.usage import UsageRepository
from billing.settings import ConfigurationError, Settings

DEFAULT_WINDOW = timedelta(days=30)
NUMERIC_AGGREGATIONS = frozenset({"sum", "max", "latest", "weighted_sum"})


class CustomerLookup(Protocol):
    def resolve(self, id_or_external_id: str) -> Customer | None: ...


class MetricLookup(Protocol):
    def get(self, code: str) -> Metric | None: ...


class CachedLookups:
    """Customers and metrics found recently, kept ``ttl_seconds`` in the container.

    Only found ones are kept (a customer or metric created a moment ago is seen at once); a
    change or deletion reaches the intake's checks within ``ttl_seconds``. The intake looks up
    every distinct customer and metric of a batch: this saves those reads on the next batches.
    """

    def __init__(
        self,
        customers: CustomerLookup,
        metrics: MetricLookup,
        *,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._customers = customers
        self._metrics = metrics
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._customer_cache: dict[str, tuple[float, Customer]] = {}
        self._metric_cache: dict[str, tuple[float, Metric]] = {}

    def resolve(self, id_or_external_id: str) -> Customer | None:
        return self._cached(self._customer_cache, id_or_external_id, self._customers.resolve)

    def get(self, code: str) -> Metric | None:
        return self._cached(self._metric_cache, code, self._metrics.get)

    def _cached[V](
        self, cache: dict[str, tuple[float, V]], key: str, load: Callable[[str], V | None]
    ) -> V | None:
        now = self._monotonic()
        held = cache.get(key)
        if held is not None and held[0] > now:
            return held[1]
        value = load(key)
        if value is None:
            cache.pop(key, None)
        elif self._ttl > 0:
            if len(cache) >= 10_000:
                cache.clear()  # bounded memory; a burst of new keys only costs reads
            cache[key] = (now + self._ttl, value)
        return value


@dataclass(frozen=True)
class IntakeLimits:
    max_age: timedelta = timedelta(days=35)
    max_future: timedelta = timedelta(minutes=5)
    retention: timedelta = timedelta(days=400)

    def __post_init__(self) -> None:
        if self.max_age >= self.retention:
            raise ConfigurationError("USAGE_MAX_EVENT_AGE_DAYS must be shorter than USAGE_RETENTION_DAYS")

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeLimits:
        return cls(
            max_age=timedelta(days=settings.usage_max_event_age_days),
            max_future=timedelta(seconds=settings.usage_max_future_seconds),
            retention=timedelta(days=settings.usage_retention_days),
        )


# --------------------------------------------------------------------------- recording


def record_events(
    raw_events: Sequence[object],
    *,
    store: UsageRepository,
    customers: CustomerLookup,
    metrics: MetricLookup,
    limits: IntakeLimits,
    deadline: float | None = None,
) -> list[EventOutcome]:
    """Validate and store a batch of events; one outcome per event, in order."""
    now = clock.now()
    outcomes: list[EventOutcome | None] = [None] * len(raw_events)
    checker = _Checker(customers=customers, metrics=metrics, limits=limits, now=now)
    seen: dict[tuple[str, str], int] = {}
    duplicates_of: dict[int, int] = {}
    fresh: list[tuple[int, UsageEvent]] = []
    existing = store.existence_check(deadline=deadline)  # reads while the next events are validated

    for index, raw in enumerate(raw_events):
        event, customer, rejection = checker.check(raw)
        if rejection is not None or event is None or customer is None:
            code, param, message = rejection or ("invalid_event", None, "not a valid event")
            outcomes[index] = EventOutcome(index, _raw_id(raw), EventStatus.REJECTED, code, param, message)
            continue
        properties_json = dumps_scalars(event.properties)
        if len(properties_json) > MAX_PROPERTIES_BYTES:
            message = f"properties take more than {MAX_PROPERTIES_BYTES} bytes as JSON."
            outcomes[index] = EventOutcome(
                index, event.id, EventStatus.REJECTED, "invalid_property", "properties", message
            )
            continue
        key = (customer.id, event.id)
        if key in seen:
            duplicates_of[index] = seen[key]
            continue
        seen[key] = index
        fresh.append((index, _usage_event(event, customer, properties_json, now=now)))
        existing.add(customer.id, event.id)

    found, unchecked = existing.result()
    new: list[tuple[int, UsageEvent]] = []
    for index, e in fresh:
        key = (e.customer_id, e.id)
        if key in found:
            outcomes[index] = EventOutcome(index, e.id, EventStatus.DUPLICATE)
        elif key in unchecked:
            outcomes[index] = _unavailable(index, e.id)
        else:
            new.append((index, e))

    expires_at = now + limits.retention
    uncovered = store.put_rollups(
        [e for _, e in new], written_at=now, expires_at=expires_at, deadline=deadline
    )
    writable = []
    for position, (index, e) in enumerate(new):
        if position in uncovered:
            outcomes[index] = _unavailable(index, e.id)  # never written without a roll-up covering it
        else:
            writable.append((index, e))
    failed = store.put_events([e for _, e in writable], expires_at=expires_at, deadline=deadline)
    for position, (index, e) in enumerate(writable):
        outcomes[index] = (
            _unavailable(index, e.id)
            if position in failed
            else EventOutcome(index, e.id, EventStatus.ACCEPTED)
        )

    for index, first in duplicates_of.items():
        winner = outcomes[first]
        assert winner is not None
        raw_id = _raw_id(raw_events[index])
        # A later copy is a duplicate of what the first one became; if that was not stored, neither is this.
        outcomes[index] = (
            _unavailable(index, raw_id)
            if winner.retryable
            else EventOutcome(index, raw_id, EventStatus.DUPLICATE)
        )
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def _unavailable(index: int, event_id: str | None) -> EventOutcome:
    return EventOutcome(
        index,
        event_id,
        EventStatus.REJECTED,
        STORAGE_UNAVAILABLE,
        None,
        "The event could not be stored (storage throttled or unavailable); resend it as is.",
    )


def _raw_id(raw: object) -> str | None:
    value = raw.get("id") if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) else None


def _usage_event(
    event: IncomingEvent, customer: Customer, properties_json: str, *, now: datetime
) -> UsageEvent:
    return UsageEvent(
        customer_id=customer.id,
        id=event.id,
        metric=event.metric,
        timestamp=event.timestamp.astimezone(UTC),
        properties_json=properties_json,
        received_at=now,
    )


Rejection = tuple[str, str | None, str]
"""(code, param, message)"""

# pydantic error type -> our code for a field of an event
_SHAPE_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "string_pattern_mismatch": "invalid_format",
    "timezone_aware": "invalid_timestamp",
}


class _Checker:
    """Validates events one by one; caches customers and metrics for the request."""

    def __init__(
        self, *, customers: CustomerLookup, metrics: MetricLookup, limits: IntakeLimits, now: datetime
    ):
        self._customers = customers
        self._metrics = metrics
        self._now = now
        self._oldest = now - limits.max_age
        self._latest = now + limits.max_future
        self._customer_cache: dict[str, Customer | None] = {}
        self._metric_cache: dict[str, _MetricRules | None] = {}

    def check(self, raw: object) -> tuple[IncomingEvent | None, Customer | None, Rejection | None]:
        if not isinstance(raw, Mapping):
            return None, None, ("invalid_event", None, "An event must be a JSON object.")
        try:
            event = IncomingEvent.model_validate(raw)
        except ValidationError as exc:
            return None, None, _shape_rejection(exc)
        customer = self._customer(event.customer)
        if customer is None:
            return (
                event,
                None,
                ("unknown_customer", "customer", f"No customer with id or external_id {event.customer!r}."),
            )
        rules = self._rules(event.metric)
        if rules is None:
            return event, customer, ("unknown_metric", "metric", f"No billable metric {event.metric!r}.")
        if event.timestamp < self._oldest:
            return event, customer, (
                "timestamp_too_old", "timestamp", f"The timestamp is before the intake window (from {self._oldest.isoformat()}).",
            )  # fmt: skip
        if event.timestamp > self._latest:
            return event, customer, (
                "timestamp_in_future", "timestamp", f"The timestamp is after {self._latest.isoformat()}.",
            )  # fmt: skip
        problem = rules.check(event)
        if problem is not None:
            return event, customer, problem
        return event, customer, None

    def _customer(self, ref: str) -> Customer | None:
        if ref not in self._customer_cache:
            customer = self._customers.resolve(ref)
            self._customer_cache[ref] = customer if customer is not None and not customer.deleted else None
        return self._customer_cache[ref]

    def _rules(self, code: str) -> _MetricRules | None:
        if code not in self._metric_cache:
            metric = self._metrics.get(code)
            self._metric_cache[code] = _MetricRules(metric) if metric is not None else None
        return self._metric_cache[code]


def _shape_rejection(exc: ValidationError) -> Rejection:
    first = exc.errors(include_url=False)[0]
    err_type = str(first.get("type", "value_error"))
    loc = [str(p) for p in first.get("loc", ())]
    param = ".".join(loc) or None
    if loc and loc[0] == "timestamp":
        code = "invalid_timestamp"
    elif loc and loc[0] == "properties" and err_type in ("value_error", "dict_type"):
        code = "invalid_property"
    else:
        code = _SHAPE_CODES.get(err_type, "invalid_type" if err_type.endswith("_type") else "invalid_value")
    return code, param, f"{param or 'event'}: {first.get('msg', 'is not valid')}"


class _MetricRules:
    """What an event of this metric must carry for the metric to aggregate it (metering's rules)."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.field = metric.field
        # metering decides what a number is: its accumulators raise invalid_property otherwise.
        self._numeric = (
            metering.make_accumulator({"aggregation": "sum", "field": metric.field})
            if metric.aggregation in NUMERIC_AGGREGATIONS and metric.field
            else None
        )
        self._scalar = (
            metering.make_accumulator({"aggregation": "unique_count", "field": metric.field})
            if metric.aggregation == "unique_count" and metric.field
            else None
        )
        self._group = (
            metering.make_accumulator({"aggregation": "unique_count", "field": metric.group_by})
            if metric.group_by
            else None
        )

    def check(self, event: IncomingEvent) -> Rejection | None:
        properties = event.properties
        if self.field is not None and properties.get(self.field) is None:
            return (
                "invalid_property", f"properties.{self.field}",
                f"The metric {self.metric.code!r} reads the property {self.field!r}, which is missing.",
            )  # fmt: skip
        as_event = {"timestamp": event.timestamp, "properties": properties}
        try:
            for validator in (self._numeric, self._scalar, self._group):
                if validator is not None:
                    validator.add(as_event)
        except ValidationFailed as exc:
            return exc.code, exc.param, exc.message
        return None


# --------------------------------------------------------------------------- querying


@dataclass(frozen=True)
class MetricUsage:
    metric: Metric
    quantity: Decimal
    groups: dict[str, Decimal] | None
    events: int


@dataclass(frozen=True)
class CustomerUsage:
    customer: Customer
    start: datetime
    end: datetime
    metrics: list[MetricUsage]


def get_current_usage(
    *,
    store: UsageRepository,
    customers: CustomerLookup,
    metrics: MetricLookup,
    customer_ref: str,
    metric_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CustomerUsage:
    """Aggregated quantity per metric (and per group) over [start, end), default the last 30 days.

    Reads the customer's roll-ups for the hours of the window (deduplicated by event id), not the
    events. ``weighted_sum`` starts from 0 at ``start``: only the window's adjustments count.
    """
    now = clock.now()
    end = end or now
    start = start or end - DEFAULT_WINDOW
    if end <= start:
        raise ValidationFailed("`to` must be after `from`", code="invalid_period", param="from")
    customer = customers.resolve(customer_ref)
    if customer is None:
        raise NotFound(f"no customer {customer_ref}", code="customer_not_found", param="customer_id")
    wanted: dict[str, Metric] = {}
    if metric_code is not None:
        metric = metrics.get(metric_code)
        if metric is None:
            raise NotFound(f"no metric {metric_code}", code="metric_not_found", param="metric")
        wanted[metric.code] = metric
    entries = read_rollup_entries(store, customer.id, start=start, end=end, now=now, metric=metric_code)
    if metric_code is None:
        for code in sorted(entries):
            found = metrics.get(code)
            if found is not None:  # usage of a metric deleted since is not shown
                wanted[code] = found
    usage = [
        _aggregate(metric, entries.get(code, []), start=start, end=end)
        for code, metric in sorted(wanted.items())
    ]
    return CustomerUsage(customer=customer, start=start, end=end, metrics=usage)


def _aggregate(metric: Metric, events: list[RollupEntry], *, start: datetime, end: datetime) -> MetricUsage:
    definition = metric.aggregation_definition()
    quantity = metering.aggregate(definition, events, period_start=start, period_end=end)
    groups = None
    if metric.group_by:
        groups = metering.aggregate_grouped(
            definition, events, period_start=start, period_end=end, group_by=metric.group_by
        )
    inside = sum(1 for e in events if start <= e.timestamp < end)
    return MetricUsage(metric=metric, quantity=quantity, groups=groups, events=inside)


def read_rollup_entries(
    store: UsageRepository,
    customer_id: str,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    metric: str | None = None,
) -> dict[str, list[RollupEntry]]:
    """The events the customer's roll-ups hold for [start, end), per metric, each id once.

    An id in several roll-ups (a retried request, two racing requests) is kept once, from the
    roll-up written last. Roll-ups are written before their events, so this may include an
    event whose own write then failed (and was reported so): ``read_billable_events`` checks
    against the stored events when that matters.
    """
    best: dict[str, tuple[datetime, str, RollupEntry]] = {}
    for rollup in store.rollups(customer_id, start=start, end=end, now=now):
        if metric is not None and rollup.metric != metric:
            continue
        for entry in rollup.entries:
            if not start <= entry.timestamp < end:
                continue
            held = best.get(entry.id)
            if held is None or rollup.written_at > held[0]:
                best[entry.id] = (rollup.written_at, rollup.metric, entry)
    out: dict[str, list[RollupEntry]] = {}
    for _, code, entry in best.values():
        out.setdefault(code, []).append(entry)
    return out


def read_billable_events(
    store: UsageRepository, customer_id: str, *, start: datetime, end: datetime
) -> dict[str, list[UsageEvent]]:
    """The stored events of [start, end), per metric, exactly: the roll-ups say which ids to look at,
    the event items (first write wins) say what each one is. For invoices."""
    now = clock.now()
    candidates: set[str] = set()
    for rollup in store.rollups(customer_id, start=start, end=end, now=now):
        candidates.update(e.id for e in rollup.entries if start <= e.timestamp < end)
    out: dict[str, list[UsageEvent]] = {}
    for event in store.get_events(customer_id, candidates).values():
        if start <= event.timestamp < end:
            out.setdefault(event.metric, []).append(event)
    for events in out.values():
        events.sort(key=lambda e: (e.timestamp, e.id))
    return out
