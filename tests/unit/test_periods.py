"""billing.periods: anchors, month ends, leap years, DST and time zones; no period billed twice or skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from billing.errors import ValidationFailed
from billing.periods import (
    BillingCycle,
    Interval,
    Period,
    first_period,
    iter_periods,
    next_period,
    period_containing,
    periods_between,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:  # noqa: PLR0917
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(  # noqa: PLR0917
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def local_starts(cycle: BillingCycle, count: int) -> list[datetime]:
    """The local start of ``count`` consecutive periods from the anchor."""
    periods = iter_periods(cycle, cycle.anchor)
    return [next(periods).start.astimezone(cycle.tz) for _ in range(count)]


def monthly(anchor: datetime, tz: str = "UTC", **kw: object) -> BillingCycle:
    return BillingCycle(interval=Interval.MONTH, anchor=anchor, time_zone=tz, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- month ends and leap years


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        # billing day 31 through a common February (2027) and back to the 31st in March
        (
            date(2027, 1, 31),
            ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30"],
        ),
        # ... and through a leap February (2028)
        (
            date(2028, 1, 31),
            ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31", "2028-06-30"],
        ),
        # billing day 30
        (
            date(2027, 1, 30),
            ["2027-01-30", "2027-02-28", "2027-03-30", "2027-04-30", "2027-05-30", "2027-06-30"],
        ),
        (
            date(2028, 1, 30),
            ["2028-01-30", "2028-02-29", "2028-03-30", "2028-04-30", "2028-05-30", "2028-06-30"],
        ),
        # billing day 29: only a common February clamps it
        (
            date(2027, 1, 29),
            ["2027-01-29", "2027-02-28", "2027-03-29", "2027-04-29", "2027-05-29", "2027-06-29"],
        ),
        (
            date(2028, 1, 29),
            ["2028-01-29", "2028-02-29", "2028-03-29", "2028-04-29", "2028-05-29", "2028-06-29"],
        ),
        # anchored on Feb 29 itself: the 29th where it exists
        (
            date(2028, 2, 29),
            ["2028-02-29", "2028-03-29", "2028-04-29", "2028-05-29", "2028-06-29", "2028-07-29"],
        ),
    ],
)
def test_monthly_anchor_days_29_30_31_through_february(anchor: date, expected: list[str]) -> None:
    cycle = monthly(datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC))
    assert [d.date().isoformat() for d in local_starts(cycle, 6)] == expected


def test_day_31_anchor_returns_to_31_after_a_30_day_month_across_two_years() -> None:
    cycle = monthly(utc(2027, 1, 31))
    days = [d.day for d in local_starts(cycle, 24)]
    # Jan 31, Feb 28, Mar 31, Apr 30, May 31, Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31, then 2028
    common, leap = (
        [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
        [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    )
    assert days == [*common, *leap]


def test_yearly_feb_29_anniversary() -> None:
    cycle = BillingCycle(interval=Interval.YEAR, anchor=utc(2028, 2, 29), time_zone="UTC")
    starts = [d.date().isoformat() for d in local_starts(cycle, 6)]
    # computed from the anchor each time: 2029-2031 clamp to the 28th, 2032 is a leap year again
    assert starts == ["2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29", "2033-02-28"]


def test_period_containing_on_a_clamped_boundary() -> None:
    cycle = monthly(utc(2027, 1, 31))
    assert period_containing(cycle, utc(2027, 2, 27, 23, 59)) == Period(utc(2027, 1, 31), utc(2027, 2, 28))
    assert period_containing(cycle, utc(2027, 2, 28)) == Period(
        utc(2027, 2, 28), utc(2027, 3, 31)
    )  # start belongs
    assert period_containing(cycle, utc(2027, 3, 30, 12)) == Period(utc(2027, 2, 28), utc(2027, 3, 31))


def test_periods_before_the_anchor_follow_the_same_rule() -> None:
    cycle = monthly(utc(2028, 3, 31))
    assert period_containing(cycle, utc(2028, 3, 1)) == Period(utc(2028, 2, 29), utc(2028, 3, 31))


# --------------------------------------------------------------------------- calendar billing


def test_calendar_monthly_aligns_to_the_first_at_local_midnight() -> None:
    cycle = monthly(local("Europe/Berlin", 2026, 1, 20, 15, 45), "Europe/Berlin", calendar=True)
    period = period_containing(cycle, utc(2026, 1, 20))
    # Jan 1 00:00 CET = Dec 31 23:00 UTC; Feb 1 00:00 CET = Jan 31 23:00 UTC
    assert period == Period(utc(2025, 12, 31, 23), utc(2026, 1, 31, 23))


def test_calendar_weekly_aligns_to_monday() -> None:
    cycle = BillingCycle(interval=Interval.WEEK, anchor=utc(2026, 11, 26, 10), time_zone="UTC", calendar=True)
    period = period_containing(cycle, utc(2026, 11, 26, 10))  # a Thursday
    assert period == Period(utc(2026, 11, 23), utc(2026, 11, 30))  # Monday → next Monday
    assert period.start.weekday() == 0


def test_calendar_yearly_aligns_to_january_first() -> None:
    cycle = BillingCycle(
        interval=Interval.YEAR, anchor=local("Asia/Tokyo", 2026, 7, 4), time_zone="Asia/Tokyo", calendar=True
    )
    # Jan 1 00:00 JST = Dec 31 15:00 UTC (the day before)
    assert period_containing(cycle, utc(2027, 6, 1)) == Period(utc(2026, 12, 31, 15), utc(2027, 12, 31, 15))


def test_calendar_daily_is_local_midnight() -> None:
    cycle = BillingCycle(
        interval=Interval.DAY, anchor=utc(2026, 5, 5, 17), time_zone="Asia/Kolkata", calendar=True
    )
    # 00:00 IST = 18:30 UTC the day before
    assert period_containing(cycle, utc(2026, 5, 5, 17)) == Period(
        utc(2026, 5, 4, 18, 30), utc(2026, 5, 5, 18, 30)
    )


def test_calendar_quarters_with_a_january_anchor() -> None:
    cycle = monthly(utc(2026, 1, 1), interval_count=3, calendar=True)
    starts = [p.start.date().isoformat() for p in periods_between(cycle, utc(2026, 1, 1), utc(2027, 1, 1))]
    assert starts == ["2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01"]


def test_first_calendar_period_is_partial_from_the_start() -> None:
    cycle = monthly(utc(2026, 3, 20, 9), calendar=True)
    assert first_period(cycle, utc(2026, 3, 20, 9)) == Period(utc(2026, 3, 20, 9), utc(2026, 4, 1))


# --------------------------------------------------------------------------- intervals and counts


def test_every_two_weeks_anniversary() -> None:
    cycle = BillingCycle(
        interval=Interval.WEEK, interval_count=2, anchor=utc(2026, 12, 28, 8), time_zone="UTC"
    )
    assert [d.date().isoformat() for d in local_starts(cycle, 3)] == [
        "2026-12-28",
        "2027-01-11",
        "2027-01-25",
    ]


def test_every_three_days() -> None:
    cycle = BillingCycle(interval="day", interval_count=3, anchor=utc(2028, 2, 27), time_zone="UTC")  # type: ignore[arg-type]
    assert [d.date().isoformat() for d in local_starts(cycle, 3)] == [
        "2028-02-27",
        "2028-03-01",
        "2028-03-04",
    ]


def test_semiannual_from_august_31() -> None:
    cycle = monthly(utc(2027, 8, 31), interval_count=6)
    # Aug 31 → Feb 29 2028 (leap, clamped) → Aug 31 2028 (back to the anchor day) → Feb 28 2029
    assert [d.date().isoformat() for d in local_starts(cycle, 4)] == [
        "2027-08-31",
        "2028-02-29",
        "2028-08-31",
        "2029-02-28",
    ]


# --------------------------------------------------------------------------- DST


def test_new_york_march_month_is_an_hour_shorter_in_utc() -> None:
    cycle = monthly(local("America/New_York", 2026, 1, 1), "America/New_York", calendar=True)
    march = period_containing(cycle, utc(2026, 3, 15))
    # Mar 1 00:00 EST = 05:00 UTC; Apr 1 00:00 EDT = 04:00 UTC; DST began Mar 8
    assert march == Period(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
    assert march.duration == timedelta(days=31) - timedelta(hours=1)


def test_new_york_november_month_is_an_hour_longer_in_utc() -> None:
    cycle = monthly(local("America/New_York", 2026, 1, 1), "America/New_York", calendar=True)
    november = period_containing(cycle, utc(2026, 11, 15))
    # Nov 1 00:00 EDT = 04:00 UTC; Dec 1 00:00 EST = 05:00 UTC; DST ended Nov 1 at 02:00
    assert november == Period(utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert november.duration == timedelta(days=30) + timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),  # spring forward
        ("America/New_York", date(2026, 11, 1), 25),  # fall back
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Pacific/Auckland", date(2026, 9, 27), 23),  # southern hemisphere: spring in September
        ("Pacific/Auckland", date(2026, 4, 5), 25),
    ],
)
def test_daily_periods_on_dst_days(zone: str, day: date, hours: int) -> None:
    cycle = BillingCycle(interval=Interval.DAY, anchor=local(zone, 2026, 1, 1), time_zone=zone, calendar=True)
    period = period_containing(cycle, local(zone, day.year, day.month, day.day, 12))
    assert period.start.astimezone(ZoneInfo(zone)) == local(zone, day.year, day.month, day.day)
    assert period.duration == timedelta(hours=hours)


def test_anchor_time_inside_the_spring_gap_moves_forward_past_it() -> None:
    zone = "America/New_York"
    cycle = BillingCycle(interval=Interval.DAY, anchor=local(zone, 2026, 3, 7, 2, 30), time_zone=zone)
    starts = [p.start for p in periods_between(cycle, utc(2026, 3, 7, 8), utc(2026, 3, 10))]
    # 02:30 does not exist on Mar 8: the boundary is 03:30 EDT (07:30 UTC), the same UTC instant as
    # 02:30 EST would be; the other days keep 02:30 local
    assert [s.astimezone(ZoneInfo(zone)).strftime("%d %H:%M %Z") for s in starts] == [
        "07 02:30 EST",
        "08 03:30 EDT",
        "09 02:30 EDT",
    ]
    assert starts == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_anchor_in_the_repeated_hour_keeps_its_fold() -> None:
    zone = "America/New_York"
    first = local(zone, 2026, 11, 1, 1, 30, fold=0)  # 01:30 EDT = 05:30 UTC
    second = local(zone, 2026, 11, 1, 1, 30, fold=1)  # 01:30 EST = 06:30 UTC
    for anchor in (first, second):
        cycle = BillingCycle(interval=Interval.MONTH, anchor=anchor, time_zone=zone)
        assert cycle.boundary(0) == anchor.astimezone(UTC)  # boundary 0 is the anchor itself
        assert cycle.boundary(1) == utc(2026, 12, 1, 6, 30)  # 01:30 EST on Dec 1


def test_anniversary_time_of_day_is_kept_in_local_time_across_dst() -> None:
    zone = "Europe/Berlin"
    cycle = monthly(local(zone, 2026, 1, 15, 9, 0), zone)
    starts = local_starts(cycle, 12)
    assert {(s.day, s.hour, s.minute) for s in starts} == {(15, 9, 0)}
    assert {s.astimezone(UTC).hour for s in starts} == {8, 7}  # CET winter, CEST summer


# --------------------------------------------------------------------------- time zones east and west of UTC


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # calendar February 2027, local midnights
        ("Pacific/Auckland", utc(2027, 1, 31, 11), utc(2027, 2, 28, 11)),  # NZDT +13
        ("Asia/Tokyo", utc(2027, 1, 31, 15), utc(2027, 2, 28, 15)),  # JST +9
        ("Asia/Kolkata", utc(2027, 1, 31, 18, 30), utc(2027, 2, 28, 18, 30)),  # IST +5:30
        ("UTC", utc(2027, 2, 1), utc(2027, 3, 1)),
        ("America/Los_Angeles", utc(2027, 2, 1, 8), utc(2027, 3, 1, 8)),  # PST −8
        ("Pacific/Honolulu", utc(2027, 2, 1, 10), utc(2027, 3, 1, 10)),  # HST −10
    ],
)
def test_calendar_february_in_each_zone(zone: str, start: datetime, end: datetime) -> None:
    cycle = monthly(local(zone, 2027, 1, 1), zone, calendar=True)
    # an instant that is still January in UTC but already February in Auckland is in February there
    feb = period_containing(cycle, start)
    assert feb == Period(start, end)
    assert period_containing(cycle, start - timedelta(microseconds=1)).end == start


ZONES = [
    "UTC",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # DST changes at midnight: local midnight is sometimes missing
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("interval", "count", "anchor_parts", "calendar", "years"),
    [
        (Interval.MONTH, 1, (2026, 1, 31, 0, 0), False, 6),
        (Interval.MONTH, 1, (2026, 1, 29, 23, 30), False, 6),
        (Interval.MONTH, 1, (2026, 1, 15, 10, 0), True, 6),
        (Interval.YEAR, 1, (2028, 2, 29, 12, 0), False, 9),
        (Interval.WEEK, 1, (2026, 3, 1, 2, 30), False, 3),
        (Interval.DAY, 1, (2026, 1, 1, 0, 0), True, 2),
        (Interval.MONTH, 3, (2026, 11, 30, 6, 0), False, 6),
    ],
)
def test_consecutive_periods_are_contiguous_for_years(
    zone: str,
    *,
    interval: Interval,
    count: int,
    anchor_parts: tuple[int, int, int, int, int],
    calendar: bool,
    years: int,
) -> None:
    anchor = local(zone, *anchor_parts)
    cycle = BillingCycle(
        interval=interval, interval_count=count, anchor=anchor, time_zone=zone, calendar=calendar
    )
    start = anchor.astimezone(UTC)
    periods = periods_between(cycle, start, start + timedelta(days=365 * years))
    assert periods[0].start <= start < periods[0].end
    for before, after in pairwise(periods):
        assert before.end == after.start  # no gap (skipped time) and no overlap (billed twice)
        assert before.start < before.end
        assert next_period(cycle, before) == after
        # any instant of a period maps back to that same period
        assert period_containing(cycle, before.start) == before
        assert period_containing(cycle, before.end - timedelta(microseconds=1)) == before
    tz = ZoneInfo(zone)
    if interval is Interval.MONTH and not calendar:
        for k, period in enumerate(periods):
            expected = cycle.boundary_date(k)
            assert (
                period.start.astimezone(tz).date() == expected
            )  # each date from the anchor, not the previous end


def test_periods_between_covers_partial_overlaps() -> None:
    cycle = monthly(utc(2026, 1, 15))
    periods = periods_between(cycle, utc(2026, 2, 1), utc(2026, 4, 15, 0, 0, 1))
    assert [p.start.date().isoformat() for p in periods] == [
        "2026-01-15",
        "2026-02-15",
        "2026-03-15",
        "2026-04-15",
    ]


def test_periods_between_refuses_an_empty_range() -> None:
    with pytest.raises(ValidationFailed) as info:
        periods_between(monthly(utc(2026, 1, 1)), utc(2026, 2, 1), utc(2026, 2, 1))
    assert info.value.code == "invalid_period"


# --------------------------------------------------------------------------- trials


def test_trial_end_shifts_the_first_paid_period_start() -> None:
    cycle = monthly(utc(2026, 1, 10))
    # a 14-day trial from Jan 10: paid service from Jan 24 to the next boundary, Feb 10
    assert first_period(cycle, utc(2026, 1, 10), trial_end=utc(2026, 1, 24)) == Period(
        utc(2026, 1, 24), utc(2026, 2, 10)
    )


def test_anniversary_restarting_at_trial_end() -> None:
    trial_end = utc(2026, 1, 31)
    cycle = monthly(trial_end)  # anchor the cycle on the trial end
    assert first_period(cycle, utc(2026, 1, 17), trial_end=trial_end) == Period(
        utc(2026, 1, 31), utc(2026, 2, 28)
    )


def test_no_trial_first_period_from_start() -> None:
    cycle = monthly(utc(2026, 1, 10))
    assert first_period(cycle, utc(2026, 1, 10)) == Period(utc(2026, 1, 10), utc(2026, 2, 10))


def test_trial_end_before_start_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        first_period(monthly(utc(2026, 1, 10)), utc(2026, 1, 10), trial_end=utc(2026, 1, 9))
    assert (info.value.code, info.value.param) == ("invalid_trial_end", "trial_end")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "Europe/Berlin ", None, "EST5EDT/x"])
def test_invalid_time_zone(zone: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        BillingCycle(interval=Interval.MONTH, anchor=utc(2026, 1, 1), time_zone=zone)  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_time_zone", "time_zone")


@pytest.mark.parametrize("count", [0, -1, True, "2", 1.0])
def test_invalid_interval_count(count: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        BillingCycle(interval=Interval.MONTH, interval_count=count, anchor=utc(2026, 1, 1), time_zone="UTC")  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_interval_count", "interval_count")


def test_invalid_interval() -> None:
    with pytest.raises(ValidationFailed) as info:
        BillingCycle(interval="hour", anchor=utc(2026, 1, 1), time_zone="UTC")  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_interval", "interval")


def test_naive_anchor_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        BillingCycle(interval=Interval.MONTH, anchor=datetime(2026, 1, 1), time_zone="UTC")
    assert (info.value.code, info.value.param) == ("naive_datetime", "anchor")


def test_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationFailed) as info:
        Period(utc(2026, 1, 2), utc(2026, 1, 1))
    assert info.value.code == "invalid_period"


def test_period_outside_the_calendar() -> None:
    cycle = BillingCycle(interval=Interval.YEAR, anchor=utc(9998, 6, 1), time_zone="UTC")
    with pytest.raises(ValidationFailed) as info:
        periods_between(cycle, utc(9998, 6, 1), utc(9999, 12, 1))
    assert info.value.code == "date_out_of_range"
