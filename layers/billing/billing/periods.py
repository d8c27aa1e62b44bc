"""Billing periods: where each period of a subscription starts and ends.

A ``BillingCycle`` is an interval (day, week, month, year) times a count, an
anchor instant and the customer's IANA time zone. Period boundaries are
computed in the customer's local calendar and converted to UTC date by date:

* **anniversary** billing (``calendar=False``): boundary *k* is the local date
  of the anchor plus *k* intervals, at the anchor's local time of day. Month
  and year arithmetic clamps the day to the end of a shorter month and is
  always computed **from the anchor**, never from the previous boundary, so an
  anchor on the 31st gives Jan 31 → Feb 28 (29 in a leap year) → Mar 31, and an
  anchor on Feb 29 gives Feb 28 in common years and Feb 29 again in leap years.
* **calendar** billing (``calendar=True``): the anchor is first moved back to
  the start of its calendar unit (local midnight; Monday for weeks; the 1st
  for months; Jan 1 for years); boundaries are then local midnights.

A period is half-open ``[start, end)`` in aware UTC datetimes. Because each
boundary is a local wall time converted to UTC on its own date, a period that
spans a daylight-saving change is an hour shorter or longer in UTC than its
neighbours, and consecutive periods are always contiguous: the end of one is
the start of the next. A local time that does not exist on a date (the gap
when clocks go forward) resolves to the instant the same number of minutes
after the gap opens (02:30 on a spring-forward night in New York is 03:30
EDT); an ambiguous one (clocks going back) takes the anchor's own ``fold``
(the first occurrence unless the anchor itself was the second).
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.errors import ValidationFailed

MAX_PERIODS = 100_000
"""Most periods ``periods_between`` returns (a guard against a runaway range)."""


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def zone(name: object, *, param: str = "time_zone") -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name (``Europe/Berlin``); ``invalid_time_zone`` when there is none."""
    if not isinstance(name, str) or not _ZONE_RE.match(name):
        raise ValidationFailed(
            f"{param} is not an IANA time zone name", code="invalid_time_zone", param=param
        )
    found = _load_zone(name)
    if found is None:
        raise ValidationFailed(f"unknown time zone {name!r}", code="invalid_time_zone", param=param)
    return found


_ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


