"""Proration: charging or crediting part of a billing period, by whole days.

The rule: a period is counted in whole **local days** of the customer's time
zone, and both ends of a part are counted. A period's days are the local dates
from its start date up to (not including) its end date: March 1 → April 1 has
31 days. A change at any time on a day belongs to the *new* state for that
whole day: a change on March 20 leaves 12 of 31 days (March 20..31 inclusive)
to the new state, and the old state used 19 (March 1..19).

Amounts are in minor units, Decimal and **unrounded**
(``full × days / days_in_period``): they are rounded once, later, by the line
that carries them (``billing.money.round_minor``). Each result carries its
explanation (days, days in the period, the exact fraction), so an invoice can
print "12 of 31 days".

A plan paid in advance turns the unused part into a **credit** (a negative
amount); a plan billed in arrears charges the used part instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from billing.errors import ValidationFailed
from billing.money import round_minor, to_decimal
from billing.periods import Period, require_aware, zone

_PRECISION = Context(prec=50, rounding=ROUND_HALF_EVEN)
"""50 significant digits for the one division: far below a minor unit for any real amount."""


class ProrationReason(StrEnum):
    START = "start"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    QUANTITY_CHANGE = "quantity_change"
    CHANGE = "change"
    CANCELLATION = "cancellation"


class ProrationKind(StrEnum):
    CHARGE = "charge"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class ProrationLine:
    """One prorated amount and how it was reached."""

    kind: ProrationKind
    reason: ProrationReason
    full_amount: Decimal
    """The price of the whole period, minor units."""
    days: int
    days_in_period: int
    first_day: date
    """First local day of the part (inclusive)."""
    last_day: date
    """Last local day of the part (inclusive); the day before ``first_day`` when ``days`` is 0."""
    amount: Decimal
    """``±full_amount × days / days_in_period``, minor units, unrounded; negative for a credit."""

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.days, self.days_in_period)

    @property
    def amount_minor(self) -> int:
        """The amount rounded once, half-up, to the minor unit."""
        return round_minor(self.amount)

    @property
    def explanation(self) -> str:
        """``"12 of 31 days"``."""
        return f"{self.days} of {self.days_in_period} days"


@dataclass(frozen=True, slots=True)
class DaySplit:
    """A period cut at a day: ``used`` days before it, ``remaining`` days from it (inclusive)."""

    days_in_period: int
    used: int
    remaining: int
    period_first_day: date
    change_day: date
    period_last_day: date


def days_in_period(period: Period, *, time_zone: str) -> int:
    """Local days of ``period``: its local end date minus its local start date."""
    tz = zone(time_zone)
    days = (period.end.astimezone(tz).date() - period.start.astimezone(tz).date()).days
    if days < 1:
        raise ValidationFailed("the period is shorter than one day", code="invalid_period", param="period")
    return days


def split_period(period: Period, change_at: datetime, *, time_zone: str) -> DaySplit:
    """Where ``change_at`` (inside ``period``) cuts it, in whole local days."""
    tz = zone(time_zone)
    moment = require_aware(change_at, param="change_at")
    if moment not in period:
        raise ValidationFailed(
            "the change is not inside the billing period", code="change_outside_period", param="change_at"
        )
    first = period.start.astimezone(tz).date()
    end = period.end.astimezone(tz).date()
    total = days_in_period(period, time_zone=time_zone)
    change_day = min(moment.astimezone(tz).date(), end)
    used = (change_day - first).days
    return DaySplit(
        days_in_period=total,
        used=used,
        remaining=total - used,
        period_first_day=first,
        change_day=change_day,
        period_last_day=end - timedelta(days=1),
    )


def _full_amount(value: Decimal | int | str, param: str) -> Decimal:
    amount = to_decimal(value, param=param)
    if amount < 0:
        raise ValidationFailed(f"{param} must not be negative", code="negative_amount", param=param)
    return amount


def _line(
    *,
    kind: ProrationKind,
    reason: ProrationReason,
    full: Decimal,
    days: int,
    total: int,
    first_day: date,
) -> ProrationLine:
    with localcontext(_PRECISION):
        amount = full * days / total
    if kind is ProrationKind.CREDIT:
        amount = -amount
    return ProrationLine(
        kind=kind,
        reason=reason,
        full_amount=full,
        days=days,
        days_in_period=total,
        first_day=first_day,
        last_day=first_day + timedelta(days=days - 1),
        amount=amount,
    )


def prorate_remaining(
    full_amount: Decimal | int | str,
    period: Period,
    change_at: datetime,
    *,
    time_zone: str,
    kind: ProrationKind = ProrationKind.CHARGE,
    reason: ProrationReason = ProrationReason.CHANGE,
) -> ProrationLine:
    """The part of ``full_amount`` for the days from ``change_at``'s day to the period's end."""
    full = _full_amount(full_amount, "full_amount")
    cut = split_period(period, change_at, time_zone=time_zone)
    return _line(
        kind=kind,
        reason=reason,
        full=full,
        days=cut.remaining,
        total=cut.days_in_period,
        first_day=cut.change_day,
    )


def prorate_used(
    full_amount: Decimal | int | str,
    period: Period,
    change_at: datetime,
    *,
    time_zone: str,
    kind: ProrationKind = ProrationKind.CHARGE,
    reason: ProrationReason = ProrationReason.CHANGE,
) -> ProrationLine:
    """The part of ``full_amount`` for the days from the period's start to the day before ``change_at``."""
    full = _full_amount(full_amount, "full_amount")
    cut = split_period(period, change_at, time_zone=time_zone)
    return _line(
        kind=kind,
        reason=reason,
        full=full,
        days=cut.used,
        total=cut.days_in_period,
        first_day=cut.period_first_day,
    )


