"""Tier arrays shared by ``graduated``, ``volume`` and ``graduated_percentage`` (private).

A tier array is a non-empty list of objects with ``up_to``: a positive number
or decimal string, strictly ascending, inclusive, and ``null`` on the last tier
and only there. Tier ``i`` covers the units in (``tiers[i-1].up_to``,
``tiers[i].up_to``]; the first tier starts at 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.errors import ValidationFailed
from billing.rating._fields import join, read_number, reject_unknown
from billing.rating.base import ZERO


@dataclass(frozen=True, slots=True)
class RawTier:
    index: int
    param: str
    """Dotted path of the tier (``tiers.1``)."""
    raw: Mapping[str, object]
    up_to: Decimal | None


def read_tiers(raw: Mapping[str, object], *, allowed: frozenset[str]) -> list[RawTier]:
    """Check the shape and bounds of ``raw["tiers"]``; prices are read by the model."""
    tiers = raw.get("tiers")
    if tiers is None:
        raise ValidationFailed("tiers is required", code="missing_field", param="tiers")
    if isinstance(tiers, str | bytes | Mapping) or not isinstance(tiers, Sequence) or not tiers:
        raise ValidationFailed("tiers must be a non-empty array", code="invalid_tiers", param="tiers")
    result: list[RawTier] = []
    previous: Decimal | None = None
    last = len(tiers) - 1
    for index, tier in enumerate(tiers):
        param = join("tiers", index)
        if not isinstance(tier, Mapping):
            raise ValidationFailed(f"{param} must be an object", code="invalid_tier", param=param)
        reject_unknown(tier, allowed, param)
        up_to_param = join(param, "up_to")
        if "up_to" not in tier:
            raise ValidationFailed(
                f"{up_to_param} is required (null on the last tier)", code="missing_field", param=up_to_param
            )
        up_to = read_number(tier, "up_to", param)
        if up_to is None:
            if index != last:
                raise ValidationFailed(
                    f"only the last tier may be unbounded; {up_to_param} is null",
                    code="unbounded_tier_not_last",
                    param=up_to_param,
                )
        else:
            if index == last:
                raise ValidationFailed(
                    f"the last tier must be unbounded: {up_to_param} must be null",
                    code="last_tier_must_be_unbounded",
                    param=up_to_param,
                )
            if up_to <= 0:
                raise ValidationFailed(
                    f"{up_to_param} must be positive", code="invalid_up_to", param=up_to_param
                )
            if previous is not None and up_to <= previous:
                raise ValidationFailed(
                    f"tiers must be in ascending order without overlap: {up_to_param} must exceed the "
                    "previous tier's up_to",
                    code="tiers_not_ascending",
                    param=up_to_param,
                )
            previous = up_to
        result.append(RawTier(index=index, param=param, raw=tier, up_to=up_to))
    return result


@dataclass(frozen=True, slots=True)
class Slice:
    """The part of a quantity that falls in one tier: units in (lower, upper_covered]."""

    index: int
    lower: Decimal
    upper: Decimal | None
    units: Decimal


def graduated_slices(bounds: Sequence[Decimal | None], quantity: Decimal) -> Iterator[Slice]:
    """Walk the tiers a quantity reaches: the first always, tier i when quantity > its lower bound."""
    lower = ZERO
    for index, upper in enumerate(bounds):
        if index > 0 and quantity <= lower:
            return
        top = quantity if upper is None else min(quantity, upper)
        yield Slice(index=index, lower=lower, upper=upper, units=max(top - lower, ZERO))
        if upper is None:
            return
        lower = upper


def volume_index(bounds: Sequence[Decimal | None], quantity: Decimal) -> int:
    """The one tier the whole quantity falls in (zero falls in the first)."""
    for index, upper in enumerate(bounds):
        if upper is None or quantity <= upper:
            return index
    raise AssertionError("validated tiers end with an unbounded tier")  # pragma: no cover
