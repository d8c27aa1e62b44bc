"""The contract every charge model keeps, and the typed results of rating.

A charge model is one class in its own module, registered by name in
``billing.rating.registry``. It knows three things about its own fields:

* ``validate(raw)`` turns the charge JSON (a Mapping) into a frozen spec or
  raises ``ValidationFailed`` naming the field (``param``) with a stable code;
* ``normalize(spec)`` writes the spec back in canonical JSON form;
* ``price(spec, quantity=..., events=...)`` returns the amount in minor units
  (Decimal, **unrounded**) and a breakdown that explains it line by line.

Pricing is pure and deterministic: no I/O, no clock, no float. Rounding to an
integer number of minor units happens once, later, in ``billing.rating.engine``
with ``billing.money.round_minor``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from billing.rating._fields import fmt

ZERO = Decimal(0)
HUNDRED = Decimal(100)

JsonScalar = str | int | bool | None


@dataclass(frozen=True, slots=True)
class BreakdownEntry:
    """One line of the explanation of an amount. All amounts are unrounded Decimal minor units.

    ``kind`` says what the line is: ``units`` (standard), ``free`` (units or
    events given for free), ``package``, ``tier`` (graduated, volume and
    graduated_percentage), ``percentage``, ``fixed_fee``, ``transaction_minimum``
    / ``transaction_maximum`` (per-transaction clamps of a percentage charge) and
    ``minimum_shortfall`` (the period minimum, kept apart from the amount).

    ``tier_index`` is 0-based, the index into the charge's ``tiers`` array.
    ``from_units`` is the exclusive lower bound of the units this line prices
    and ``to_units`` the inclusive upper one; ``units`` is how many it prices.
    """

    kind: str
    amount: Decimal
    explanation: str
    units: Decimal = ZERO
    tier_index: int | None = None
    from_units: Decimal | None = None
    to_units: Decimal | None = None
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None
    rate: Decimal | None = None
    count: int | None = None

    def to_dict(self) -> dict[str, JsonScalar]:
        """JSON-friendly form: Decimals as canonical decimal strings."""

        def dec(value: Decimal | None) -> str | None:
            return None if value is None else fmt(value)

        return {
            "kind": self.kind,
            "tier_index": self.tier_index,
            "from_units": dec(self.from_units),
            "to_units": dec(self.to_units),
            "units": fmt(self.units),
            "count": self.count,
            "unit_amount": dec(self.unit_amount),
            "flat_amount": dec(self.flat_amount),
            "rate": dec(self.rate),
            "amount": fmt(self.amount),
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Priced:
    """What a charge model returns: the unrounded amount and the lines that add up to it."""

    amount: Decimal
    breakdown: list[BreakdownEntry]


@dataclass(frozen=True, slots=True)
class RatingResult:
    """The price of one charge for one period (or one group of a grouped charge).

    * ``amount``: Decimal minor units, unrounded; the sum of ``breakdown`` amounts.
    * ``amount_minor``: ``round_minor(amount)``, the one rounding of the line.
    * ``quantity``: the quantity priced, after ``transform_quantity``;
      ``input_quantity`` is the one given (or the sum of the events).
    * ``minimum_shortfall``: ``min_amount_per_period − amount`` when the amount is
      below the minimum (else 0), unrounded; it is **not** part of ``amount`` and
      is invoiced as its own line. ``minimum_shortfall_minor`` is computed on the
      rounded values, ``round_minor(minimum) − amount_minor`` (never below 0), so
      that the usage line and the shortfall line add up to the minimum exactly.
    """

    model: str
    quantity: Decimal
    input_quantity: Decimal
    amount: Decimal
    amount_minor: int
    breakdown: list[BreakdownEntry]
    minimum_shortfall: Decimal = ZERO
    minimum_shortfall_minor: int = 0
    minimum_shortfall_entry: BreakdownEntry | None = None

    @property
    def total_minor(self) -> int:
        """The usage line plus the shortfall line, in minor units."""
        return self.amount_minor + self.minimum_shortfall_minor

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "quantity": fmt(self.quantity),
            "input_quantity": fmt(self.input_quantity),
            "amount": fmt(self.amount),
            "amount_minor": self.amount_minor,
            "breakdown": [entry.to_dict() for entry in self.breakdown],
            "minimum_shortfall": fmt(self.minimum_shortfall),
            "minimum_shortfall_minor": self.minimum_shortfall_minor,
            "minimum_shortfall_entry": (
                None if self.minimum_shortfall_entry is None else self.minimum_shortfall_entry.to_dict()
            ),
        }


class ChargeModel[SpecT](ABC):
    """Base contract of a charge model. Subclasses are stateless singletons held by the registry."""

    name: ClassVar[str]
    """The value of the charge's ``model`` key."""

    fields: ClassVar[frozenset[str]]
    """Top-level keys this model reads (``model`` and the common options are added by the engine)."""

    uses_events: ClassVar[bool] = False
    """True when ``price`` reads the per-event values (percentage)."""

    @abstractmethod
    def validate(self, raw: Mapping[str, object]) -> SpecT:
        """Check the model's own fields of ``raw`` and return its frozen spec."""

    @abstractmethod
    def normalize(self, spec: SpecT) -> dict[str, object]:
        """The model's own fields in canonical JSON form (without ``model`` and the options)."""

    @abstractmethod
    def price(self, spec: SpecT, *, quantity: Decimal, events: Sequence[Decimal] | None) -> Priced:
        """Price ``quantity`` (after transform). ``events`` is given only when ``uses_events``."""

    def allows_negative(self, spec: SpecT) -> bool:
        """Whether a negative quantity (a credit) may be priced. Only ``standard`` may say yes."""
        return False

    def needs_events(self, spec: SpecT) -> bool:
        """Whether a non-zero quantity can only be priced with the per-event values."""
        return False


def describe_units(lower: Decimal, upper: Decimal) -> str:
    """Human text for the units in (lower, upper]: ``units 6–10``, ``unit 11``, ``units over 2.5 up to 4``."""
    if lower == lower.to_integral_value() and upper == upper.to_integral_value():
        first = lower + 1
        if first == upper:
            return f"unit {fmt(upper)}"
        return f"units {fmt(first)}–{fmt(upper)}"
    return f"units over {fmt(lower)} up to {fmt(upper)}"


def plural(count: int | Decimal, word: str) -> str:
    return f"{fmt(Decimal(count))} {word}" + ("" if count == 1 else "s")