def prorate_start(
    full_amount: Decimal | int | str, period: Period, start_at: datetime, *, time_zone: str
) -> ProrationLine:
    """A subscription starting inside ``period`` (the full period of its cycle) pays the remaining days."""
    return prorate_remaining(full_amount, period, start_at, time_zone=time_zone, reason=ProrationReason.START)


def prorate_cancellation(
    full_amount: Decimal | int | str,
    period: Period,
    cancel_at: datetime,
    *,
    time_zone: str,
    paid_in_advance: bool = True,
) -> ProrationLine:
    """Cancelling inside ``period``: paid in advance → a credit for the unused days (from the
    cancellation day on); billed in arrears → a charge for the days used before it."""
    if paid_in_advance:
        return prorate_remaining(
            full_amount,
            period,
            cancel_at,
            time_zone=time_zone,
            kind=ProrationKind.CREDIT,
            reason=ProrationReason.CANCELLATION,
        )
    return prorate_used(
        full_amount, period, cancel_at, time_zone=time_zone, reason=ProrationReason.CANCELLATION
    )


def prorate_change(
    old_amount: Decimal | int | str,
    new_amount: Decimal | int | str,
    period: Period,
    change_at: datetime,
    *,
    time_zone: str,
    paid_in_advance: bool = True,
    reason: ProrationReason | None = None,
) -> list[ProrationLine]:
    """An upgrade, downgrade or quantity change inside ``period``.

    ``old_amount`` and ``new_amount`` are the full-period prices before and after (unit price ×
    quantity for a quantity change). Paid in advance: a credit for the old price's unused days
    and a charge for the new price's remaining days. Billed in arrears: a charge for the old
    price's used days and one for the new price's remaining days. ``reason`` defaults to upgrade
    or downgrade from the two prices (``change`` when they are equal).
    """
    old = _full_amount(old_amount, "old_amount")
    new = _full_amount(new_amount, "new_amount")
    if reason is None:
        reason = (
            ProrationReason.UPGRADE
            if new > old
            else ProrationReason.DOWNGRADE
            if new < old
            else ProrationReason.CHANGE
        )
    cut = split_period(period, change_at, time_zone=time_zone)
    if paid_in_advance:
        old_line = _line(
            kind=ProrationKind.CREDIT,
            reason=reason,
            full=old,
            days=cut.remaining,
            total=cut.days_in_period,
            first_day=cut.change_day,
        )
    else:
        old_line = _line(
            kind=ProrationKind.CHARGE,
            reason=reason,
            full=old,
            days=cut.used,
            total=cut.days_in_period,
            first_day=cut.period_first_day,
        )
    new_line = _line(
        kind=ProrationKind.CHARGE,
        reason=reason,
        full=new,
        days=cut.remaining,
        total=cut.days_in_period,
        first_day=cut.change_day,
    )
    return [old_line, new_line]
