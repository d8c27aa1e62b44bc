"""The local stack on the sample template: HTTP -> SQS -> worker with a partial batch failure ->
dead-letter queue, schedules fired by moving the clock and on demand, a crashing route."""

from __future__ import annotations

import pytest
import requests

from tests.fixtures.sample_stack.helpers import TEMPLATE

pytestmark = pytest.mark.e2e


def test_sample_stack_end_to_end(start_stack, tmp_path):
    stack = start_stack("--in-memory", "--data-dir", str(tmp_path), "--template", str(TEMPLATE)).ready()
    url = stack.url
    assert "Admin API key" not in stack.output  # no BillingTable in this template
    assert "Schedule        EveryMinute -> SampleFunction  rate(1 minute)" in stack.output
    assert (
        "Queue           SampleQueue -> SampleWorker; dead letters to SampleDLQ after 2 receives"
        in stack.output
    )

    assert requests.get(f"{url}/boom", timeout=10).status_code == 500
    assert requests.get(f"{url}/ok", timeout=10).json()["ok"] is True  # still serving

    sent = requests.post(f"{url}/enqueue", json={"bodies": ["a", "b", "fail-1"]}, timeout=10)
    assert sent.status_code == 202, f"{sent.text}\n{stack.output}"
    drained = requests.post(
        f"{url}/_local/queues/drain", json={"timeout": 20, "wait_invisible": True}, timeout=30
    ).json()
    assert drained["done"] is True
    queues = {q["name"]: q for q in requests.get(f"{url}/_local/queues", timeout=10).json()["queues"]}
    main = queues["SampleQueue"]
    assert (main["visible"], main["in_flight"]) == (0, 0)
    assert main["dlq"]["visible"] == 1
    (consumer,) = main["consumers"]
    assert consumer["deleted"] == 2  # a and b, once each, by the background pollers or the drain
    assert consumer["failed"] == 2  # fail-1, twice, then dead-lettered

    moved = requests.post(f"{url}/_local/clock", json={"advance": "PT2M"}, timeout=30).json()
    assert [(f["name"], f["trigger"], f["outcome"]) for f in moved["fired"]] == [
        ("EveryMinute", "catch-up", "ok")
    ]
    fired = requests.post(f"{url}/_local/schedules/Nightly/fire", timeout=30).json()
    assert fired["outcome"] == "ok"
    history = requests.get(f"{url}/_local/schedules", timeout=10).json()["history"]
    # (on a very slow machine EveryMinute may also have fired on its own, a real minute after start)
    assert [(h["name"], h["trigger"]) for h in history][-2:] == [
        ("EveryMinute", "catch-up"),
        ("Nightly", "manual"),
    ]

    assert stack.stop() == 0
    lines = stack.output.splitlines()
    assert any(line.startswith("GET /boom 500 ") for line in lines)
    assert any(line.startswith("POST /_local/queues/drain 200 ") for line in lines)
