"""Rating: validate a charge, price a period's usage, round once.

Public entry points (re-exported by ``billing.rating``):

* ``validate_charge(charge) -> dict``: validate without pricing, return the
  normalized copy (the API layer calls it when a plan is created);
* ``parse_charge(charge) -> ParsedCharge``: validate once, rate many times;
* ``rate(charge, quantity=None, events=None) -> RatingResult``;
* ``rate_grouped(charge, groups) -> GroupedRatingResult`` for ``group_by`` charges;
* ``rate_in_advance(charge, *, previous_quantity=..., quantity=..., previous_events=...,
  events=...) -> AdvanceResult`` for ``pay_in_advance`` charges.

All arithmetic runs in one Decimal context with 80 digits of precision that
traps inexact results: a price is exact or it is refused
(``precision_exceeded``), never silently rounded. The only rounding is
``billing.money.round_minor`` on the line amount, after pricing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from billing.errors import ValidationFailed
from billing.money import round_minor, to_decimal
from billing.rating._fields import check_magnitude, fmt, join, reject_unknown
from billing.rating.base import ZERO, BreakdownEntry, ChargeModel, RatingResult
from billing.rating.options import OPTION_FIELDS, ChargeOptions, normalize_options, read_options, shortfall
from billing.rating.registry import get_charge_model

Number = int | Decimal | str
"""A quantity or event value: int, Decimal or decimal string (never float)."""

PRICING_CONTEXT = Context(
    prec=80,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

ROUNDING_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999)
"""Where ``round_minor`` runs: wide enough for any amount priced exactly (its own rule is half-up)."""


@dataclass(frozen=True, slots=True)
class ParsedCharge:
    """A validated charge: its model, the model's frozen spec and the common options."""

    model: ChargeModel[Any]
    spec: Any
    options: ChargeOptions

    def normalized(self) -> dict[str, object]:
        return {
            "model": self.model.name,
            **self.model.normalize(self.spec),
            **normalize_options(self.options),
        }


@dataclass(frozen=True, slots=True)
class GroupedRatingResult:
    """One ``RatingResult`` per group (each its own line, rounded on its own) and the totals.

    ``amount`` is the sum of the groups' unrounded amounts and ``amount_minor`` the
    sum of their rounded ones (each group line is rounded once). The period
    minimum applies to the charge as a whole, so the shortfall is on the total.
    """

    groups: dict[str, RatingResult]
    amount: Decimal
    amount_minor: int
    minimum_shortfall: Decimal = ZERO
    minimum_shortfall_minor: int = 0
    minimum_shortfall_entry: BreakdownEntry | None = None

    @property
    def total_minor(self) -> int:
        return self.amount_minor + self.minimum_shortfall_minor

    def to_dict(self) -> dict[str, object]:
        return {
            "groups": {key: result.to_dict() for key, result in self.groups.items()},
            "amount": fmt(self.amount),
            "amount_minor": self.amount_minor,
            "minimum_shortfall": fmt(self.minimum_shortfall),
            "minimum_shortfall_minor": self.minimum_shortfall_minor,
            "minimum_shortfall_entry": (
                None if self.minimum_shortfall_entry is None else self.minimum_shortfall_entry.to_dict()
            ),
        }


@dataclass(frozen=True, slots=True)
class AdvanceResult:
    """What one in-advance event (or batch) is charged: the difference it makes to the period amount.

    ``amount = after.amount − before.amount`` (unrounded) and ``amount_minor =
    after.amount_minor − before.amount_minor``: each is a difference of amounts
    rounded once, so the increments of a period add up exactly to what the
    period would cost in arrears. ``before`` is None for the first charge of the
    period (nothing charged yet: a first tier's base fee is charged with it).
    The increment can be negative (a volume price dropping with more usage).
    """

    amount: Decimal
    amount_minor: int
    before: RatingResult | None
    after: RatingResult

    @property
    def explanation(self) -> str:
        before = ZERO if self.before is None else self.before.amount
        return f"period amount {fmt(self.after.amount)} − already charged {fmt(before)} = {fmt(self.amount)}"


