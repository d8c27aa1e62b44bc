"""The template's schedules (function events of Type Schedule / ScheduleV2), fired in-process.

Times come from the local clock (`billing.clock`, an OffsetClock on the stack), so moving the clock
moves the schedules. When the clock jumps past one or more fire times, each schedule fires ONCE and
its next fire time is computed from the new now: like EventBridge, missed occurrences are not
replayed (a month forward fires an hourly schedule once, not 720 times).

Expressions: `rate(N minute|minutes|hour|hours|day|days)`, AWS `cron(min hour dom month dow year)`
and, for ScheduleV2, `at(yyyy-mm-ddThh:mm:ss)`. AWS cron: `*`, `?`, lists, ranges, steps (`0/15`,
`*/5`, `1-10/2`), month and weekday names, day-of-week 1-7 = SUN-SAT, and the specials `L`, `L-n`,
`LW`, `nW` (day of month), `L`, `nL`, `n#k` (day of week). One of day-of-month / day-of-week must
be `?`, as AWS requires.
"""

from __future__ import annotations

import calendar
import json
import re
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from local.functions import FunctionSpec, function_specs, invoke, local_refs, resolve

ACCOUNT = "000000000000"
REGION = "us-east-1"
MAX_YEAR = 2199

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _aws_dow(d: date) -> int:
    """AWS day of week: 1 = Sunday ... 7 = Saturday."""
    return (d.weekday() + 1) % 7 + 1


def _value(text: str, lo: int, hi: int, names: Mapping[str, int]) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not lo <= value <= hi:
        raise ValueError(f"{text!r} is not in {lo}-{hi}")
    return value


def _parse_set(field_text: str, lo: int, hi: int, names: Mapping[str, int] | None = None) -> set[int]:
    """`*`, `5`, `1,3,5`, `1-5`, `*/15`, `0/15`, `1-10/2` (and names) -> the set of values."""
    names = names or {}
    out: set[int] = set()
    for part in field_text.split(","):
        if not part:
            raise ValueError(f"empty element in {field_text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step in {part!r}")
            step = int(step_text)
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _value(a, lo, hi, names), _value(b, lo, hi, names)
            if first > last:
                raise ValueError(f"range {part!r} runs backwards")
        else:
            first = _value(base, lo, hi, names)
            last = hi if step_text else first  # `0/15`: from 0 to the end in steps of 15
        out.update(range(first, last + 1, step))
    return out


