"""Options common to every usage charge, whatever its model.

* ``transform_quantity: {"divide_by": 5, "round": "up"|"down"}``: the quantity is
  divided and rounded to a whole number before pricing (``up`` away from zero,
  ``down`` toward zero), as Stripe's ``transform_quantity``.
* ``min_amount_per_period`` (or ``min_amount_per_period_decimal``): when the
  period amount is below it, the shortfall is reported apart
  (``RatingResult.minimum_shortfall``) and invoiced as its own line.
* ``pay_in_advance: true``: each event is charged the difference it makes to the
  period amount (``billing.rating.rate_in_advance``); default in arrears.
* ``group_by: "<property>"``: each value of the property is priced on its own
  (``billing.rating.rate_grouped``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from billing.errors import ValidationFailed
from billing.money import round_minor
from billing.rating._fields import (
    amount_out,
    fmt,
    money_keys,
    number_out,
    read_amount,
    read_bool,
    read_mapping,
    read_number,
    reject_unknown,
)
from billing.rating.base import ZERO, BreakdownEntry

OPTION_FIELDS = money_keys("min_amount_per_period") | {"transform_quantity", "pay_in_advance", "group_by"}
TRANSFORM_FIELDS = frozenset({"divide_by", "round"})
ROUND_MODES = frozenset({"up", "down"})


@dataclass(frozen=True, slots=True)
class TransformQuantity:
    divide_by: Decimal
    round: str

    def apply(self, quantity: Decimal) -> Decimal:
        """``quantity / divide_by`` rounded to a whole number, exactly (no context rounding)."""
        whole, remainder = divmod(quantity, self.divide_by)
        if remainder and self.round == "up":
            whole += 1 if quantity > 0 else -1
        return whole + ZERO  # an exact integral Decimal, -0 made 0


@dataclass(frozen=True, slots=True)
class ChargeOptions:
    transform_quantity: TransformQuantity | None = None
    min_amount_per_period: Decimal | None = None
    pay_in_advance: bool = False
    group_by: str | None = None

    def transform(self, quantity: Decimal) -> Decimal:
        return quantity if self.transform_quantity is None else self.transform_quantity.apply(quantity)


def read_options(raw: Mapping[str, object]) -> ChargeOptions:
    transform = None
    transform_raw = read_mapping(raw, "transform_quantity", "", code="invalid_option")
    if transform_raw is not None:
        reject_unknown(transform_raw, TRANSFORM_FIELDS, "transform_quantity")
        divide_by = read_number(transform_raw, "divide_by", "transform_quantity", required=True)
        assert divide_by is not None
        if divide_by <= 0:
            raise ValidationFailed(
                "transform_quantity.divide_by must be positive",
                code="invalid_divide_by",
                param="transform_quantity.divide_by",
            )
        round_mode = transform_raw.get("round")
        if round_mode not in ROUND_MODES:
            raise ValidationFailed(
                'transform_quantity.round must be "up" or "down"',
                code="invalid_round",
                param="transform_quantity.round",
            )
        assert isinstance(round_mode, str)
        transform = TransformQuantity(divide_by=divide_by, round=round_mode)
    group_by = raw.get("group_by")
    if group_by is not None and (not isinstance(group_by, str) or not group_by.strip()):
        raise ValidationFailed("group_by must be a property name", code="invalid_group_by", param="group_by")
    return ChargeOptions(
        transform_quantity=transform,
        min_amount_per_period=read_amount(raw, "min_amount_per_period", ""),
        pay_in_advance=read_bool(raw, "pay_in_advance", "", default=False),
        group_by=group_by,
    )


def normalize_options(options: ChargeOptions) -> dict[str, object]:
    out: dict[str, object] = {"pay_in_advance": options.pay_in_advance}
    if options.transform_quantity is not None:
        out["transform_quantity"] = {
            "divide_by": number_out(options.transform_quantity.divide_by),
            "round": options.transform_quantity.round,
        }
    if options.min_amount_per_period is not None:
        amount_out(out, "min_amount_per_period", options.min_amount_per_period)
    if options.group_by is not None:
        out["group_by"] = options.group_by
    return out


def shortfall(
    options: ChargeOptions, amount: Decimal, amount_minor: int
) -> tuple[Decimal, int, BreakdownEntry | None]:
    """The period minimum's shortfall: (unrounded, minor units, breakdown line), zeros when none.

    The minor-unit shortfall is taken on the rounded values, ``round_minor(minimum) −
    amount_minor``, so the usage line and the shortfall line add up to the minimum.
    """
    minimum = options.min_amount_per_period
    if minimum is None or amount >= minimum:
        return ZERO, 0, None
    missing = minimum - amount
    missing_minor = max(0, round_minor(minimum) - amount_minor)
    entry = BreakdownEntry(
        kind="minimum_shortfall",
        amount=missing,
        explanation=f"minimum per period {fmt(minimum)} − amount {fmt(amount)} = {fmt(missing)}",
    )
    return missing, missing_minor, entry
