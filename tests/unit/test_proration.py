"""billing.proration: whole local days, both ends counted; credits for unused time paid in advance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from billing.errors import ValidationFailed
from billing.periods import BillingCycle, Interval, Period, period_containing
from billing.proration import (
    ProrationKind,
    ProrationReason,
    days_in_period,
    prorate_cancellation,
    prorate_change,
    prorate_remaining,
    prorate_start,
    prorate_used,
    split_period,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:  # noqa: PLR0917
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:  # noqa: PLR0917
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def calendar_month(zone: str, year: int, month: int) -> Period:
    cycle = BillingCycle(
        interval=Interval.MONTH, anchor=local(zone, 2026, 1, 1), time_zone=zone, calendar=True
    )
    return period_containing(cycle, local(zone, year, month, 15))


MARCH = calendar_month("UTC", 2026, 3)  # 31 days


# --------------------------------------------------------------------------- the day rule


def test_change_on_the_20th_of_a_31_day_month_leaves_12_of_31_days() -> None:
    line = prorate_remaining(10000, MARCH, utc(2026, 3, 20, 14, 30), time_zone="UTC")
    assert (line.days, line.days_in_period) == (12, 31)  # March 20..31 inclusive
    assert line.explanation == "12 of 31 days"
    assert line.fraction == Fraction(12, 31)
    assert line.first_day == date(2026, 3, 20)
    assert line.last_day == date(2026, 3, 31)
    # 10000 × 12 / 31 = 3870.9677… (unrounded) → 3871 once rounded
    assert line.amount.quantize(Decimal("0.0001")) == Decimal("3870.9677")
    assert line.amount_minor == 3871


def test_used_part_is_the_days_before_the_change() -> None:
    line = prorate_used(10000, MARCH, utc(2026, 3, 20), time_zone="UTC")
    assert (line.days, line.first_day, line.last_day) == (
        19,
        date(2026, 3, 1),
        date(2026, 3, 19),
    )  # March 1..19
    assert line.amount_minor == 6129  # 10000 × 19 / 31 = 6129.03…
    # both parts: 6129 + 3871 = 10000
    assert (
        line.amount_minor + prorate_remaining(10000, MARCH, utc(2026, 3, 20), time_zone="UTC").amount_minor
        == 10000
    )


def test_change_at_the_period_start_keeps_the_whole_period() -> None:
    line = prorate_remaining(3100, MARCH, MARCH.start, time_zone="UTC")
    assert (line.days, line.amount) == (31, Decimal(3100))  # 3100 × 31 / 31


def test_change_on_the_last_day_leaves_one_day() -> None:
    line = prorate_remaining(3100, MARCH, utc(2026, 3, 31, 23, 59), time_zone="UTC")
    assert (line.days, line.amount) == (1, Decimal(100))  # 3100 × 1 / 31


@pytest.mark.parametrize(
    ("year", "days_in_feb", "remaining", "amount_minor"),
    [
        (2028, 29, 10, 345),  # leap: Feb 20..29 = 10 of 29; 1000 × 10 / 29 = 344.83 → 345
        (2027, 28, 9, 321),  # common: Feb 20..28 = 9 of 28; 1000 × 9 / 28 = 321.43 → 321
    ],
)
def test_february_in_leap_and_common_years(
    year: int, days_in_feb: int, remaining: int, amount_minor: int
) -> None:
    period = calendar_month("UTC", year, 2)
    line = prorate_remaining(1000, period, utc(year, 2, 20, 8), time_zone="UTC")
    assert (line.days, line.days_in_period, line.amount_minor) == (remaining, days_in_feb, amount_minor)


def test_anchor_31_february_period_is_counted_in_days() -> None:
    cycle = BillingCycle(interval=Interval.MONTH, anchor=utc(2028, 1, 31), time_zone="UTC")
    period = period_containing(cycle, utc(2028, 2, 10))  # Jan 31 → Feb 29, 2028
    assert days_in_period(period, time_zone="UTC") == 29  # Jan 31 + Feb 1..28
    line = prorate_remaining(2900, period, utc(2028, 2, 28, 12), time_zone="UTC")
    assert (line.days, line.amount) == (1, Decimal(100))  # Feb 28 only; 2900 × 1 / 29


# --------------------------------------------------------------------------- time zones and DST


def test_dst_month_still_has_31_days() -> None:
    zone = "America/New_York"
    march = calendar_month(zone, 2026, 3)  # 743 hours in UTC (DST began Mar 8)
    assert days_in_period(march, time_zone=zone) == 31
    # 23:30 on Mar 19 in New York is already Mar 20 03:30 UTC: the customer's day counts
    line = prorate_remaining(3100, march, local(zone, 2026, 3, 19, 23, 30), time_zone=zone)
    assert (line.days, line.amount) == (13, Decimal(1300))  # Mar 19..31 = 13 days; 3100 × 13 / 31


def test_november_dst_month_has_30_days() -> None:
    zone = "Europe/Berlin"
    november = calendar_month(zone, 2026, 11)
    assert days_in_period(november, time_zone=zone) == 30


@pytest.mark.parametrize(
    ("zone", "remaining"),
    [
        ("Asia/Tokyo", 12),  # 2026-03-19T16:00Z is Mar 20 01:00 JST → Mar 20..31
        ("Pacific/Auckland", 12),  # Mar 20 05:00 NZDT
        ("Asia/Kolkata", 13),  # 16:00Z + 5:30 = 21:30 on Mar 19 IST → Mar 19..31
        ("America/Los_Angeles", 13),  # Mar 19 09:00 PDT → Mar 19..31
        ("Pacific/Honolulu", 13),  # Mar 19 06:00 HST
    ],
)
def test_the_same_instant_is_a_different_day_east_and_west(zone: str, remaining: int) -> None:
    march = calendar_month(zone, 2026, 3)
    line = prorate_remaining(3100, march, utc(2026, 3, 19, 16), time_zone=zone)
    assert (line.days, line.days_in_period) == (remaining, 31)
    assert line.amount == Decimal(100 * remaining)  # 3100 / 31 = 100 a day


def test_anniversary_period_with_a_time_of_day() -> None:
    cycle = BillingCycle(interval=Interval.MONTH, anchor=utc(2026, 1, 15, 15), time_zone="UTC")
    period = period_containing(cycle, utc(2026, 2, 1))  # [Jan 15 15:00, Feb 15 15:00)
    assert days_in_period(period, time_zone="UTC") == 31  # Jan 15..Feb 14
    early = split_period(period, utc(2026, 1, 15, 16), time_zone="UTC")
    assert (early.used, early.remaining) == (0, 31)
    last = split_period(period, utc(2026, 2, 15, 10), time_zone="UTC")  # the end date, before 15:00
    assert (last.used, last.remaining) == (31, 0)


# --------------------------------------------------------------------------- starts, changes, cancellations


def test_start_mid_period() -> None:
    line = prorate_start(3100, MARCH, utc(2026, 3, 20, 9), time_zone="UTC")
    assert (line.kind, line.reason, line.days, line.amount) == (
        ProrationKind.CHARGE,
        ProrationReason.START,
        12,
        Decimal(1200),  # 3100 × 12 / 31
    )


def test_upgrade_paid_in_advance_credits_unused_old_and_charges_remaining_new() -> None:
    credit, charge = prorate_change(1000, 3000, MARCH, utc(2026, 3, 20), time_zone="UTC")
    assert credit.kind is ProrationKind.CREDIT and credit.reason is ProrationReason.UPGRADE
    assert credit.amount_minor == -387  # −1000 × 12 / 31 = −387.0967…
    assert charge.kind is ProrationKind.CHARGE and charge.amount_minor == 1161  # 3000 × 12 / 31 = 1161.29…
    assert credit.amount < 0 < charge.amount
    assert credit.explanation == charge.explanation == "12 of 31 days"


def test_downgrade_paid_in_advance() -> None:
    credit, charge = prorate_change(3000, 1000, MARCH, utc(2026, 3, 20), time_zone="UTC")
    assert credit.reason is ProrationReason.DOWNGRADE
    assert (credit.amount_minor, charge.amount_minor) == (
        -1161,
        387,
    )  # net −774: the customer gets money back


def test_quantity_change() -> None:
    # 3 seats → 5 seats at 500 a seat, on March 25 (7 of 31 days left: 25..31)
    credit, charge = prorate_change(
        3 * 500, 5 * 500, MARCH, utc(2026, 3, 25), time_zone="UTC", reason=ProrationReason.QUANTITY_CHANGE
    )
    assert credit.reason is charge.reason is ProrationReason.QUANTITY_CHANGE
    assert (credit.days, credit.amount_minor) == (7, -339)  # −1500 × 7 / 31 = −338.71 → −339
    assert charge.amount_minor == 565  # 2500 × 7 / 31 = 564.52 → 565


def test_change_billed_in_arrears_charges_old_used_and_new_remaining() -> None:
    old, new = prorate_change(1000, 3000, MARCH, utc(2026, 3, 20), time_zone="UTC", paid_in_advance=False)
    assert (old.kind, old.days, old.amount_minor) == (ProrationKind.CHARGE, 19, 613)  # 1000 × 19 / 31 = 612.9
    assert (new.kind, new.days, new.amount_minor) == (ProrationKind.CHARGE, 12, 1161)  # 3000 × 12 / 31


def test_cancellation_paid_in_advance_is_a_credit() -> None:
    line = prorate_cancellation(Decimal("9999.5"), MARCH, utc(2026, 3, 20), time_zone="UTC")
    assert (line.kind, line.reason, line.days) == (ProrationKind.CREDIT, ProrationReason.CANCELLATION, 12)
    assert line.amount_minor == -3871  # −9999.5 × 12 / 31 = −3870.77 → −3871


def test_cancellation_in_arrears_charges_the_used_days() -> None:
    line = prorate_cancellation(3100, MARCH, utc(2026, 3, 20), time_zone="UTC", paid_in_advance=False)
    assert (line.kind, line.days, line.amount) == (ProrationKind.CHARGE, 19, Decimal(1900))  # 3100 × 19 / 31


def test_unit_price_with_sub_minor_precision_stays_unrounded() -> None:
    line = prorate_remaining("0.3", MARCH, utc(2026, 3, 20), time_zone="UTC")
    assert line.amount_minor == 0  # 0.3 × 12 / 31 = 0.116…
    assert line.amount > 0


# --------------------------------------------------------------------------- bad input


def test_change_outside_the_period_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        prorate_remaining(1000, MARCH, utc(2026, 4, 1), time_zone="UTC")  # the end is excluded
    assert (info.value.code, info.value.param) == ("change_outside_period", "change_at")


@pytest.mark.parametrize(
    ("amount", "code"), [(-1, "negative_amount"), (1.5, "invalid_decimal"), ("x", "invalid_decimal")]
)
def test_bad_amounts_are_refused(amount: object, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        prorate_remaining(amount, MARCH, utc(2026, 3, 20), time_zone="UTC")  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == (code, "full_amount")


def test_bad_time_zone_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        prorate_remaining(1000, MARCH, utc(2026, 3, 20), time_zone="Nowhere/Land")
    assert info.value.code == "invalid_time_zone"


def test_naive_change_time_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        prorate_remaining(1000, MARCH, datetime(2026, 3, 20), time_zone="UTC")
    assert (info.value.code, info.value.param) == ("naive_datetime", "change_at")
