"""``graduated``: each tier prices only the units that fall in it.

``{"model": "graduated", "tiers": [{"up_to": 5, "unit_amount": 500, "flat_amount": 0}, ...,
{"up_to": null, "unit_amount": 300}]}``. Tier ``i`` prices the units in
(``tiers[i-1].up_to``, ``tiers[i].up_to``] at its ``unit_amount`` and adds its
``flat_amount`` once when the quantity reaches into it. The first tier is always
reached, so its flat amount is a base fee even at zero quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.rating._fields import amount_out, fmt, money_keys, number_out, read_amount
from billing.rating._tiers import graduated_slices, read_tiers
from billing.rating.base import ZERO, BreakdownEntry, ChargeModel, Priced, describe_units

TIER_FIELDS = money_keys("unit_amount", "flat_amount") | {"up_to"}


@dataclass(frozen=True, slots=True)
class PriceTier:
    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal


@dataclass(frozen=True, slots=True)
class TieredSpec:
    tiers: tuple[PriceTier, ...]

    @property
    def bounds(self) -> tuple[Decimal | None, ...]:
        return tuple(tier.up_to for tier in self.tiers)


def read_price_tiers(raw: Mapping[str, object]) -> TieredSpec:
    """Validate ``tiers`` of unit/flat amounts (shared with ``volume``)."""
    tiers = []
    for tier in read_tiers(raw, allowed=TIER_FIELDS):
        unit_amount = read_amount(tier.raw, "unit_amount", tier.param)
        flat_amount = read_amount(tier.raw, "flat_amount", tier.param)
        tiers.append(
            PriceTier(up_to=tier.up_to, unit_amount=unit_amount or ZERO, flat_amount=flat_amount or ZERO)
        )
    return TieredSpec(tiers=tuple(tiers))


def normalize_price_tiers(spec: TieredSpec) -> dict[str, object]:
    tiers = []
    for tier in spec.tiers:
        out: dict[str, object] = {"up_to": None if tier.up_to is None else number_out(tier.up_to)}
        amount_out(out, "unit_amount", tier.unit_amount)
        amount_out(out, "flat_amount", tier.flat_amount)
        tiers.append(out)
    return {"tiers": tiers}


def tier_text(units_text: str, units: Decimal, unit_amount: Decimal, flat: Decimal, amount: Decimal) -> str:
    """``units 6–10: 5 × 400 + flat 100 = 2100``."""
    parts = []
    if units or not flat:
        parts.append(f"{fmt(units)} × {fmt(unit_amount)}")
    if flat:
        parts.append(f"flat {fmt(flat)}")
    return f"{units_text}: {' + '.join(parts)} = {fmt(amount)}"


class GraduatedModel(ChargeModel[TieredSpec]):
    name = "graduated"
    fields = frozenset({"tiers"})

    def validate(self, raw: Mapping[str, object]) -> TieredSpec:
        return read_price_tiers(raw)

    def normalize(self, spec: TieredSpec) -> dict[str, object]:
        return normalize_price_tiers(spec)

    def price(self, spec: TieredSpec, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        total = ZERO
        breakdown: list[BreakdownEntry] = []
        for part in graduated_slices(spec.bounds, quantity):
            tier = spec.tiers[part.index]
            amount = part.units * tier.unit_amount + tier.flat_amount
            total += amount
            top = part.lower + part.units
            units_text = describe_units(part.lower, top) if part.units else "no units"
            breakdown.append(
                BreakdownEntry(
                    kind="tier",
                    amount=amount,
                    units=part.units,
                    tier_index=part.index,
                    from_units=part.lower,
                    to_units=top,
                    unit_amount=tier.unit_amount,
                    flat_amount=tier.flat_amount,
                    explanation=tier_text(units_text, part.units, tier.unit_amount, tier.flat_amount, amount),
                )
            )
        return Priced(amount=total, breakdown=breakdown)