@cache
def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def require_aware(value: object, *, param: str) -> datetime:
    """An aware datetime, or ``naive_datetime`` / ``invalid_datetime``."""
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{param} must be a datetime", code="invalid_datetime", param=param)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{param} must carry a time zone", code="naive_datetime", param=param)
    return value


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = require_aware(self.start, param="start").astimezone(UTC)
        end = require_aware(self.end, param="end").astimezone(UTC)
        if end <= start:
            raise ValidationFailed("a period must end after it starts", code="invalid_period", param="end")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingCycle:
    """How a subscription's periods are cut. See the module docstring for the rules."""

    interval: Interval
    interval_count: int = 1
    anchor: datetime
    time_zone: str
    calendar: bool = False
    _base: tuple[date, time] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            interval = Interval(self.interval)
        except ValueError:
            raise ValidationFailed(
                "interval must be one of day, week, month, year", code="invalid_interval", param="interval"
            ) from None
        object.__setattr__(self, "interval", interval)
        count = self.interval_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationFailed(
                "interval_count must be an integer of at least 1",
                code="invalid_interval_count",
                param="interval_count",
            )
        require_aware(self.anchor, param="anchor")
        zone(self.time_zone)
        if not isinstance(self.calendar, bool):
            raise ValidationFailed(
                "calendar must be true or false", code="invalid_calendar", param="calendar"
            )
        object.__setattr__(self, "_base", self._compute_local_anchor())

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)

    def _local_anchor(self) -> tuple[date, time]:
        """The anchor's local date and wall time (moved to its unit's start for calendar billing)."""
        return self._base

    def _compute_local_anchor(self) -> tuple[date, time]:
        local = self.anchor.astimezone(self.tz)
        day, wall = local.date(), local.time()  # .time() keeps ``fold``
        if not self.calendar:
            return day, wall
        midnight = time(0, 0)
        if self.interval is Interval.WEEK:
            return day - timedelta(days=day.weekday()), midnight
        if self.interval is Interval.MONTH:
            return day.replace(day=1), midnight
        if self.interval is Interval.YEAR:
            return date(day.year, 1, 1), midnight
        return day, midnight

    def boundary_date(self, k: int) -> date:
        """Local date of boundary ``k`` (boundary 0 is the anchor's), computed from the anchor."""
        base, _ = self._local_anchor()
        step = k * self.interval_count
        try:
            if self.interval is Interval.DAY:
                return base + timedelta(days=step)
            if self.interval is Interval.WEEK:
                return base + timedelta(weeks=step)
            if self.interval is Interval.MONTH:
                months = base.year * 12 + (base.month - 1) + step
                year, month = divmod(months, 12)
                return _clamped(year, month + 1, base.day)
            return _clamped(base.year + step, base.month, base.day)
        except (OverflowError, ValueError):
            raise ValidationFailed(
                "the period falls outside the supported calendar", code="date_out_of_range", param="anchor"
            ) from None

    def boundary(self, k: int) -> datetime:
        """Boundary ``k`` as an aware UTC datetime."""
        _, wall = self._local_anchor()
        return local_to_utc(datetime.combine(self.boundary_date(k), wall), self.tz)

    def _index_estimate(self, instant: datetime) -> int:
        base, _ = self._local_anchor()
        local = instant.astimezone(self.tz).date()
        if self.interval is Interval.DAY:
            units = (local - base).days
        elif self.interval is Interval.WEEK:
            units = (local - base).days // 7
        elif self.interval is Interval.MONTH:
            units = (local.year - base.year) * 12 + (local.month - base.month)
        else:
            units = local.year - base.year
        return units // self.interval_count


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall time in ``tz`` as UTC; a time inside a DST gap moves forward past it."""
    local = wall.replace(tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None, fold=0) != wall.replace(fold=0):
        utc = local.replace(fold=0).astimezone(UTC)  # pre-transition offset: lands after the gap
    return utc


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, _calendar.monthrange(year, month)[1]))


def period_containing(cycle: BillingCycle, instant: datetime) -> Period:
    """The full period ``[start, end)`` of ``cycle`` that contains ``instant``."""
    moment = require_aware(instant, param="instant").astimezone(UTC)
    k = cycle._index_estimate(moment)
    while cycle.boundary(k) > moment:
        k -= 1
    while cycle.boundary(k + 1) <= moment:
        k += 1
    end = k + 1
    # A boundary equal to the next one (a date a zone skipped entirely) makes no period.
    while cycle.boundary(end) <= cycle.boundary(k):
        end += 1
    return Period(cycle.boundary(k), cycle.boundary(end))


def next_period(cycle: BillingCycle, period: Period) -> Period:
    """The period that starts where ``period`` ends."""
    return period_containing(cycle, period.end)


def iter_periods(cycle: BillingCycle, start: datetime) -> Iterator[Period]:
    """Consecutive full periods, from the one containing ``start``, without end."""
    period = period_containing(cycle, start)
    while True:
        yield period
        period = next_period(cycle, period)


def periods_between(cycle: BillingCycle, start: datetime, end: datetime) -> list[Period]:
    """Every full period that overlaps ``[start, end)``, in order and contiguous."""
    begin = require_aware(start, param="start").astimezone(UTC)
    finish = require_aware(end, param="end").astimezone(UTC)
    if finish <= begin:
        raise ValidationFailed("end must be after start", code="invalid_period", param="end")
    periods: list[Period] = []
    for period in iter_periods(cycle, begin):
        if period.start >= finish:
            break
        if len(periods) >= MAX_PERIODS:
            raise ValidationFailed(f"more than {MAX_PERIODS} periods", code="too_many_periods", param="end")
        periods.append(period)
    return periods


def first_period(cycle: BillingCycle, start: datetime, trial_end: datetime | None = None) -> Period:
    """The first paid period of a subscription that starts at ``start``.

    Paid service starts at ``trial_end`` when there is a trial, else at ``start``; the first
    period runs from there to the next boundary of ``cycle``. It is a partial period (to be
    prorated) when paid service does not start on a boundary, as in calendar billing or when the
    trial ends off the anchor. For anniversary billing that should restart from the trial end,
    build the cycle with ``anchor=trial_end``.
    """
    begin = require_aware(start, param="start").astimezone(UTC)
    paid_start = begin
    if trial_end is not None:
        paid_start = require_aware(trial_end, param="trial_end").astimezone(UTC)
        if paid_start < begin:
            raise ValidationFailed(
                "trial_end must not be before start", code="invalid_trial_end", param="trial_end"
            )
    return Period(paid_start, period_containing(cycle, paid_start).end)
