"""The local scheduler: AWS cron/rate parsing, firing on demand and on the (moved) local clock,
the real sample function writing to DynamoDB Local."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing import clock as billing_clock
from local.functions import function_environment, invoke, local_refs
from local.scheduler import Cron, Rate, Scheduler, UnknownSchedule, parse_expression
from local.template import create_tables
from tests.fixtures.sample_stack.helpers import items, sample_template

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 15, 10, 0, 0, tzinfo=UTC)  # a Wednesday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------- cron
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # daily at 03:00 UTC: the same day when before 03:00, else the next (month rollover)
        ("cron(0 3 * * ? *)", utc(2025, 1, 31, 2, 59, 30), utc(2025, 1, 31, 3, 0)),
        ("cron(0 3 * * ? *)", utc(2025, 1, 31, 3, 0), utc(2025, 2, 1, 3, 0)),
        # steps: 0/15 = 0,15,30,45
        ("cron(0/15 * * * ? *)", utc(2025, 1, 1, 10, 7), utc(2025, 1, 1, 10, 15)),
        ("cron(0/15 * * * ? *)", utc(2025, 1, 1, 10, 45), utc(2025, 1, 1, 11, 0)),
        # every 5 minutes in office hours on weekdays: Friday 17:56 -> Monday 09:00
        ("cron(*/5 9-17 ? * MON-FRI *)", utc(2025, 1, 3, 17, 56), utc(2025, 1, 6, 9, 0)),
        # lists of days and months, one year only
        ("cron(30 1 1,15 JAN,JUL ? 2026)", utc(2025, 6, 1), utc(2026, 1, 1, 1, 30)),
        ("cron(30 1 1,15 JAN,JUL ? 2026)", utc(2026, 1, 1, 1, 30), utc(2026, 1, 15, 1, 30)),
        # L: the last day of the month (leap February)
        ("cron(0 0 L * ? *)", utc(2024, 2, 10), utc(2024, 2, 29)),
        ("cron(0 0 L * ? *)", utc(2025, 2, 10), utc(2025, 2, 28)),
        # 6L: the last Friday (Jan 31 2025 is a Friday)
        ("cron(0 12 ? * 6L *)", utc(2025, 1, 1), utc(2025, 1, 31, 12, 0)),
        # 2#1: the first Monday
        ("cron(0 8 ? * 2#1 *)", utc(2025, 1, 1), utc(2025, 1, 6, 8, 0)),
        # 15W: Feb 15 2025 is a Saturday -> Friday the 14th
        ("cron(0 9 15W * ? *)", utc(2025, 2, 1), utc(2025, 2, 14, 9, 0)),
        # LW: May 31 2025 is a Saturday -> Friday the 30th
        ("cron(0 18 LW * ? *)", utc(2025, 5, 1), utc(2025, 5, 30, 18, 0)),
        # the first of every month at midnight (the billing run shape)
        ("cron(0 0 1 * ? *)", utc(2025, 12, 15), utc(2026, 1, 1)),
    ],
)
def test_cron_next_fire_time(expression, after, expected):
    assert parse_expression(expression).next_after(after) == expected


def test_cron_in_a_time_zone_follows_daylight_saving():
    nine_in_new_york = parse_expression("cron(0 9 * * ? *)", "America/New_York")
    assert nine_in_new_york.next_after(utc(2025, 1, 10)) == utc(2025, 1, 10, 14, 0)  # EST, UTC-5
    assert nine_in_new_york.next_after(utc(2025, 7, 10)) == utc(2025, 7, 10, 13, 0)  # EDT, UTC-4


def test_cron_with_no_more_fire_times():
    assert parse_expression("cron(0 0 1 1 ? 2020)").next_after(utc(2021, 1, 1)) is None


def test_rate_keeps_to_the_grid_of_its_start():
    rate = parse_expression("rate(1 hour)")
    assert isinstance(rate, Rate)
    anchor = utc(2025, 1, 1, 10, 0)
    assert rate.next_after(utc(2025, 1, 1, 10, 0), anchor) == utc(2025, 1, 1, 11, 0)
    assert rate.next_after(utc(2025, 1, 1, 13, 30), anchor) == utc(2025, 1, 1, 14, 0)
    assert parse_expression("rate(5 minutes)").next_after(utc(2025, 1, 1, 0, 4), utc(2025, 1, 1)) == utc(
        2025, 1, 1, 0, 5
    )


def test_at_fires_once():
    at = parse_expression("at(2025-03-01T12:00:00)")
    assert at.next_after(utc(2025, 1, 1)) == utc(2025, 3, 1, 12, 0)
    assert at.next_after(utc(2025, 3, 1, 12, 0)) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 * * * *)",  # day-of-month and day-of-week both set
        "cron(0 3 ? * ? *)",  # both '?'
        "cron(0 3 * * ?)",  # five fields
        "cron(60 3 * * ? *)",  # minute out of range
        "cron(0 24 * * ? *)",  # hour out of range
        "cron(0 3 * FOO ? *)",  # unknown month name
        "cron(0 3 ? * 2#6 *)",  # no sixth Monday
        "cron(0/0 3 * * ? *)",  # step 0
        "cron(0 5-3 * * ? *)",  # backwards range
        "rate(0 minutes)",
        "rate(1 fortnight)",
        "every day",
    ],
)
def test_invalid_expressions_are_refused(expression):
    with pytest.raises(ValueError):
        parse_expression(expression)


def test_cron_parses_names_and_lists():
    cron = parse_expression("cron(0,30 8,20 ? JAN-MAR SUN,SAT 2025-2026)")
    assert isinstance(cron, Cron)
    assert cron.minutes == (0, 30)
    assert cron.hours == (8, 20)
    assert cron.months == {1, 2, 3}
    assert cron.years == (2025, 2026)
    assert cron.next_after(utc(2025, 1, 1)) == utc(2025, 1, 4, 8, 0)  # Saturday Jan 4


# ---------------------------------------------------------------------------------------- scheduler
@pytest.fixture(scope="module")
def sample(dynamodb_endpoint: str) -> dict[str, Any]:
    """The sample stack's table in DynamoDB Local and its functions' environment."""
    import os

    import boto3

    template = sample_template()
    create_tables(boto3.client("dynamodb", endpoint_url=dynamodb_endpoint), template)
    refs = local_refs(template, extra={"SampleQueue": "http://127.0.0.1:9/unused"})  # no queue used here
    os.environ.update(function_environment(template, refs))
    return {"template": template, "refs": refs, "table": refs["SampleTable"]}


@pytest.fixture
def clock(tmp_path) -> Iterator[billing_clock.OffsetClock]:
    """The stack's offset clock, set to T0, installed for the handlers."""
    offset_clock = billing_clock.OffsetClock(tmp_path / "clock.json")
    offset_clock.set_offset(T0 - datetime.now(UTC))
    previous = billing_clock.set_clock(offset_clock)
    yield offset_clock
    billing_clock.set_clock(previous)


