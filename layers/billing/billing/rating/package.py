"""``package``: a price per started package of units, after free units.

``{"model": "package", "unit_amount": 500, "package_size": 100, "free_units": 100}``:
the first ``free_units`` cost nothing; the paid units (quantity − free_units,
zero or fewer cost nothing) are counted in packages of ``package_size`` and
every started package costs ``unit_amount``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.errors import ValidationFailed
from billing.rating._fields import (
    amount_out,
    fmt,
    is_integral,
    money_keys,
    number_out,
    read_amount,
    read_number,
)
from billing.rating.base import ZERO, BreakdownEntry, ChargeModel, Priced, describe_units, plural


@dataclass(frozen=True, slots=True)
class PackageSpec:
    unit_amount: Decimal
    package_size: int
    free_units: Decimal = ZERO


class PackageModel(ChargeModel[PackageSpec]):
    name = "package"
    fields = money_keys("unit_amount") | {"package_size", "free_units"}

    def validate(self, raw: Mapping[str, object]) -> PackageSpec:
        unit_amount = read_amount(raw, "unit_amount", "", required=True)
        assert unit_amount is not None
        size = read_number(raw, "package_size", "", required=True)
        assert size is not None
        if size <= 0 or not is_integral(size):
            raise ValidationFailed(
                "package_size must be a positive whole number of units",
                code="invalid_package_size",
                param="package_size",
            )
        free_units = read_number(raw, "free_units", "")
        if free_units is not None and free_units < 0:
            raise ValidationFailed(
                "free_units must not be negative", code="invalid_free_units", param="free_units"
            )
        return PackageSpec(unit_amount=unit_amount, package_size=int(size), free_units=free_units or ZERO)

    def normalize(self, spec: PackageSpec) -> dict[str, object]:
        out: dict[str, object] = {}
        amount_out(out, "unit_amount", spec.unit_amount)
        out["package_size"] = spec.package_size
        out["free_units"] = number_out(spec.free_units)
        return out

    def price(self, spec: PackageSpec, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        breakdown: list[BreakdownEntry] = []
        free = min(quantity, spec.free_units)
        if free > 0:
            breakdown.append(
                BreakdownEntry(
                    kind="free",
                    amount=ZERO,
                    units=free,
                    from_units=ZERO,
                    to_units=free,
                    explanation=f"{describe_units(ZERO, free)}: free",
                )
            )
        paid_units = quantity - spec.free_units
        if paid_units <= 0:
            paid_units = ZERO
            packages = 0
        else:
            whole, remainder = divmod(paid_units, spec.package_size)
            packages = int(whole) + (1 if remainder else 0)
        amount = packages * spec.unit_amount
        if packages:
            text = (
                f"{plural(paid_units, 'paid unit')} in {plural(packages, 'package')} of {spec.package_size}: "
                f"{packages} × {fmt(spec.unit_amount)} = {fmt(amount)}"
            )
        else:
            text = "no paid units: 0"
        breakdown.append(
            BreakdownEntry(
                kind="package",
                amount=amount,
                units=paid_units,
                from_units=spec.free_units if packages else None,
                to_units=quantity if packages else None,
                unit_amount=spec.unit_amount,
                count=packages,
                explanation=text,
            )
        )
        return Priced(amount=amount, breakdown=breakdown)
