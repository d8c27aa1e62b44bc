"""Discounts: coupons, how they stack, and how an invoice's discount reaches its lines.

A coupon takes either ``percent_off`` (a decimal string, 0 < x ≤ 100) or a
fixed amount in minor units: ``amount_off`` with its ``currency``, or one
amount per currency (``amounts_off: {"usd": 500, "eur": 450}``). Its
``duration`` is ``once`` (one invoice), ``repeating`` (``duration_in_periods``
invoices) or ``forever``; ``applies_to: {plans: [...], metrics: [...]}``
restricts it to the lines of those plans or metrics.

How coupons apply to one invoice (``apply_discounts``):

1. Scoped coupons first, then unscoped ones, each group in the given order.
2. Each coupon applies to **what is left** of its lines after the coupons
   before it: 15 % then 20 % takes 32 %, not 35 % (10 000 → 8 500 → 6 800).
3. A percentage is rounded once, half-up, to the minor unit; the coupon's
   amount is then allocated to its lines pro rata to what is left of each
   positive line (``billing.money.allocate``: exact, largest remainder), so
   taxes can follow the discounted line amounts.
4. Never below zero: a coupon takes at most what is left of its lines, and at
   most what is left of the whole invoice, so the discounted subtotal of an
   invoice is never negative (and a negative one gets no discount).
5. Carry-over: a fixed amount grants ``amount_off`` on every invoice its
   duration covers; what an invoice does not use carries to the next invoice
   if the duration still covers it (``repeating``: until the N periods end;
   ``forever``: always; ``once``: never), and is forfeited otherwise. The
   result says, per coupon, the amount used, carried and forfeited, and the
   new ``periods_applied``.

Each call to ``apply_discounts`` is one period of the coupons' durations: call
it once per period invoice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from billing.errors import BillingError, CurrencyMismatch, ValidationFailed
from billing.money import allocate, normalize_currency, round_exact, to_decimal

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
COUPON_FIELDS = frozenset(
    {
        "id",
        "percent_off",
        "amount_off",
        "currency",
        "amounts_off",
        "duration",
        "duration_in_periods",
        "applies_to",
    }
)


class Duration(StrEnum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


def _join(prefix: str, name: str | int) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _positive_int(value: object, *, param: str, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{param} must be an integer", code="invalid_amount", param=param)
    if value <= 0:
        raise ValidationFailed(f"{param} must be greater than zero", code=code, param=param)
    return value


def _codes(value: object, *, param: str) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | frozenset | set):
        raise ValidationFailed(f"{param} must be a list of codes", code="invalid_applies_to", param=param)
    codes: set[str] = set()
    for i, code in enumerate(value):
        if not isinstance(code, str) or not code:
            raise ValidationFailed(
                f"{param} must contain non-empty strings", code="invalid_applies_to", param=_join(param, i)
            )
        codes.add(code)
    return frozenset(codes)


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """The plans and metrics a coupon is restricted to (a line matches either)."""

    plans: frozenset[str] = frozenset()
    metrics: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "plans", _codes(self.plans, param="plans"))
        object.__setattr__(self, "metrics", _codes(self.metrics, param="metrics"))
        if not self.plans and not self.metrics:
            raise ValidationFailed(
                "applies_to must name at least one plan or metric",
                code="invalid_applies_to",
                param="applies_to",
            )

    def matches(self, line: DiscountLine) -> bool:
        return (line.plan_code is not None and line.plan_code in self.plans) or (
            line.metric_code is not None and line.metric_code in self.metrics
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Coupon:
    """A validated coupon definition. Construct it directly or with ``parse_coupon``."""

    id: str
    duration: Duration
    duration_in_periods: int | None = None
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    amounts_off: Mapping[str, int] | None = None
    applies_to: AppliesTo | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValidationFailed("id must be a non-empty identifier", code="invalid_coupon_id", param="id")
        given = [
            name
            for name, value in (
                ("percent_off", self.percent_off),
                ("amount_off", self.amount_off),
                ("amounts_off", self.amounts_off),
            )
            if value is not None
        ]
        if not given:
            raise ValidationFailed(
                "a coupon needs percent_off, amount_off or amounts_off",
                code="discount_value_required",
                param="percent_off",
            )
        if len(given) > 1:
            raise ValidationFailed(
                f"give only one of {', '.join(given)}", code="discount_value_conflict", param=given[1]
            )
        if self.percent_off is not None:
            percent = to_decimal(self.percent_off, param="percent_off")
            if not Decimal(0) < percent <= Decimal(100):
                raise ValidationFailed(
                    "percent_off must be greater than 0 and at most 100",
                    code="percent_off_out_of_range",
                    param="percent_off",
                )
            object.__setattr__(self, "percent_off", percent)
            if self.currency is not None:
                raise ValidationFailed(
                    "currency only goes with amount_off", code="currency_not_allowed", param="currency"
                )
        if self.amount_off is not None:
            _positive_int(self.amount_off, param="amount_off", code="amount_off_out_of_range")
            if self.currency is None:
                raise ValidationFailed(
                    "amount_off needs a currency", code="amount_off_currency_required", param="currency"
                )
            object.__setattr__(self, "currency", normalize_currency(self.currency))
        if self.amounts_off is not None:
            if self.currency is not None:
                raise ValidationFailed(
                    "amounts_off names its currencies; currency is not allowed with it",
                    code="currency_not_allowed",
                    param="currency",
                )
            object.__setattr__(self, "amounts_off", _amounts_off(self.amounts_off))
        try:
            duration = Duration(self.duration)
        except ValueError:
            raise ValidationFailed(
                "duration must be once, repeating or forever", code="invalid_duration", param="duration"
            ) from None
        object.__setattr__(self, "duration", duration)
        if duration is Duration.REPEATING:
            if self.duration_in_periods is None:
                raise ValidationFailed(
                    "a repeating coupon needs duration_in_periods",
                    code="duration_in_periods_required",
                    param="duration_in_periods",
                )
            _positive_int(
                self.duration_in_periods, param="duration_in_periods", code="invalid_duration_in_periods"
            )
        elif self.duration_in_periods is not None:
            raise ValidationFailed(
                "duration_in_periods only goes with duration repeating",
                code="duration_in_periods_not_allowed",
                param="duration_in_periods",
            )
        if self.applies_to is not None and not isinstance(self.applies_to, AppliesTo):
            raise ValidationFailed(
                "applies_to must be AppliesTo", code="invalid_applies_to", param="applies_to"
            )

    @property
    def scoped(self) -> bool:
        return self.applies_to is not None

    @property
    def period_limit(self) -> int | None:
        """How many invoices the coupon covers (None: forever)."""
        if self.duration is Duration.ONCE:
            return 1
        if self.duration is Duration.REPEATING:
            return self.duration_in_periods
        return None

    def covers(self, periods_applied: int) -> bool:
        """Whether the invoice after ``periods_applied`` earlier ones is within the duration."""
        limit = self.period_limit
        return limit is None or periods_applied < limit

    def amount_off_in(self, currency: str) -> int | None:
        """The fixed amount granted per invoice in ``currency`` (None for a percentage coupon)."""
        if self.amount_off is not None:
            if self.currency != currency:
                raise CurrencyMismatch(
                    f"coupon {self.id} is in {self.currency}, the invoice in {currency}",
                    code="currency_mismatch",
                    param="currency",
                )
            return self.amount_off
        if self.amounts_off is not None:
            if currency not in self.amounts_off:
                raise CurrencyMismatch(
                    f"coupon {self.id} has no amount in {currency}",
                    code="currency_mismatch",
                    param="amounts_off",
                )
            return self.amounts_off[currency]
        return None


def _amounts_off(value: object) -> dict[str, int]:
    if not isinstance(value, Mapping) or not value:
        raise ValidationFailed(
            "amounts_off must map currency codes to amounts", code="invalid_amounts_off", param="amounts_off"
        )
    amounts: dict[str, int] = {}
    for code, amount in value.items():
        param = _join("amounts_off", str(code))
        currency = normalize_currency(code, param=param)
        if currency in amounts:
            raise ValidationFailed(f"{currency} is given twice", code="duplicate_currency", param=param)
        amounts[currency] = _positive_int(amount, param=param, code="amount_off_out_of_range")
    return amounts


def _rebase(error: BillingError, prefix: str) -> BillingError:
    error.param = _join(prefix, error.param) if error.param else prefix or None
    return error


def parse_applies_to(raw: object, *, param: str = "applies_to") -> AppliesTo:
    if not isinstance(raw, Mapping):
        raise ValidationFailed(f"{param} must be an object", code="invalid_applies_to", param=param)
    for key in raw:
        if key not in ("plans", "metrics"):
            raise ValidationFailed(
                f"unknown field {key!r}", code="unknown_field", param=_join(param, str(key))
            )
    plans, metrics = raw.get("plans"), raw.get("metrics")
    try:
        return AppliesTo(
            plans=frozenset() if plans is None else plans,  # validated by AppliesTo
            metrics=frozenset() if metrics is None else metrics,
        )
    except ValidationFailed as error:
        if error.param == "applies_to":
            error.param = param
            raise
        raise _rebase(error, param) from None


def parse_coupon(raw: Mapping[str, object], *, param: str = "") -> Coupon:
    """A coupon from its API shape; every error names the field (``coupons.0.percent_off``)."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed("a coupon must be an object", code="invalid_coupon", param=param or None)
    for key in raw:
        if key not in COUPON_FIELDS:
            raise ValidationFailed(
                f"unknown field {key!r}", code="unknown_field", param=_join(param, str(key))
            )
    applies_to_raw = raw.get("applies_to")
    applies_to = (
        None if applies_to_raw is None else parse_applies_to(applies_to_raw, param=_join(param, "applies_to"))
    )
    try:
        return Coupon(
            id=raw.get("id"),  # type: ignore[arg-type]  # validated by Coupon
            duration=raw.get("duration"),  # type: ignore[arg-type]
            duration_in_periods=raw.get("duration_in_periods"),  # type: ignore[arg-type]
            percent_off=raw.get("percent_off"),  # type: ignore[arg-type]
            amount_off=raw.get("amount_off"),  # type: ignore[arg-type]
            currency=raw.get("currency"),  # type: ignore[arg-type]
            amounts_off=raw.get("amounts_off"),  # type: ignore[arg-type]
            applies_to=applies_to,
        )
    except ValidationFailed as error:
        raise _rebase(error, param) from None


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True, slots=True)
class DiscountLine:
    """What discounts need of an invoice line: its rounded amount and what it is for."""

    id: str
    amount: int
    plan_code: str | None = None
    metric_code: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedCoupon:
    """A coupon attached to a customer or subscription, with its history."""

    coupon: Coupon
    periods_applied: int = 0
    """Invoices the coupon has already covered."""
    carry_over: int = 0
    """Unused fixed amount carried from earlier invoices (minor units of the invoice currency)."""


