"""``percentage``: a rate of the aggregated amount, plus a fixed fee per paid event.

The metric's field holds amounts in minor units of the plan's currency, so the
quantity is an amount and ``rate`` is a percentage of it (``"1.3"`` = 1.3 %).

Fields: ``rate`` (required), ``fixed_amount`` (per paid event),
``free_units_per_events`` N, ``free_units_per_total_aggregation`` X,
``per_transaction_min_amount``, ``per_transaction_max_amount``.

* Zero quantity costs nothing.
* The free amount F is the sum of the first N events, or X, or the smaller of
  the two when both are set.
* The free events are the first N, or those whose running total stays strictly
  below X, or the fewer of the two when both are set.
* Without per-transaction limits:
  ``max(quantity − F, 0) × rate / 100 + fixed_amount × paid events``.
* With a limit: events in time order use up F; a free event costs nothing;
  every other event costs ``(its value not covered by F) × rate / 100 +
  fixed_amount`` clamped to [min, max]. Without clamping both ways agree.

``fixed_amount``, N and the per-transaction limits need the per-event values:
without ``events`` they raise ``events_required``. X alone needs only the quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.errors import ValidationFailed
from billing.rating._fields import amount_out, fmt, money_keys, read_amount, read_number, read_rate
from billing.rating.base import HUNDRED, ZERO, BreakdownEntry, ChargeModel, Priced, plural


@dataclass(frozen=True, slots=True)
class PercentageSpec:
    rate: Decimal
    fixed_amount: Decimal = ZERO
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None
    per_transaction_min_amount: Decimal | None = None
    per_transaction_max_amount: Decimal | None = None

    @property
    def has_limits(self) -> bool:
        return self.per_transaction_min_amount is not None or self.per_transaction_max_amount is not None

    @property
    def needs_events(self) -> bool:
        return bool(self.fixed_amount) or bool(self.free_units_per_events) or self.has_limits


class PercentageModel(ChargeModel[PercentageSpec]):
    name = "percentage"
    fields = money_keys(
        "fixed_amount",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
    ) | {"rate", "free_units_per_events"}
    uses_events = True

    def validate(self, raw: Mapping[str, object]) -> PercentageSpec:
        rate = read_rate(raw, "rate", "")
        free_events = read_number(raw, "free_units_per_events", "")
        if free_events is not None and (free_events < 0 or free_events != free_events.to_integral_value()):
            raise ValidationFailed(
                "free_units_per_events must be a whole number of events, zero or more",
                code="invalid_free_units",
                param="free_units_per_events",
            )
        minimum = read_amount(raw, "per_transaction_min_amount", "")
        maximum = read_amount(raw, "per_transaction_max_amount", "")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise ValidationFailed(
                "per_transaction_min_amount must not exceed per_transaction_max_amount",
                code="min_exceeds_max",
                param="per_transaction_min_amount",
            )
        return PercentageSpec(
            rate=rate,
            fixed_amount=read_amount(raw, "fixed_amount", "") or ZERO,
            free_units_per_events=None if free_events is None else int(free_events),
            free_units_per_total_aggregation=read_amount(raw, "free_units_per_total_aggregation", ""),
            per_transaction_min_amount=minimum,
            per_transaction_max_amount=maximum,
        )

    def normalize(self, spec: PercentageSpec) -> dict[str, object]:
        out: dict[str, object] = {"rate": fmt(spec.rate)}
        amount_out(out, "fixed_amount", spec.fixed_amount)
        if spec.free_units_per_events is not None:
            out["free_units_per_events"] = spec.free_units_per_events
        for name in (
            "free_units_per_total_aggregation",
            "per_transaction_min_amount",
            "per_transaction_max_amount",
        ):
            value = getattr(spec, name)
            if value is not None:
                amount_out(out, name, value)
        return out

    def needs_events(self, spec: PercentageSpec) -> bool:
        return spec.needs_events

    def price(self, spec: PercentageSpec, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        if quantity == 0:
            return Priced(
                amount=ZERO,
                breakdown=[
                    BreakdownEntry(
                        kind="percentage",
                        amount=ZERO,
                        rate=spec.rate,
                        explanation="no usage: nothing to charge",
                    )
                ],
            )
        if events is None:
            if spec.needs_events:
                raise ValidationFailed(
                    "this percentage charge has a fixed fee, free events or per-transaction limits: "
                    "the per-event values are required",
                    code="events_required",
                    param="events",
                )
            free_amount = spec.free_units_per_total_aggregation or ZERO
            return _without_limits(spec, quantity, free_amount, free_count=0, paid_count=None)
        free_amount, free_count = _free_allowance(spec, events)
        if spec.has_limits:
            return _with_limits(spec, quantity, events, free_amount, free_count)
        return _without_limits(
            spec, quantity, free_amount, free_count=free_count, paid_count=len(events) - free_count
        )


def _free_allowance(spec: PercentageSpec, events: Sequence[Decimal]) -> tuple[Decimal, int]:
    """(F, number of free events) for ``events`` in time order."""
    n = spec.free_units_per_events
    x = spec.free_units_per_total_aggregation
    amounts: list[Decimal] = []
    counts: list[int] = []
    if n is not None and n > 0:
        amounts.append(sum(events[:n], ZERO))
        counts.append(min(n, len(events)))
    if x is not None and x > 0:
        amounts.append(x)
        below = 0
        running = ZERO
        for value in events:
            running += value
            if running >= x:
                break
            below += 1
        counts.append(below)
    if not amounts:
        return ZERO, 0
    return min(amounts), min(counts)


def _free_entry(covered: Decimal, quantity: Decimal, free_count: int) -> BreakdownEntry:
    events_text = f"{plural(free_count, 'free event')}; " if free_count else ""
    return BreakdownEntry(
        kind="free",
        amount=ZERO,
        units=covered,
        count=free_count,
        explanation=f"{events_text}{fmt(covered)} of {fmt(quantity)} free",
    )


def _percentage_entry(spec: PercentageSpec, base: Decimal, amount: Decimal) -> BreakdownEntry:
    return BreakdownEntry(
        kind="percentage",
        amount=amount,
        units=base,
        rate=spec.rate,
        explanation=f"{fmt(spec.rate)}% × {fmt(base)} = {fmt(amount)}",
    )


def _fixed_entry(spec: PercentageSpec, paid_count: int) -> BreakdownEntry:
    amount = paid_count * spec.fixed_amount
    return BreakdownEntry(
        kind="fixed_fee",
        amount=amount,
        count=paid_count,
        unit_amount=spec.fixed_amount,
        explanation=f"{plural(paid_count, 'paid event')} × {fmt(spec.fixed_amount)} = {fmt(amount)}",
    )


def _without_limits(
    spec: PercentageSpec, quantity: Decimal, free_amount: Decimal, *, free_count: int, paid_count: int | None
) -> Priced:
    covered = min(free_amount, quantity)
    base = quantity - covered
    percentage = base * spec.rate / HUNDRED
    breakdown = []
    if covered or free_count:
        breakdown.append(_free_entry(covered, quantity, free_count))
    breakdown.append(_percentage_entry(spec, base, percentage))
    total = percentage
    if paid_count is not None and spec.fixed_amount:
        fixed = _fixed_entry(spec, paid_count)
        breakdown.append(fixed)
        total += fixed.amount
    return Priced(amount=total, breakdown=breakdown)


def _with_limits(
    spec: PercentageSpec, quantity: Decimal, events: Sequence[Decimal], free_amount: Decimal, free_count: int
) -> Priced:
    minimum = spec.per_transaction_min_amount
    maximum = spec.per_transaction_max_amount
    remaining = free_amount
    base = ZERO
    raised = lowered = 0
    raise_total = lower_total = ZERO
    for index, value in enumerate(events):
        if index < free_count:
            # A free event lies within F (the sum of the free events never exceeds F).
            remaining -= value
            continue
        covered = min(value, remaining)
        remaining -= covered
        taxable = value - covered
        base += taxable
        event_amount = taxable * spec.rate / HUNDRED + spec.fixed_amount
        if minimum is not None and event_amount < minimum:
            raised += 1
            raise_total += minimum - event_amount
        elif maximum is not None and event_amount > maximum:
            lowered += 1
            lower_total += maximum - event_amount
    covered_total = quantity - base
    percentage = base * spec.rate / HUNDRED
    breakdown = []
    if covered_total or free_count:
        breakdown.append(_free_entry(covered_total, quantity, free_count))
    breakdown.append(_percentage_entry(spec, base, percentage))
    total = percentage
    paid_count = len(events) - free_count
    if spec.fixed_amount:
        fixed = _fixed_entry(spec, paid_count)
        breakdown.append(fixed)
        total += fixed.amount
    if raised:
        assert minimum is not None
        breakdown.append(
            BreakdownEntry(
                kind="transaction_minimum",
                amount=raise_total,
                count=raised,
                unit_amount=minimum,
                explanation=(
                    f"{plural(raised, 'transaction')} raised to the per-transaction minimum "
                    f"{fmt(minimum)}: +{fmt(raise_total)}"
                ),
            )
        )
        total += raise_total
    if lowered:
        assert maximum is not None
        breakdown.append(
            BreakdownEntry(
                kind="transaction_maximum",
                amount=lower_total,
                count=lowered,
                unit_amount=maximum,
                explanation=(
                    f"{plural(lowered, 'transaction')} capped at the per-transaction maximum "
                    f"{fmt(maximum)}: {fmt(lower_total)}"
                ),
            )
        )
        total += lower_total
    return Priced(amount=total, breakdown=breakdown)
