"""Computing the taxes of an invoice's lines.

* A line's taxable amount is its amount **after discounts** (minor units).
* Exclusive price: tax = amount × rate / 100, on top of the amount.
* Inclusive price: the amount already holds the tax; tax = amount × rate /
  (100 + rate). With several rates on one inclusive line (GST + PST) the
  divisor is 100 + the sum of the line's rates, so the net is
  amount × 100 / (100 + Σ rates) and each rate takes its share of the net.
* Rounding, once per rate: for each rate (and inclusive flag), the invoice
  sums the **unrounded** line taxes (exact fractions) and rounds that sum
  once, half-up, to the minor unit. The rounded total is then apportioned back to the lines by
  largest remainder (``billing.money.apportion``), so the line tax amounts add
  up to the rate total exactly and each is its exact tax rounded up or down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction

from billing.errors import ValidationFailed
from billing.money import apportion, round_exact
from billing.tax.rates import TaxRate, default_rates

_PRECISION = Context(prec=50, rounding=ROUND_HALF_EVEN)
HUNDRED = Fraction(100)


@dataclass(frozen=True, slots=True)
class TaxableLine:
    id: str
    amount: int
    """Minor units, after discounts."""
    tax_rate_ids: tuple[str, ...] = ()
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class LineTax:
    line_id: str
    rate_id: str
    percentage: Decimal
    inclusive: bool
    taxable_amount: int
    """The line amount the tax was computed on (gross for an inclusive line)."""
    exact: Decimal
    """The unrounded tax, minor units."""
    amount: int
    """This line's share of the rate's rounded total."""
    legal_mention: str | None = None


@dataclass(frozen=True, slots=True)
class RateTotal:
    rate_id: str
    name: str
    percentage: Decimal
    inclusive: bool
    taxable_amount: int
    """Sum of the taxed line amounts."""
    exact: Decimal
    """Sum of the unrounded line taxes."""
    amount: int
    """``exact`` rounded once, half-up."""
    legal_mention: str | None = None


@dataclass(frozen=True, slots=True)
class TaxResult:
    lines: tuple[LineTax, ...]
    """Per line, then per rate in the line's order."""
    rates: tuple[RateTotal, ...]
    """Per (rate, inclusive), in order of first appearance."""
    exclusive_total: int
    """Tax added on top of the lines."""
    inclusive_total: int
    """Tax already inside inclusive line amounts."""

    def for_line(self, line_id: str) -> tuple[LineTax, ...]:
        return tuple(t for t in self.lines if t.line_id == line_id)


def _resolve(lines: Sequence[TaxableLine], table: Mapping[str, TaxRate]) -> list[list[TaxRate]]:
    resolved: list[list[TaxRate]] = []
    seen_ids: set[str] = set()
    for i, line in enumerate(lines):
        if not isinstance(line.id, str) or not line.id:
            raise ValidationFailed("a line needs an id", code="invalid_line_id", param=f"lines.{i}.id")
        if line.id in seen_ids:
            raise ValidationFailed(
                f"line id {line.id!r} is used twice", code="duplicate_line_id", param=f"lines.{i}.id"
            )
        seen_ids.add(line.id)
        if isinstance(line.amount, bool) or not isinstance(line.amount, int):
            raise ValidationFailed(
                "a line amount is an integer number of minor units",
                code="invalid_amount",
                param=f"lines.{i}.amount",
            )
        if not isinstance(line.inclusive, bool):
            raise ValidationFailed(
                "inclusive must be true or false", code="invalid_inclusive", param=f"lines.{i}.inclusive"
            )
        rates: list[TaxRate] = []
        for j, rate_id in enumerate(line.tax_rate_ids):
            param = f"lines.{i}.tax_rate_ids.{j}"
            rate = table.get(rate_id) if isinstance(rate_id, str) else None
            if rate is None:
                raise ValidationFailed(f"unknown tax rate {rate_id!r}", code="unknown_tax_rate", param=param)
            if any(r.id == rate.id for r in rates):
                raise ValidationFailed(
                    f"tax rate {rate_id!r} is given twice", code="duplicate_tax_rate", param=param
                )
            rates.append(rate)
        resolved.append(rates)
    return resolved


def _decimal(value: Fraction) -> Decimal:
    with localcontext(_PRECISION):
        return Decimal(value.numerator) / Decimal(value.denominator)


def compute_taxes(lines: Sequence[TaxableLine], *, rates: Mapping[str, TaxRate] | None = None) -> TaxResult:
    """The taxes of ``lines`` per line and per rate (rules in the module docstring).

    Computed with exact fractions: the rounding of a rate's sum never depends on how a
    non-terminating line tax (say 1/3 of a cent) was cut. ``exact`` fields show the value to
    50 significant digits.
    """
    table = default_rates() if rates is None else rates
    resolved = _resolve(lines, table)
    groups: dict[tuple[str, bool], list[tuple[int, TaxableLine, TaxRate, Fraction]]] = {}
    order: list[tuple[int, str]] = []
    for i, (line, line_rates) in enumerate(zip(lines, resolved, strict=True)):
        divisor = (
            HUNDRED + sum((Fraction(r.percentage) for r in line_rates), Fraction(0))
            if line.inclusive
            else HUNDRED
        )
        for rate in line_rates:
            exact = line.amount * Fraction(rate.percentage) / divisor
            groups.setdefault((rate.id, line.inclusive), []).append((i, line, rate, exact))
            order.append((i, rate.id))
    line_taxes: dict[tuple[int, str], LineTax] = {}
    totals: list[RateTotal] = []
    for (rate_id, inclusive), members in groups.items():
        rate = members[0][2]
        exact_sum = sum((m[3] for m in members), Fraction(0))
        rounded = round_exact(exact_sum)
        shares = apportion(rounded, [m[3] for m in members])
        for (i, line, _, exact), share in zip(members, shares, strict=True):
            line_taxes[(i, rate_id)] = LineTax(
                line_id=line.id,
                rate_id=rate_id,
                percentage=rate.percentage,
                inclusive=inclusive,
                taxable_amount=line.amount,
                exact=_decimal(exact),
                amount=share,
                legal_mention=rate.legal_mention,
            )
        totals.append(
            RateTotal(
                rate_id=rate_id,
                name=rate.name,
                percentage=rate.percentage,
                inclusive=inclusive,
                taxable_amount=sum(m[1].amount for m in members),
                exact=_decimal(exact_sum),
                amount=rounded,
                legal_mention=rate.legal_mention,
            )
        )
    return TaxResult(
        lines=tuple(line_taxes[key] for key in order),
        rates=tuple(totals),
        exclusive_total=sum(t.amount for t in totals if not t.inclusive),
        inclusive_total=sum(t.amount for t in totals if t.inclusive),
    )
