"""``graduated_percentage``: percentage tiers walked like ``graduated`` on the aggregated amount.

``{"model": "graduated_percentage", "tiers": [{"up_to": 100000, "rate": "1", "flat_amount": 20000},
..., {"up_to": null, "rate": "3"}]}``. Tier ``i`` charges ``rate`` % of the part
of the amount in (``tiers[i-1].up_to``, ``tiers[i].up_to``] plus its
``flat_amount`` once when the amount reaches into it; the first tier's flat
amount is a base fee even at zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.rating._fields import amount_out, fmt, money_keys, number_out, read_amount, read_rate
from billing.rating._tiers import graduated_slices, read_tiers
from billing.rating.base import HUNDRED, ZERO, BreakdownEntry, ChargeModel, Priced, describe_units

TIER_FIELDS = money_keys("flat_amount") | {"up_to", "rate"}


@dataclass(frozen=True, slots=True)
class RateTier:
    up_to: Decimal | None
    rate: Decimal
    flat_amount: Decimal


@dataclass(frozen=True, slots=True)
class GraduatedPercentageSpec:
    tiers: tuple[RateTier, ...]

    @property
    def bounds(self) -> tuple[Decimal | None, ...]:
        return tuple(tier.up_to for tier in self.tiers)


class GraduatedPercentageModel(ChargeModel[GraduatedPercentageSpec]):
    name = "graduated_percentage"
    fields = frozenset({"tiers"})

    def validate(self, raw: Mapping[str, object]) -> GraduatedPercentageSpec:
        tiers = []
        for tier in read_tiers(raw, allowed=TIER_FIELDS):
            rate = read_rate(tier.raw, "rate", tier.param)
            flat_amount = read_amount(tier.raw, "flat_amount", tier.param)
            tiers.append(RateTier(up_to=tier.up_to, rate=rate, flat_amount=flat_amount or ZERO))
        return GraduatedPercentageSpec(tiers=tuple(tiers))

    def normalize(self, spec: GraduatedPercentageSpec) -> dict[str, object]:
        tiers = []
        for tier in spec.tiers:
            out: dict[str, object] = {
                "up_to": None if tier.up_to is None else number_out(tier.up_to),
                "rate": fmt(tier.rate),
            }
            amount_out(out, "flat_amount", tier.flat_amount)
            tiers.append(out)
        return {"tiers": tiers}

    def price(
        self, spec: GraduatedPercentageSpec, *, quantity: Decimal, events: Sequence[Decimal] | None
    ) -> Priced:
        total = ZERO
        breakdown: list[BreakdownEntry] = []
        for part in graduated_slices(spec.bounds, quantity):
            tier = spec.tiers[part.index]
            amount = part.units * tier.rate / HUNDRED + tier.flat_amount
            total += amount
            top = part.lower + part.units
            pieces = []
            if part.units or not tier.flat_amount:
                pieces.append(f"{fmt(tier.rate)}% × {fmt(part.units)}")
            if tier.flat_amount:
                pieces.append(f"flat {fmt(tier.flat_amount)}")
            units_text = describe_units(part.lower, top) if part.units else "no amount"
            breakdown.append(
                BreakdownEntry(
                    kind="tier",
                    amount=amount,
                    units=part.units,
                    tier_index=part.index,
                    from_units=part.lower,
                    to_units=top,
                    rate=tier.rate,
                    flat_amount=tier.flat_amount,
                    explanation=f"{units_text}: {' + '.join(pieces)} = {fmt(amount)}",
                )
            )
        return Priced(amount=total, breakdown=breakdown)