@pytest.fixture
def scheduler(sample, clock) -> Scheduler:
    events: list[dict[str, Any]] = []

    def invoker(spec, event):
        events.append(event)
        return invoke(spec, event)

    s = Scheduler(sample["template"], sample["refs"], invoker=invoker)
    s.events = events  # type: ignore[attr-defined]
    return s


def test_schedules_come_from_the_template(scheduler):
    assert set(scheduler.schedules) == {"EveryMinute", "Nightly"}
    every = scheduler.schedules["EveryMinute"]
    assert every.function.name == "SampleFunction"
    assert every.expression == "rate(1 minute)"
    assert every.next_at - T0 < timedelta(minutes=1, seconds=5)
    nightly = scheduler.schedules["Nightly"]
    assert nightly.type == "ScheduleV2"
    assert nightly.next_at == utc(2025, 1, 16, 3, 0)


def test_fire_on_demand_sends_a_scheduled_event_to_the_real_function(scheduler, sample, clock):
    firing = scheduler.fire("EveryMinute")
    assert firing.outcome == "ok", firing.error
    assert firing.trigger == "manual"
    (event,) = scheduler.events
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/SampleFunction-EveryMinute"]
    assert event["time"].startswith("2025-01-15T10:00")  # the local clock, not the real one
    stored = items(sample["table"], "schedule")[event["id"]]
    assert json.loads(stored["event"]) == event
    assert stored["handler_now"].startswith("2025-01-15T10:00")  # the handler reads the moved clock too