def parse_charge(charge: Mapping[str, object]) -> ParsedCharge:
    """Validate a charge definition; raise ``ValidationFailed`` naming the field at fault."""
    if not isinstance(charge, Mapping):
        raise ValidationFailed("a charge must be an object", code="invalid_charge")
    if charge.get("model") is None:
        raise ValidationFailed("model is required", code="missing_field", param="model")
    model = get_charge_model(charge["model"])
    reject_unknown(charge, model.fields | OPTION_FIELDS | {"model"}, "")
    spec = model.validate(charge)
    options = read_options(charge)
    if options.transform_quantity is not None and model.uses_events and model.needs_events(spec):
        raise ValidationFailed(
            "transform_quantity cannot be combined with a fixed fee, free events or per-transaction limits, "
            "which price each event's own value",
            code="incompatible_options",
            param="transform_quantity",
        )
    return ParsedCharge(model=model, spec=spec, options=options)


def validate_charge(charge: Mapping[str, object]) -> dict[str, object]:
    """Validate without pricing and return the normalized copy.

    Canonical form: money fields as ``x: int`` when integral, else
    ``x_decimal: "<decimal>"``; quantities as int or decimal string; rates as
    decimal strings; defaults written out (``flat_amount: 0``,
    ``pay_in_advance: false``). ``validate_charge`` of its own output returns it unchanged.
    """
    return parse_charge(charge).normalized()


def rate(
    charge: Mapping[str, object] | ParsedCharge,
    quantity: Number | None = None,
    events: Sequence[Number] | None = None,
) -> RatingResult:
    """Price one period of usage of a charge.

    ``quantity`` is the aggregated usage; ``events`` the ordered per-event values
    (needed by percentage charges with a fixed fee, free events or
    per-transaction limits). Without ``quantity`` the sum of ``events`` is used.
    A charge with ``group_by`` must be priced with ``rate_grouped``.
    """
    parsed = _parsed(charge)
    if parsed.options.group_by is not None:
        raise ValidationFailed(
            "this charge is grouped: price it with rate_grouped", code="grouped_charge", param="group_by"
        )
    return _rate(parsed, quantity, events, apply_minimum=True)


def rate_grouped(
    charge: Mapping[str, object] | ParsedCharge,
    groups: Mapping[str, Number | Sequence[Number]],
) -> GroupedRatingResult:
    """Price each group of a ``group_by`` charge on its own.

    ``groups`` maps the group (the value of the ``group_by`` property) to its
    quantity, or to its ordered list of event values.
    """
    parsed = _parsed(charge)
    if parsed.options.group_by is None:
        raise ValidationFailed(
            "this charge has no group_by: price it with rate", code="not_grouped", param="group_by"
        )
    if not isinstance(groups, Mapping):
        raise ValidationFailed(
            "groups must map each group to its usage", code="invalid_groups", param="groups"
        )
    results: dict[str, RatingResult] = {}
    for key, usage in groups.items():
        if not isinstance(key, str):
            raise ValidationFailed("group keys must be strings", code="invalid_groups", param="groups")
        quantity: Number | None
        group_events: Sequence[Number] | None
        if isinstance(usage, str | int | Decimal):
            quantity, group_events = usage, None
        else:
            quantity, group_events = None, usage
        try:
            results[key] = _rate(parsed, quantity, group_events, apply_minimum=False)
        except ValidationFailed as exc:
            param = join("groups", key) + (f".{exc.param}" if exc.param else "")
            raise ValidationFailed(exc.message, code=exc.code, param=param) from exc
    with localcontext(PRICING_CONTEXT):
        amount = sum((result.amount for result in results.values()), ZERO)
    amount_minor = sum(result.amount_minor for result in results.values())
    with localcontext(ROUNDING_CONTEXT):
        missing, missing_minor, entry = shortfall(parsed.options, amount, amount_minor)
    return GroupedRatingResult(
        groups=results,
        amount=amount,
        amount_minor=amount_minor,
        minimum_shortfall=missing,
        minimum_shortfall_minor=missing_minor,
        minimum_shortfall_entry=entry,
    )


