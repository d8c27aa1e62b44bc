"""``volume``: the whole quantity at the price of the one tier it falls into.

Same ``tiers`` as ``graduated``. The quantity falls into the first tier whose
``up_to`` is at least the quantity (zero falls into the first tier); every unit
is priced at that tier's ``unit_amount`` and that tier's ``flat_amount`` is added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from billing.rating._fields import fmt
from billing.rating._tiers import volume_index
from billing.rating.base import ZERO, BreakdownEntry, ChargeModel, Priced
from billing.rating.graduated import TieredSpec, normalize_price_tiers, read_price_tiers, tier_text


class VolumeModel(ChargeModel[TieredSpec]):
    name = "volume"
    fields = frozenset({"tiers"})

    def validate(self, raw: Mapping[str, object]) -> TieredSpec:
        return read_price_tiers(raw)

    def normalize(self, spec: TieredSpec) -> dict[str, object]:
        return normalize_price_tiers(spec)

    def price(self, spec: TieredSpec, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        index = volume_index(spec.bounds, quantity)
        tier = spec.tiers[index]
        lower = ZERO if index == 0 else spec.tiers[index - 1].up_to
        assert lower is not None
        amount = quantity * tier.unit_amount + tier.flat_amount
        if tier.up_to is None:
            range_text = f"over {fmt(lower)}"
        elif index == 0:
            range_text = f"up to {fmt(tier.up_to)}"
        else:
            range_text = f"over {fmt(lower)} up to {fmt(tier.up_to)}"
        units_text = f"all {fmt(quantity)} units in the tier for quantities {range_text}"
        entry = BreakdownEntry(
            kind="tier",
            amount=amount,
            units=quantity,
            tier_index=index,
            from_units=ZERO,
            to_units=quantity,
            unit_amount=tier.unit_amount,
            flat_amount=tier.flat_amount,
            explanation=tier_text(units_text, quantity, tier.unit_amount, tier.flat_amount, amount),
        )
        return Priced(amount=amount, breakdown=[entry])