def test_fire_sends_the_input_when_the_event_has_one(scheduler):
    assert scheduler.fire("Nightly").outcome == "ok"
    assert scheduler.events == [{"job": "nightly"}]


def test_fire_unknown_schedule(scheduler):
    with pytest.raises(UnknownSchedule):
        scheduler.fire("Nope")


def test_fires_at_its_rate_when_the_clock_moves(scheduler, clock):
    assert scheduler.run_due() == []  # nothing is due at start
    clock.set_offset(clock.offset() + timedelta(seconds=61))
    fired = scheduler.run_due()
    assert [(f.name, f.trigger, f.outcome) for f in fired] == [("EveryMinute", "schedule", "ok")]
    assert scheduler.run_due() == []  # once per due time
    assert scheduler.schedules["EveryMinute"].next_at > clock.now()


def test_a_big_jump_fires_each_schedule_once_not_every_missed_time(scheduler, clock, sample):
    clock.set_offset(clock.offset() + timedelta(days=3))
    fired = scheduler.run_due()
    assert sorted((f.name, f.trigger) for f in fired) == [
        ("EveryMinute", "catch-up"),
        ("Nightly", "catch-up"),
    ]
    assert all(f.outcome == "ok" for f in fired)
    assert len(scheduler.events) == 2  # not 4320 + 3
    now = clock.now()
    assert now < scheduler.schedules["EveryMinute"].next_at <= now + timedelta(minutes=1)
    assert scheduler.schedules["Nightly"].next_at == utc(2025, 1, 19, 3, 0)
    assert scheduler.run_due() == []


def test_clock_moved_back_replans_without_firing(scheduler, clock):
    clock.set_offset(clock.offset() - timedelta(days=10))
    assert scheduler.run_due() == []
    assert scheduler.schedules["Nightly"].next_at == utc(2025, 1, 6, 3, 0)


def test_background_thread_fires_on_the_moved_clock(scheduler, clock):
    scheduler.start()
    try:
        time.sleep(0.3)
        assert list(scheduler.history) == []
        clock.set_offset(clock.offset() + timedelta(minutes=1, seconds=1))
        deadline = time.monotonic() + 5
        while not scheduler.history and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert [f.name for f in scheduler.history] == ["EveryMinute"]
    status = scheduler.status()
    every = next(s for s in status["schedules"] if s["name"] == "EveryMinute")
    assert every["last_firing"]["outcome"] == "ok"


def test_a_failing_function_is_recorded_and_the_scheduler_goes_on(sample, clock):
    def boom(spec, event):
        raise RuntimeError("down")

    s = Scheduler(sample["template"], sample["refs"], invoker=boom)
    clock.set_offset(clock.offset() + timedelta(minutes=2))
    (firing,) = s.run_due()
    assert firing.outcome == "error"
    assert "RuntimeError: down" in firing.error
    assert s.status()["history"][0]["outcome"] == "error"


def test_a_disabled_schedule_only_fires_on_demand(sample, clock):
    template = sample_template()
    events = template["Resources"]["SampleFunction"]["Properties"]["Events"]
    events["EveryMinute"]["Properties"]["Enabled"] = False
    fired: list[Any] = []
    s = Scheduler(template, sample["refs"], invoker=lambda spec, event: fired.append(event))
    clock.set_offset(clock.offset() + timedelta(minutes=5))
    assert s.run_due() == []
    assert s.fire("EveryMinute").outcome == "ok"
    assert len(fired) == 1


def test_a_schedule_v2_without_input_sends_eventbridge_schedulers_default_notification(sample, clock):
    template = sample_template()
    del template["Resources"]["SampleFunction"]["Properties"]["Events"]["Nightly"]["Properties"]["Input"]
    events: list[dict[str, Any]] = []
    s = Scheduler(template, sample["refs"], invoker=lambda spec, event: events.append(event))
    assert s.fire("Nightly").outcome == "ok"
    (event,) = events
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/SampleFunction-Nightly"
    ]
    assert event["detail"] == "{}"