@dataclass(frozen=True, slots=True)
class CouponResult:
    """What one coupon did on one invoice, and its state for the next one."""

    coupon_id: str
    active: bool
    """Whether the coupon's duration covered this invoice."""
    base: int
    """What was left of its lines (and of the invoice) when it applied."""
    amount: int
    """The discount it gave."""
    lines: dict[str, int] = field(default_factory=dict)
    """Its amount per line id (only lines that got some)."""
    granted: int = 0
    """Fixed amount granted for this invoice (0 for a percentage)."""
    carried_in: int = 0
    carry_over: int = 0
    """Unused fixed amount carried to the next invoice."""
    forfeited: int = 0
    """Unused fixed amount lost because the duration ends."""
    periods_applied: int = 0
    """``periods_applied`` to store for the next invoice."""
    exhausted: bool = False
    """The duration is over: the coupon will not apply again."""


@dataclass(frozen=True, slots=True)
class DiscountResult:
    total: int
    lines: dict[str, int]
    """Discount per line id (every line, 0 when none)."""
    coupons: list[CouponResult]
    """In the order the coupons applied (scoped first)."""


def _check_lines(lines: Sequence[DiscountLine]) -> None:
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not isinstance(line.id, str) or not line.id:
            raise ValidationFailed("a line needs an id", code="invalid_line_id", param=f"lines.{i}.id")
        if line.id in seen:
            raise ValidationFailed(
                f"line id {line.id!r} is used twice", code="duplicate_line_id", param=f"lines.{i}.id"
            )
        seen.add(line.id)
        if isinstance(line.amount, bool) or not isinstance(line.amount, int):
            raise ValidationFailed(
                "a line amount is an integer number of minor units",
                code="invalid_amount",
                param=f"lines.{i}.amount",
            )