def rate_in_advance(
    charge: Mapping[str, object] | ParsedCharge,
    *,
    previous_quantity: Number | None = None,
    quantity: Number | None = None,
    previous_events: Sequence[Number] | None = None,
    events: Sequence[Number] | None = None,
) -> AdvanceResult:
    """Charge new usage in advance: ``rate(before + new) − rate(before)``.

    Give either quantities or events, not both:

    * ``quantity``: what the new event(s) add; ``previous_quantity``: the period's
      usage already charged, or **None for the first charge of the period** (then
      nothing was charged before and the whole amount, base fee included, is due);
    * ``events``: the new event values; ``previous_events``: the values already
      charged in the period, in order (empty or None for the first charge).

    For a ``group_by`` charge pass the usage of the event's own group. The period
    minimum is not applied here: the shortfall is settled at the end of the
    period with ``rate``.
    """
    parsed = _parsed(charge)
    if events is not None or previous_events is not None:
        if quantity is not None or previous_quantity is not None:
            raise ValidationFailed(
                "give either quantities or events, not both", code="ambiguous_usage", param="events"
            )
        if events is None:
            raise ValidationFailed(
                "events (the new event values) is required", code="events_required", param="events"
            )
        previous = list(previous_events or [])
        after = _rate(parsed, None, [*previous, *events], apply_minimum=False)
        before = _rate(parsed, None, previous, apply_minimum=False) if previous else None
    else:
        if quantity is None:
            raise ValidationFailed(
                "quantity (what the new usage adds) is required", code="quantity_required", param="quantity"
            )
        added = check_magnitude(to_decimal(quantity, param="quantity"), "quantity")
        if previous_quantity is None:
            before = None
            after = _rate(parsed, added, None, apply_minimum=False)
        else:
            start = check_magnitude(
                to_decimal(previous_quantity, param="previous_quantity"), "previous_quantity"
            )
            before = _rate(parsed, start, None, apply_minimum=False)
            with localcontext(PRICING_CONTEXT):
                total = start + added
            after = _rate(parsed, total, None, apply_minimum=False)
    with localcontext(PRICING_CONTEXT):
        amount = after.amount - (ZERO if before is None else before.amount)
    amount_minor = after.amount_minor - (0 if before is None else before.amount_minor)
    return AdvanceResult(amount=amount, amount_minor=amount_minor, before=before, after=after)


def _parsed(charge: Mapping[str, object] | ParsedCharge) -> ParsedCharge:
    return charge if isinstance(charge, ParsedCharge) else parse_charge(charge)


def _rate(
    parsed: ParsedCharge,
    quantity: Number | None,
    events: Sequence[Number] | None,
    *,
    apply_minimum: bool,
) -> RatingResult:
    try:
        with localcontext(PRICING_CONTEXT):
            input_quantity, values = _read_usage(parsed, quantity, events)
            priced_quantity = parsed.options.transform(input_quantity)
            use_events = parsed.model.uses_events and parsed.options.transform_quantity is None
            priced = parsed.model.price(
                parsed.spec, quantity=priced_quantity, events=values if use_events else None
            )
    except DecimalException as exc:
        raise ValidationFailed(
            f"the price cannot be computed exactly with these numbers ({type(exc).__name__})",
            code="precision_exceeded",
        ) from exc
    with localcontext(ROUNDING_CONTEXT):
        amount_minor = round_minor(priced.amount)
        missing, missing_minor, entry = (
            shortfall(parsed.options, priced.amount, amount_minor) if apply_minimum else (ZERO, 0, None)
        )
    return RatingResult(
        model=parsed.model.name,
        quantity=priced_quantity,
        input_quantity=input_quantity,
        amount=priced.amount,
        amount_minor=amount_minor,
        breakdown=priced.breakdown,
        minimum_shortfall=missing,
        minimum_shortfall_minor=missing_minor,
        minimum_shortfall_entry=entry,
    )


def _read_usage(
    parsed: ParsedCharge, quantity: Number | None, events: Sequence[Number] | None
) -> tuple[Decimal, list[Decimal] | None]:
    allow_negative = parsed.model.allows_negative(parsed.spec)
    values: list[Decimal] | None = None
    if events is not None:
        if isinstance(events, str | bytes | Mapping) or not isinstance(events, Sequence):
            raise ValidationFailed("events must be a list of values", code="invalid_events", param="events")
        values = []
        for index, value in enumerate(events):
            number = check_magnitude(to_decimal(value, param=join("events", index)), join("events", index))
            if number < 0 and not allow_negative:
                raise ValidationFailed(
                    "event values must not be negative", code="negative_quantity", param=join("events", index)
                )
            values.append(number)
    if quantity is None:
        if values is None:
            raise ValidationFailed(
                "quantity or events is required", code="quantity_required", param="quantity"
            )
        total = sum(values, ZERO)
    else:
        total = check_magnitude(to_decimal(quantity, param="quantity"), "quantity")
        if values is not None and parsed.model.uses_events and total != sum(values, ZERO):
            raise ValidationFailed(
                "quantity must equal the sum of the event values", code="quantity_mismatch", param="quantity"
            )
    if total < 0 and not allow_negative:
        raise ValidationFailed("quantity must not be negative", code="negative_quantity", param="quantity")
    return total + ZERO, values
