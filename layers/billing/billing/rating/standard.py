"""``standard``: one unit price times the quantity.

``{"model": "standard", "unit_amount": 5}`` or ``"unit_amount_decimal": "0.25"``.
``allow_negative: true`` lets a negative quantity (a usage credit) be priced as a
negative amount; every other model refuses negative quantities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.rating._fields import amount_out, fmt, money_keys, read_amount, read_bool
from billing.rating.base import BreakdownEntry, ChargeModel, Priced, plural


@dataclass(frozen=True, slots=True)
class StandardSpec:
    unit_amount: Decimal
    allow_negative: bool = False


class StandardModel(ChargeModel[StandardSpec]):
    name = "standard"
    fields = money_keys("unit_amount") | {"allow_negative"}

    def validate(self, raw: Mapping[str, object]) -> StandardSpec:
        unit_amount = read_amount(raw, "unit_amount", "", required=True)
        assert unit_amount is not None
        return StandardSpec(
            unit_amount=unit_amount,
            allow_negative=read_bool(raw, "allow_negative", "", default=False),
        )

    def normalize(self, spec: StandardSpec) -> dict[str, object]:
        out: dict[str, object] = {}
        amount_out(out, "unit_amount", spec.unit_amount)
        out["allow_negative"] = spec.allow_negative
        return out

    def allows_negative(self, spec: StandardSpec) -> bool:
        return spec.allow_negative

    def price(self, spec: StandardSpec, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        amount = quantity * spec.unit_amount
        entry = BreakdownEntry(
            kind="units",
            amount=amount,
            units=quantity,
            unit_amount=spec.unit_amount,
            explanation=f"{plural(quantity, 'unit')} × {fmt(spec.unit_amount)} = {fmt(amount)}",
        )
        return Priced(amount=amount, breakdown=[entry])