def _check_coupons(coupons: Sequence[AppliedCoupon]) -> None:
    seen: set[str] = set()
    for i, applied in enumerate(coupons):
        param = f"coupons.{i}"
        if not isinstance(applied.coupon, Coupon):
            raise ValidationFailed("coupon must be a Coupon", code="invalid_coupon", param=f"{param}.coupon")
        if applied.coupon.id in seen:
            raise ValidationFailed(
                f"coupon {applied.coupon.id!r} is applied twice",
                code="duplicate_coupon",
                param=f"{param}.coupon.id",
            )
        seen.add(applied.coupon.id)
        for name in ("periods_applied", "carry_over"):
            value = getattr(applied, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationFailed(
                    f"{name} must be an integer of at least 0",
                    code=f"invalid_{name}",
                    param=f"{param}.{name}",
                )
        if applied.carry_over and applied.coupon.percent_off is not None:
            raise ValidationFailed(
                "a percentage coupon carries nothing over",
                code="invalid_carry_over",
                param=f"{param}.carry_over",
            )


def apply_discounts(
    lines: Sequence[DiscountLine], coupons: Sequence[AppliedCoupon], *, currency: str
) -> DiscountResult:
    """Apply ``coupons`` to one invoice's ``lines``. See the module docstring for the rules."""
    code = normalize_currency(currency)
    _check_lines(lines)
    _check_coupons(coupons)
    left = {line.id: line.amount for line in lines}
    per_line = dict.fromkeys(left, 0)
    ordered = [c for c in coupons if c.coupon.scoped] + [c for c in coupons if not c.coupon.scoped]
    results: list[CouponResult] = []
    for applied in ordered:
        coupon = applied.coupon
        if not coupon.covers(applied.periods_applied):
            results.append(
                CouponResult(
                    coupon_id=coupon.id,
                    active=False,
                    base=0,
                    amount=0,
                    carried_in=applied.carry_over,
                    forfeited=applied.carry_over,
                    periods_applied=applied.periods_applied,
                    exhausted=True,
                )
            )
            continue
        scope = coupon.applies_to
        eligible = [line.id for line in lines if scope is None or scope.matches(line)]
        base = max(0, min(sum(left[i] for i in eligible), sum(left.values())))
        granted = coupon.amount_off_in(code)
        periods_after = applied.periods_applied + 1
        exhausted = not coupon.covers(periods_after)
        carry_over = forfeited = 0
        if granted is None:
            assert coupon.percent_off is not None
            amount = min(base, round_exact(base * Fraction(coupon.percent_off) / 100))
        else:
            available = applied.carry_over + granted
            amount = min(available, base)
            unused = available - amount
            carry_over, forfeited = (0, unused) if exhausted else (unused, 0)
        shares: dict[str, int] = {}
        if amount:
            weights = [max(0, left[i]) for i in eligible]
            for line_id, share in zip(eligible, allocate(amount, weights), strict=True):
                if share:
                    shares[line_id] = share
                    left[line_id] -= share
                    per_line[line_id] += share
        results.append(
            CouponResult(
                coupon_id=coupon.id,
                active=True,
                base=base,
                amount=amount,
                lines=shares,
                granted=granted or 0,
                carried_in=applied.carry_over,
                carry_over=carry_over,
                forfeited=forfeited,
                periods_applied=periods_after,
                exhausted=exhausted,
            )
        )
    return DiscountResult(total=sum(per_line.values()), lines=per_line, coupons=results)