def _last_day(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def _is_days_before_last(back: int, d: date) -> bool:  # L (back 0), L-3
    return d.day == _last_day(d) - back


def _is_last_weekday(d: date) -> bool:  # LW
    return d == _last_weekday(d.year, d.month)


def _is_nearest_weekday(day: int, d: date) -> bool:  # 15W
    return d == _nearest_weekday(d.year, d.month, day)


def _is_last_dow(dow: int, d: date) -> bool:  # 6L: the last Friday
    return _aws_dow(d) == dow and d.day + 7 > _last_day(d)


def _is_nth_dow(dow: int, nth: int, d: date) -> bool:  # 2#1: the first Monday
    return _aws_dow(d) == dow and (d.day - 1) // 7 + 1 == nth


def _any_of(tests: list[Callable[[date], bool]]) -> Callable[[date], bool]:
    def matches(d: date) -> bool:
        return any(t(d) for t in tests)

    return matches


def _day_of_month_matcher(text: str) -> Callable[[date], bool]:
    tests: list[Callable[[date], bool]] = []
    plain: list[str] = []
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            tests.append(partial(_is_days_before_last, 0))
        elif re.fullmatch(r"L-\d+", upper):
            tests.append(partial(_is_days_before_last, int(upper[2:])))
        elif upper == "LW":
            tests.append(_is_last_weekday)
        elif re.fullmatch(r"\d+W", upper):
            tests.append(partial(_is_nearest_weekday, _value(upper[:-1], 1, 31, {})))
        else:
            plain.append(part)
    if plain:
        days = _parse_set(",".join(plain), 1, 31)
        tests.append(lambda d: d.day in days)
    return _any_of(tests)


def _day_of_week_matcher(text: str) -> Callable[[date], bool]:
    tests: list[Callable[[date], bool]] = []
    plain: list[str] = []
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            plain.append("7")  # as in Quartz: L alone is the last day of the week, Saturday
        elif re.fullmatch(r"\w+L", upper):
            tests.append(partial(_is_last_dow, _value(upper[:-1], 1, 7, _DAYS)))
        elif re.fullmatch(r"\w+#\d", upper):
            name, nth_text = upper.split("#")
            if not 1 <= int(nth_text) <= 5:
                raise ValueError(f"bad nth weekday in {part!r}")
            tests.append(partial(_is_nth_dow, _value(name, 1, 7, _DAYS), int(nth_text)))
        else:
            plain.append(part)
    if plain:
        days = _parse_set(",".join(plain), 1, 7, _DAYS)
        tests.append(lambda d: _aws_dow(d) in days)
    return _any_of(tests)


def _last_weekday(year: int, month: int) -> date:
    d = date(year, month, calendar.monthrange(year, month)[1])
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def _nearest_weekday(year: int, month: int, day: int) -> date | None:
    """`15W`: the weekday nearest the 15th, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    d = date(year, month, day)
    if d.weekday() == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        return d - timedelta(days=1) if day > 1 else d + timedelta(days=2)
    if d.weekday() == 6:  # Sunday -> Monday, or Friday when Sunday is the last day
        return d + timedelta(days=1) if day < last else d - timedelta(days=2)
    return d


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: tuple[int, ...]
    day_matches: Callable[[date], bool] = field(compare=False)
    tz: ZoneInfo | None = None

    @classmethod
    def parse(cls, fields_text: str, tz: ZoneInfo | None = None) -> Cron:
        fields = fields_text.split()
        if len(fields) != 6:
            raise ValueError(
                f"cron({fields_text}) needs 6 fields: minutes hours day-of-month month day-of-week year"
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"cron({fields_text}): exactly one of day-of-month and day-of-week must be '?'")
        day_matches = _day_of_week_matcher(dow) if dom == "?" else _day_of_month_matcher(dom)
        return cls(
            expression=f"cron({fields_text})",
            minutes=tuple(sorted(_parse_set(minute, 0, 59))),
            hours=tuple(sorted(_parse_set(hour, 0, 23))),
            months=frozenset(_parse_set(month, 1, 12, _MONTHS)),
            years=tuple(sorted(_parse_set(year, 1970, MAX_YEAR))),
            day_matches=day_matches,
            tz=tz,
        )

    def _first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        for h in self.hours:
            if h < hour:
                continue
            if h > hour:
                return h, self.minutes[0]
            for m in self.minutes:
                if m >= minute:
                    return h, m
        return None

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after t (UTC), or None when the expression has no more."""
        tz = self.tz or UTC
        start = t.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        d = start.date()
        while d.year <= MAX_YEAR:
            if d.year not in self.years:
                later = [y for y in self.years if y > d.year]
                if not later:
                    return None
                d = date(later[0], 1, 1)
                continue
            if d.month not in self.months:
                later = [m for m in sorted(self.months) if m > d.month]
                d = date(d.year, later[0], 1) if later else date(d.year + 1, 1, 1)
                continue
            if self.day_matches(d):
                hm = (
                    self._first_time(start.hour, start.minute)
                    if d == start.date()
                    else (self.hours[0], self.minutes[0])
                )
                if hm:
                    return datetime(d.year, d.month, d.day, hm[0], hm[1], tzinfo=tz).astimezone(UTC)
            d += timedelta(days=1)
        return None


@dataclass(frozen=True)
class Rate:
    expression: str
    period: timedelta

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime:
        """The first anchor + k * period strictly after t (fires keep to the grid of the first start)."""
        anchor = anchor or t
        if t < anchor:
            return anchor
        k = (t - anchor) // self.period + 1
        return anchor + k * self.period


@dataclass(frozen=True)
class At:
    expression: str
    when: datetime

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        return self.when if self.when > t else None


Timing = Cron | Rate | At
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def parse_expression(expression: str, timezone: str | None = None) -> Timing:
    """A schedule expression as EventBridge / EventBridge Scheduler accept it."""
    tz = ZoneInfo(timezone) if timezone else None
    m = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression)
    if not m:
        raise ValueError(f"not a schedule expression: {expression!r}")
    kind, body = m.groups()
    if kind == "rate":
        rm = re.fullmatch(r"\s*(\d+)\s+(\w+)\s*", body)
        if not rm or rm.group(2) not in _UNITS or int(rm.group(1)) < 1:
            raise ValueError(f"bad rate expression: {expression!r}")
        return Rate(expression, timedelta(seconds=int(rm.group(1)) * _UNITS[rm.group(2)]))
    if kind == "cron":
        return Cron.parse(body.strip(), tz)
    when = datetime.fromisoformat(body.strip())
    return At(expression, (when.replace(tzinfo=tz or UTC) if when.tzinfo is None else when).astimezone(UTC))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Schedule:
    name: str
    function: FunctionSpec
    event_name: str
    type: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: str
    timing: Timing
    input: Any = None  # the event's Input, parsed; None for the default scheduled event
    enabled: bool = True
    arn: str = ""
    timezone: str | None = None
    anchor: datetime | None = None
    next_at: datetime | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": self.function.name,
            "event": self.event_name,
            "type": self.type,
            "expression": self.expression,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "next_fire": iso(self.next_at) if self.next_at and self.enabled else None,
        }


