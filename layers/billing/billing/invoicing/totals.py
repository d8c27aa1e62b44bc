"""Invoice totals: one function, one fixed order.

``compute_totals`` takes an invoice's priced lines and computes, always in
this order:

1. **lines** – each line's amount was rounded once (half-up) when it was
   priced; ``subtotal`` = Σ rounded line amounts.
2. **discounts** – coupons on what is left (``billing.discounts``), allocated
   to the lines exactly; ``discount`` = Σ coupon amounts.
3. **tax** – per line on (amount − discount); per rate the unrounded line taxes
   are summed and rounded once, then apportioned back to the lines
   (``billing.tax``).
4. **total** = subtotal − discount + exclusive tax (inclusive tax is already
   inside the line amounts).
5. **credits** – the customer's credit balance pays what it can:
   ``credit_applied`` = min(balance, total) when the total is positive. A
   negative total (credits from proration exceeding charges) is owed to the
   customer: it becomes ``credit_created`` and nothing is applied.
6. **amount due** = total − credit applied, never negative.
   ``credit_remaining`` = balance − applied + created.

Every output number is an int in minor units of the invoice's single currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from billing.discounts import AppliedCoupon, CouponResult, DiscountLine, DiscountResult, apply_discounts
from billing.errors import CurrencyMismatch, ValidationFailed
from billing.money import normalize_currency, round_minor, to_decimal
from billing.tax.calculate import LineTax, RateTotal, TaxableLine, compute_taxes
from billing.tax.rates import TaxRate


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedLine:
    """A rated invoice line: its unrounded amount and that amount rounded once."""

    id: str
    description: str
    currency: str
    quantity: Decimal
    amount: Decimal
    """Unrounded, minor units."""
    amount_minor: int
    """``round_minor(amount)``: checked, so rounding happens once and only here."""
    tax_rate_ids: tuple[str, ...] = ()
    tax_inclusive: bool = False
    plan_code: str | None = None
    metric_code: str | None = None

    @classmethod
    def priced(
        cls,
        *,
        id: str,  # the line's id, as in the API
        description: str,
        currency: str,
        quantity: Decimal | int | str,
        amount: Decimal | int | str,
        tax_rate_ids: Sequence[str] = (),
        tax_inclusive: bool = False,
        plan_code: str | None = None,
        metric_code: str | None = None,
    ) -> PricedLine:
        """A line from its unrounded amount; the rounded amount is computed here, once."""
        exact = to_decimal(amount, param="amount")
        return cls(
            id=id,
            description=description,
            currency=currency,
            quantity=to_decimal(quantity, param="quantity"),
            amount=exact,
            amount_minor=round_minor(exact),
            tax_rate_ids=tuple(tax_rate_ids),
            tax_inclusive=tax_inclusive,
            plan_code=plan_code,
            metric_code=metric_code,
        )


@dataclass(frozen=True, slots=True)
class LineTotal:
    id: str
    description: str
    quantity: Decimal
    amount_exact: Decimal
    amount: int
    discount: int
    taxable_amount: int
    """amount − discount."""
    taxes: tuple[LineTax, ...]
    tax_exclusive: int
    tax_inclusive: int
    total: int
    """taxable_amount + tax_exclusive."""
    legal_mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    currency: str
    lines: tuple[LineTotal, ...]
    subtotal: int
    discount: int
    coupons: tuple[CouponResult, ...]
    taxes: tuple[RateTotal, ...]
    tax_exclusive: int
    tax_inclusive: int
    total: int
    credit_balance: int
    credit_applied: int
    credit_created: int
    credit_remaining: int
    amount_due: int
    legal_mentions: tuple[str, ...] = field(default=())


def _check_lines(lines: Sequence[PricedLine], currency: str) -> None:
    seen: set[str] = set()
    for i, line in enumerate(lines):
        at = f"lines.{i}"
        if not isinstance(line, PricedLine):
            raise ValidationFailed("a line must be a PricedLine", code="invalid_line", param=at)
        if not isinstance(line.id, str) or not line.id:
            raise ValidationFailed("a line needs an id", code="invalid_line_id", param=f"{at}.id")
        if line.id in seen:
            raise ValidationFailed(
                f"line id {line.id!r} is used twice", code="duplicate_line_id", param=f"{at}.id"
            )
        seen.add(line.id)
        if normalize_currency(line.currency, param=f"{at}.currency") != currency:
            raise CurrencyMismatch(
                f"line {line.id!r} is in {line.currency.lower()}, the invoice in {currency}",
                code="currency_mismatch",
                param=f"{at}.currency",
            )
        exact = to_decimal(line.amount, param=f"{at}.amount")
        if isinstance(line.amount_minor, bool) or not isinstance(line.amount_minor, int):
            raise ValidationFailed(
                "amount_minor must be an integer", code="invalid_amount", param=f"{at}.amount_minor"
            )
        if line.amount_minor != round_minor(exact):
            raise ValidationFailed(
                f"amount_minor {line.amount_minor} is not {exact} rounded half-up",
                code="line_amount_mismatch",
                param=f"{at}.amount_minor",
            )
        to_decimal(line.quantity, param=f"{at}.quantity")


def _check_credit(credit_balance: object) -> int:
    if isinstance(credit_balance, bool) or not isinstance(credit_balance, int) or credit_balance < 0:
        raise ValidationFailed(
            "credit_balance must be an integer of at least 0",
            code="invalid_credit_balance",
            param="credit_balance",
        )
    return credit_balance


def _fixed(lines: Sequence[PricedLine], fixed: Mapping[str, int]) -> DiscountResult:
    per_line = {line.id: int(fixed.get(line.id, 0)) for line in lines}
    unknown = set(fixed) - set(per_line)
    if unknown:
        raise ValidationFailed(f"discounts for unknown lines {sorted(unknown)}", code="invalid_discount")
    for line in lines:
        if not 0 <= per_line[line.id] <= max(line.amount_minor, 0):
            raise ValidationFailed(
                f"line {line.id}: a discount must be between 0 and the line's amount",
                code="invalid_discount",
            )
    return DiscountResult(total=sum(per_line.values()), lines=per_line, coupons=[])


def compute_totals(
    *,
    currency: str,
    lines: Sequence[PricedLine],
    coupons: Sequence[AppliedCoupon] = (),
    credit_balance: int = 0,
    tax_rates: Mapping[str, TaxRate] | None = None,
    fixed_discounts: Mapping[str, int] | None = None,
) -> InvoiceTotals:
    """The invoice's numbers, in the one order: lines → discounts → tax → credits → amount due.

    ``fixed_discounts`` (line id → discount, instead of ``coupons``) re-totals lines whose coupons
    were applied already, e.g. a draft priced again with the customer's tax now known: the coupons'
    state moved on when the draft was made, so they are not applied twice."""
    code = normalize_currency(currency)
    _check_lines(lines, code)
    balance = _check_credit(credit_balance)

    # 1. lines
    subtotal = sum(line.amount_minor for line in lines)

    # 2. discounts
    if fixed_discounts is not None:
        if coupons:
            raise ValueError("coupons and fixed_discounts are exclusive")
        discounts = _fixed(lines, fixed_discounts)
    else:
        discounts = apply_discounts(
            [DiscountLine(line.id, line.amount_minor, line.plan_code, line.metric_code) for line in lines],
            coupons,
            currency=code,
        )

    # 3. tax, on the amounts after discounts
    taxable = [
        TaxableLine(
            line.id,
            line.amount_minor - discounts.lines[line.id],
            tuple(line.tax_rate_ids),
            line.tax_inclusive,
        )
        for line in lines
    ]
    taxes = compute_taxes(taxable, rates=tax_rates)

    # 4. total
    total = subtotal - discounts.total + taxes.exclusive_total

    # 5. credits
    credit_applied = min(balance, total) if total > 0 else 0
    credit_created = -total if total < 0 else 0

    # 6. amount due
    amount_due = total - credit_applied if total > 0 else 0

    line_totals: list[LineTotal] = []
    mentions: list[str] = []
    for line, taxed in zip(lines, taxable, strict=True):
        line_taxes = taxes.for_line(line.id)
        exclusive = sum(t.amount for t in line_taxes if not t.inclusive)
        line_mentions = tuple(dict.fromkeys(t.legal_mention for t in line_taxes if t.legal_mention))
        mentions.extend(line_mentions)
        line_totals.append(
            LineTotal(
                id=line.id,
                description=line.description,
                quantity=line.quantity,
                amount_exact=line.amount,
                amount=line.amount_minor,
                discount=discounts.lines[line.id],
                taxable_amount=taxed.amount,
                taxes=line_taxes,
                tax_exclusive=exclusive,
                tax_inclusive=sum(t.amount for t in line_taxes if t.inclusive),
                total=taxed.amount + exclusive,
                legal_mentions=line_mentions,
            )
        )
    return InvoiceTotals(
        currency=code,
        lines=tuple(line_totals),
        subtotal=subtotal,
        discount=discounts.total,
        coupons=tuple(discounts.coupons),
        taxes=taxes.rates,
        tax_exclusive=taxes.exclusive_total,
        tax_inclusive=taxes.inclusive_total,
        total=total,
        credit_balance=balance,
        credit_applied=credit_applied,
        credit_created=credit_created,
        credit_remaining=balance - credit_applied + credit_created,
        amount_due=amount_due,
        legal_mentions=tuple(dict.fromkeys(mentions)),
    )
