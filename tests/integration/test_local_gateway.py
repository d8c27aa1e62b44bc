"""The local HTTP gateway over a real socket: the sample stack's routes, a crashing handler (500, and
the gateway keeps serving), a busy port, and the /_local control routes."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from billing import clock as billing_clock
from local.dispatch import Dispatcher
from local.functions import function_environment, local_refs
from local.gateway import Gateway, LocalControl, PortInUse, add_months, apply_duration
from local.scheduler import Scheduler
from tests.fixtures.sample_stack.helpers import sample_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    template = sample_template()
    refs = local_refs(template, extra={"SampleQueue": "http://127.0.0.1:9/unused"})
    os.environ.update(function_environment(template, refs))
    return template


@pytest.fixture
def clock(tmp_path) -> Iterator[billing_clock.OffsetClock]:
    offset_clock = billing_clock.OffsetClock(tmp_path / "clock.json")
    previous = billing_clock.set_clock(offset_clock)
    yield offset_clock
    billing_clock.set_clock(previous)


@pytest.fixture
def gateway(template, clock) -> Iterator[tuple[Gateway, list[str], list[dict[str, Any]]]]:
    lines: list[str] = []
    fired: list[dict[str, Any]] = []
    scheduler = Scheduler(template, invoker=lambda spec, event: fired.append(event))
    control = LocalControl(clock=clock, scheduler=scheduler, mail=lambda: [{"subject": "hi"}])
    gw = Gateway(Dispatcher(template=template), port=0, control=control, log=lines.append).start()
    yield gw, lines, fired
    gw.stop()


def test_routes_from_the_template_are_served(gateway):
    gw, lines, _ = gateway
    r = requests.get(f"{gw.url}/ok?x=1", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"ok": True, "route": "GET /ok"}
    assert r.headers["x-sample"] == "ok"
    assert requests.get(f"{gw.url}/nope", timeout=5).status_code == 404
    assert requests.post(f"{gw.url}/ok", timeout=5).status_code == 404  # GET only
    head = requests.head(f"{gw.url}/nope", timeout=5)
    assert head.status_code == 404
    assert head.content == b""
    assert lines[0].startswith("GET /ok?x=1 200 ") and lines[0].endswith("ms")


def test_a_crashing_handler_is_a_500_and_the_gateway_keeps_serving(gateway):
    gw, lines, _ = gateway
    with requests.Session() as s:  # the same keep-alive connection before and after the crash
        boom = s.get(f"{gw.url}/boom", timeout=5)
        assert boom.status_code == 500
        assert boom.json() == {"message": "Internal Server Error"}
        assert s.get(f"{gw.url}/ok", timeout=5).status_code == 200
    assert requests.get(f"{gw.url}/ok", timeout=5).status_code == 200
    # the access line is written once the response is sent: the client may read it first
    deadline = time.monotonic() + 5
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [line.split()[:3] for line in lines] == [
        ["GET", "/boom", "500"],
        ["GET", "/ok", "200"],
        ["GET", "/ok", "200"],
    ]


def test_a_busy_port_is_reported_with_the_port_and_how_to_change_it(gateway):
    gw, _, _ = gateway
    with pytest.raises(PortInUse) as err:
        Gateway(port=gw.port)
    assert str(gw.port) in str(err.value)
    assert "make run PORT=3100" in str(err.value)


def test_a_body_is_read_by_content_length_and_chunked(gateway):
    gw, _, _ = gateway
    r = requests.post(f"{gw.url}/_local/clock", data=json.dumps({"advance": "PT1H"}), timeout=5)
    assert r.status_code == 200
    chunked = requests.post(f"{gw.url}/_local/clock", data=iter([b'{"adv', b'ance": "PT1H"}']), timeout=5)
    assert chunked.status_code == 200, chunked.text
    assert chunked.json()["offset_seconds"] == pytest.approx(7200, abs=2)


def test_clock_routes_move_set_and_reset_the_clock(gateway, clock):
    gw, _, _ = gateway
    got = requests.get(f"{gw.url}/_local/clock", timeout=5).json()
    assert got["offset_seconds"] == 0
    before = clock.now()
    moved = requests.post(f"{gw.url}/_local/clock", json={"advance": "P3D"}, timeout=5).json()
    assert moved["offset_seconds"] == pytest.approx(3 * 86400, abs=2)
    assert clock.now() - before == pytest.approx(timedelta(days=3), abs=timedelta(seconds=2))

    requests.post(f"{gw.url}/_local/clock", json={"set": "2025-01-31T12:00:00Z"}, timeout=5)
    assert abs(clock.now() - datetime(2025, 1, 31, 12, tzinfo=UTC)) < timedelta(seconds=2)
    month = requests.post(f"{gw.url}/_local/clock", json={"advance": "P1M"}, timeout=5).json()
    assert month["now"].startswith("2025-02-28T12:00")  # calendar month, day clamped

    assert (
        requests.post(f"{gw.url}/_local/clock", json={"reset": True}, timeout=5).json()["offset_seconds"] == 0
    )
    for bad in ({"advance": "one month"}, {"set": "yesterday"}, {}, [1]):
        assert requests.post(f"{gw.url}/_local/clock", json=bad, timeout=5).status_code == 400
    assert requests.post(f"{gw.url}/_local/clock", data=b"{", timeout=5).status_code == 400


def test_moving_the_clock_fires_due_schedules_before_answering(gateway, clock):
    gw, _, fired = gateway
    moved = requests.post(f"{gw.url}/_local/clock", json={"advance": "P1D"}, timeout=5).json()
    assert sorted(f["name"] for f in moved["fired"]) == ["EveryMinute", "Nightly"]
    assert len(fired) == 2
    listing = requests.get(f"{gw.url}/_local/schedules", timeout=5).json()
    assert {s["name"] for s in listing["schedules"]} == {"EveryMinute", "Nightly"}
    assert len(listing["history"]) == 2


def test_fire_a_schedule_on_demand(gateway):
    gw, _, fired = gateway
    r = requests.post(f"{gw.url}/_local/schedules/EveryMinute/fire", timeout=5)
    assert r.status_code == 200
    assert r.json()["trigger"] == "manual"
    assert fired[0]["detail-type"] == "Scheduled Event"
    assert requests.post(f"{gw.url}/_local/schedules/Nope/fire", timeout=5).status_code == 404
    assert requests.get(f"{gw.url}/_local/schedules/EveryMinute/fire", timeout=5).status_code == 405


def test_local_index_mail_and_missing_parts(gateway):
    gw, _, _ = gateway
    index = requests.get(f"{gw.url}/_local", timeout=5).json()
    assert any(r.startswith("POST /_local/clock") for r in index["routes"])
    assert requests.get(f"{gw.url}/_local/mail", timeout=5).json() == {"messages": [{"subject": "hi"}]}
    assert requests.get(f"{gw.url}/_local/queues", timeout=5).status_code == 404  # no pollers here
    assert requests.get(f"{gw.url}/_local/nothing", timeout=5).status_code == 404


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        ("2025-01-31T10:00:00", "P1M", "2025-02-28T10:00:00"),
        ("2024-01-31T10:00:00", "P1M", "2024-02-29T10:00:00"),
        ("2025-01-15T10:00:00", "P1Y2M3DT4H5M6S", "2026-03-18T14:05:06"),
        ("2025-01-15T10:00:00", "P2W", "2025-01-29T10:00:00"),
        ("2025-01-15T10:00:00", "PT2H", "2025-01-15T12:00:00"),
        ("2025-03-01T00:00:00", "-P1D", "2025-02-28T00:00:00"),
        ("2025-01-15T10:00:00", "PT0.5S", "2025-01-15T10:00:00.500000"),
    ],
)
def test_iso_durations(start, duration, expected):
    moved = apply_duration(datetime.fromisoformat(start).replace(tzinfo=UTC), duration)
    assert moved == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("bad", ["", "P", "PT", "1M", "P1H", "P1DT", "month"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        apply_duration(datetime(2025, 1, 1, tzinfo=UTC), bad)


def test_add_months_across_a_year():
    assert add_months(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(2026, 2, 28, tzinfo=UTC)


def test_port_in_use_by_another_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse):
            Gateway(port=port)