@dataclass
class Firing:
    name: str
    function: str
    trigger: str  # schedule | catch-up | manual
    time: str  # the local clock when it fired
    outcome: str  # ok | error
    duration_ms: int
    error: str | None = None


def schedules_from_template(
    template: dict[str, Any],
    refs: Mapping[str, str] | None = None,
    *,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Schedule]:
    """Every Schedule / ScheduleV2 event of every function, named by event id (Function.Event if ambiguous)."""
    refs = refs if refs is not None else local_refs(template)
    found: list[Schedule] = []
    for spec in function_specs(template).values():
        for event_name, ev in spec.events.items():
            kind = ev.get("Type")
            if kind not in ("Schedule", "ScheduleV2"):
                continue
            props = ev.get("Properties") or {}
            raw = props.get("Schedule" if kind == "Schedule" else "ScheduleExpression")
            expression = resolve(raw, refs)
            timezone = props.get("ScheduleExpressionTimezone")
            state = str(resolve(props["State"], refs)).upper() if "State" in props else "ENABLED"
            enabled = state == "ENABLED" and str(props.get("Enabled", True)).lower() != "false"
            data = props.get("Input")
            if data is not None:
                text = resolve(data, refs)
                try:
                    data = json.loads(text)
                except ValueError:
                    data = text
            rule = props.get("Name") or f"{spec.name}-{event_name}"
            arn = (
                f"arn:aws:events:{region}:{account}:rule/{rule}"
                if kind == "Schedule"
                else f"arn:aws:scheduler:{region}:{account}:schedule/{props.get('GroupName', 'default')}/{rule}"
            )
            found.append(
                Schedule(
                    event_name,
                    spec,
                    event_name,
                    kind,
                    expression,
                    parse_expression(expression, timezone),
                    data,
                    enabled,
                    arn,
                    timezone,
                )
            )
    counts: dict[str, int] = {}
    for s in found:
        counts[s.event_name] = counts.get(s.event_name, 0) + 1
    out = {}
    for s in found:
        if counts[s.event_name] > 1:
            s.name = f"{s.function.name}.{s.event_name}"
        out[s.name] = s
    return out


class UnknownSchedule(KeyError):
    pass


class Scheduler:
    """Fires the template's schedules on the local clock from a background thread, and on demand."""

    def __init__(
        self,
        template: dict[str, Any],
        refs: Mapping[str, str] | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        invoker: Callable[[FunctionSpec, dict[str, Any]], Any] = invoke,
        account: str = ACCOUNT,
        region: str = REGION,
        history: int = 500,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if now is None:
            from billing import clock

            now = clock.now
        self._now = now
        self._invoke = invoker
        self.account, self.region = account, region
        self.schedules = schedules_from_template(template, refs, account=account, region=region)
        self.history: deque[Firing] = deque(maxlen=history)
        self._log = log or (lambda line: None)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_now = self._now()
        for s in self.schedules.values():
            self._plan(s, self._last_now, reset_anchor=True)

    # ------------------------------------------------------------------ timing
    def _plan(self, schedule: Schedule, now: datetime, *, reset_anchor: bool = False) -> None:
        if reset_anchor or schedule.anchor is None:
            schedule.anchor = now
        schedule.next_at = schedule.timing.next_after(now, schedule.anchor)

    def now(self) -> datetime:
        return self._now()

    def run_due(self) -> list[Firing]:
        """Fire every enabled schedule whose next fire time has come, once each; plan the next one."""
        with self._lock:
            now = self._now()
            fired = []
            if now < self._last_now - timedelta(seconds=1):  # the clock went back: plan again from now
                for s in self.schedules.values():
                    self._plan(s, now, reset_anchor=True)
            for s in self.schedules.values():
                if s.enabled and s.next_at is not None and s.next_at <= now:
                    late = now - s.next_at > timedelta(minutes=1)
                    fired.append(self._fire(s, "catch-up" if late else "schedule", now))
                    self._plan(s, now)
            self._last_now = now
            return fired

    # ----------------------------------------------------------------- firing
    def event_for(self, schedule: Schedule, at: datetime) -> dict[str, Any]:
        """The event EventBridge sends the target: the Input when set, else a Scheduled Event.

        An EventBridge rule (Schedule) sends source aws.events and detail {}; EventBridge Scheduler
        (ScheduleV2) sends its default notification: source aws.scheduler, the schedule's ARN, and
        detail as the string "{}" (as captured from AWS).
        """
        if schedule.input is not None:
            return schedule.input  # type: ignore[no-any-return]
        rule = schedule.type == "Schedule"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events" if rule else "aws.scheduler",
            "account": self.account,
            "time": iso(at),
            "region": self.region,
            "resources": [schedule.arn],
            "detail": {} if rule else "{}",
        }

    def resolve_name(self, name: str) -> Schedule:
        if name in self.schedules:
            return self.schedules[name]
        matches = [
            s
            for s in self.schedules.values()
            if name in (f"{s.function.name}.{s.event_name}", s.function.name)
        ]
        if len(matches) == 1:
            return matches[0]
        raise UnknownSchedule(name)

    def fire(self, name: str) -> Firing:
        """Fire a schedule now (on demand), whatever its state; its plan is unchanged."""
        schedule = self.resolve_name(name)
        with self._lock:
            return self._fire(schedule, "manual", self._now())

    def _fire(self, schedule: Schedule, trigger: str, now: datetime) -> Firing:
        event = self.event_for(schedule, now)
        started = time.monotonic()
        error = None
        try:
            self._invoke(schedule.function, event)
        except Exception as exc:  # EventBridge records a failed invocation and moves on
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
        firing = Firing(
            schedule.name,
            schedule.function.name,
            trigger,
            iso(now),
            "error" if error else "ok",
            int((time.monotonic() - started) * 1000),
            error,
        )
        self.history.append(firing)
        self._log(
            f"schedule {schedule.name} -> {schedule.function.name} ({trigger}): {firing.outcome}"
            + (f" {error}" if error else "")
            + f" {firing.duration_ms}ms"
        )
        return firing

    # ------------------------------------------------------------------- state
    def status(self) -> dict[str, Any]:
        with self._lock:
            last: dict[str, Firing] = {}
            for f in self.history:
                last[f.name] = f
            return {
                "now": iso(self._now()),
                "schedules": [
                    {**s.summary(), "last_firing": asdict(last[s.name]) if s.name in last else None}
                    for s in self.schedules.values()
                ],
                "history": [asdict(f) for f in self.history],
            }

    # ------------------------------------------------------------------ thread
    def start(self) -> Scheduler:
        if self.schedules and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                traceback.print_exc()
            upcoming = [s.next_at for s in self.schedules.values() if s.enabled and s.next_at]
            wait = 1.0  # the clock file may be moved by another process: look at least every second
            if upcoming:
                wait = max(0.05, min(wait, (min(upcoming) - self._now()).total_seconds()))
            self._stop.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None
