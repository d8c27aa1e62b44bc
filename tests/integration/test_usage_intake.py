"""Usage intake (POST /v1/events, /v1/events/batch) and current usage, against DynamoDB Local."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"


# --------------------------------------------------------------------------- data


def _key(app_env: dict[str, str], role: str) -> str:
    from billing.models.api_keys import Role
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    _, token = create_api_key(
        ApiKeyRepository(table_name=app_env["BILLING_TABLE"]), name=role, role=Role(role)
    )
    return token


@pytest.fixture(scope="session")
def usage_key(app_env: dict[str, str]) -> str:
    return _key(app_env, "usage")


def make_customer(app_env: dict[str, str], *, external_id: str | None = None) -> Any:
    from billing.models.customers import Customer
    from billing.repositories.customers import CustomerRepository

    repo = CustomerRepository(table_name=app_env["BILLING_TABLE"])
    if external_id and (existing := repo.resolve(external_id)) is not None:
        return existing
    now = datetime.now(UTC)
    customer = Customer(
        id=f"cus_{secrets.token_hex(8)}",
        external_id=external_id or f"ext-{secrets.token_hex(6)}",
        name="Usage Test",
        currency="eur",
        invoice_prefix="U" + secrets.token_hex(3).upper(),
        created_at=now,
        updated_at=now,
    )
    repo.create(customer)
    return customer


def make_metric(
    app_env: dict[str, str], code: str, aggregation: str, field: str | None = None, **extra: Any
) -> Any:
    from billing.models.catalog import Metric
    from billing.repositories.catalog import MetricRepository

    repo = MetricRepository(table_name=app_env["BILLING_TABLE"])
    existing = repo.get(code)
    if existing is not None:
        return existing
    now = datetime.now(UTC)
    metric = Metric(
        code=code, name=code, aggregation=aggregation, field=field, created_at=now, updated_at=now, **extra
    )  # type: ignore[arg-type]
    repo.create(metric)
    return metric


@pytest.fixture(scope="session")
def metrics(app_env: dict[str, str]) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    return {
        "calls": make_metric(app_env, f"t{tag}_calls", "count"),
        "tokens": make_metric(app_env, f"t{tag}_tokens", "sum", "tokens"),
        "peak": make_metric(app_env, f"t{tag}_peak", "max", "gb"),
        "users": make_metric(app_env, f"t{tag}_users", "unique_count", "user"),
        "level": make_metric(app_env, f"t{tag}_level", "latest", "level"),
        "seats": make_metric(app_env, f"t{tag}_seats", "weighted_sum", "delta"),
        "by_region": make_metric(app_env, f"t{tag}_by_region", "sum", "tokens", group_by="region"),
        "eu_calls": make_metric(app_env, f"t{tag}_eu_calls", "count", filters={"region": ["eu"]}),
    }


@pytest.fixture
def customer(app_env: dict[str, str]) -> Any:
    return make_customer(app_env)


def ev(
    event_id: str, customer: Any, metric: Any, *, at: datetime | None = None, **properties: Any
) -> dict[str, Any]:
    at = at or datetime.now(UTC) - timedelta(minutes=1)
    return {
        "id": event_id,
        "customer": customer.id,
        "metric": metric.code,
        "timestamp": at.isoformat(),
        "properties": properties,
    }


def stored(app_env: dict[str, str], customer_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every UsageTable item of the customer (events and roll-ups), keyed by (pk, sk)."""
    import boto3

    table = boto3.resource("dynamodb").Table(app_env["USAGE_TABLE"])
    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        for item in page["Items"]:
            if item["pk"].startswith((f"USAGE#{customer_id}#", f"ROLLUP#{customer_id}#")):
                items[(item["pk"], item["sk"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_events(app_env: dict[str, str], customer_id: str) -> dict[str, dict[str, Any]]:
    return {
        sk.removeprefix("EVENT#"): item
        for (pk, sk), item in stored(app_env, customer_id).items()
        if pk.startswith("USAGE#")
    }


def usage_repository_class() -> Any:
    from billing.repositories.usage import UsageRepository

    return UsageRepository


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_repository_class(), "_pause", lambda self, seconds: None)


@dataclass
class World:
    """What most tests need: the gateway, a usage key, a fresh customer, the metrics, the tables."""

    call: Any
    key: str
    admin: str
    customer: Any
    metrics: dict[str, Any]
    env: dict[str, str]

    def send(self, events: list[Any], *, key: str | None = None) -> tuple[int, Any]:
        status, _, body = self.call(
            "POST", "/v1/events/batch", key=key or self.key, json_body={"events": events}
        )
        if status == 202:  # the hand-encoded answer has the documented shape (BatchOut), exactly
            model = sys.modules["lambda_UsageIntakeFunction_app"].BatchOut
            assert model.model_validate(body, strict=False).model_dump(mode="json") == body
        return status, body

    def post(self, event: Any, *, key: str | None = None) -> tuple[int, Any]:
        status, _, body = self.call("POST", "/v1/events", key=key or self.key, json_body=event)
        return status, body

    def stored(self) -> dict[tuple[str, str], dict[str, Any]]:
        return stored(self.env, self.customer.id)

    def stored_events(self) -> dict[str, dict[str, Any]]:
        return stored_events(self.env, self.customer.id)


@pytest.fixture
def w(request: pytest.FixtureRequest, customer: Any, metrics: dict[str, Any]) -> World:
    return World(
        call=request.getfixturevalue("call"),
        key=request.getfixturevalue("usage_key"),
        admin=request.getfixturevalue("admin_key"),
        customer=customer,
        metrics=metrics,
        env=request.getfixturevalue("app_env"),
    )


# --------------------------------------------------------------------------- batches


def test_batch_is_answered_per_event(w):
    now = datetime.now(UTC)
    c, m = w.customer, w.metrics
    batch = [
        ev("a-1", c, m["calls"]),
        ev("a-2", c, m["tokens"], tokens=12),
        ev("a-1", c, m["calls"]),  # repeated in the batch: the first wins
        {**ev("a-3", c, m["calls"]), "customer": c.external_id},  # by external id
        {**ev("a-4", c, m["calls"]), "customer": "nobody-here"},
        ev("a-5", c, m["tokens"], tokens="twelve"),
        ev("a-6", c, m["tokens"]),  # the metric's field is missing
        {**ev("a-7", c, m["calls"]), "metric": "no_such_metric"},
        ev("a-8", c, m["calls"], at=now - timedelta(days=36)),
        ev("a-9", c, m["calls"], at=now + timedelta(minutes=10)),
        {"customer": c.id, "metric": m["calls"].code, "timestamp": now.isoformat()},  # no id
        {**ev("a-11", c, m["calls"]), "timestamp": "2026-11-20T10:00:00"},  # no offset
        {**ev("a-12", c, m["calls"]), "properties": {"nested": {"x": 1}}},
        "not an event",
        {**ev("a-1", c, m["calls"]), "customer": c.external_id},  # the same customer's a-1 again
    ]
    status, body = w.send(batch)
    assert status == 202, body
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))
    got = [(r["id"], r["status"], r["code"], r["param"]) for r in results]
    assert got == [
        ("a-1", "accepted", None, None),
        ("a-2", "accepted", None, None),
        ("a-1", "duplicate", None, None),
        ("a-3", "accepted", None, None),
        ("a-4", "rejected", "unknown_customer", "customer"),
        ("a-5", "rejected", "invalid_property", "properties.tokens"),
        ("a-6", "rejected", "invalid_property", "properties.tokens"),
        ("a-7", "rejected", "unknown_metric", "metric"),
        ("a-8", "rejected", "timestamp_too_old", "timestamp"),
        ("a-9", "rejected", "timestamp_in_future", "timestamp"),
        (None, "rejected", "missing_field", "id"),
        ("a-11", "rejected", "invalid_timestamp", "timestamp"),
        ("a-12", "rejected", "invalid_property", "properties"),
        (None, "rejected", "invalid_event", None),
        ("a-1", "duplicate", None, None),
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 2, 10)
    assert all(r["message"] for r in results if r["status"] == "rejected")
    assert not any(r["retryable"] for r in results)
    assert set(w.stored_events()) == {"a-1", "a-2", "a-3"}


def test_resent_batch_changes_nothing(w):
    batch = [ev(f"r-{i}", w.customer, w.metrics["tokens"], tokens=i) for i in range(60)]
    batch.append(ev("r-bad", w.customer, w.metrics["tokens"], tokens="x"))
    status, first = w.send(batch)
    assert status == 202 and first["accepted"] == 60
    before = w.stored()
    status, second = w.send(batch)
    assert status == 202
    assert [r["status"] for r in second["results"]] == ["duplicate"] * 60 + ["rejected"]
    assert w.stored() == before  # the same items, payloads and roll-ups


def test_duplicate_with_another_payload_changes_nothing(w):
    status, body = w.post(ev("d-1", w.customer, w.metrics["tokens"], tokens=5))
    assert (status, body["status"]) == (202, "accepted")
    before = w.stored()
    other = ev("d-1", w.customer, w.metrics["peak"], at=datetime.now(UTC) - timedelta(hours=3), gb=99)
    status, body = w.post(other)
    assert (status, body) == (202, {"object": "event", "id": "d-1", "status": "duplicate"})
    status, body = w.send([other])
    assert body["results"][0]["status"] == "duplicate"
    assert w.stored() == before
    event = w.stored_events()["d-1"]
    assert event["metric"] == w.metrics["tokens"].code
    assert json.loads(event["properties"]) == {"tokens": 5}


def test_same_id_for_two_customers_is_two_events(w):
    one, two = make_customer(w.env), make_customer(w.env)
    _, body = w.send([ev("shared-1", one, w.metrics["calls"]), ev("shared-1", two, w.metrics["calls"])])
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]


def test_single_event_answers(w):
    status, body = w.post(ev("s-1", w.customer, w.metrics["tokens"], tokens="1.5e3"))
    assert (status, body["status"]) == (202, "accepted")
    status, body = w.post({**ev("s-2", w.customer, w.metrics["calls"]), "customer": "ghost"})
    assert status == 422
    assert (body["error"]["code"], body["error"]["param"]) == ("unknown_customer", "customer")
    status, body = w.post([ev("s-3", w.customer, w.metrics["calls"])])
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert set(w.stored_events()) == {"s-1"}
    assert json.loads(w.stored_events()["s-1"]["properties"]) == {"tokens": "1.5e3"}  # as sent


@pytest.mark.parametrize("role", ["read_only", "billing"])
def test_only_usage_and_admin_may_send(w, role):
    event = ev(f"role-{role}", w.customer, w.metrics["calls"])
    key = _key(w.env, role)
    for status, body in (w.post(event, key=key), w.send([event], key=key)):
        assert status == 403, body
        assert body["error"]["code"] == "insufficient_role"
    status, body = w.post(event, key=w.admin)
    assert (status, body["status"]) == (202, "accepted")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"events": [', "invalid_json"),
        (b"[]", "invalid_request"),
        (b'{"events": {"id": "x"}}', "invalid_request"),
        (b'{"events": [], "extra": 1}', "invalid_request"),
        (b'{"events": []}', "empty_batch"),
        (b'{"events": [{"id": "x", "tokens": NaN}]}', "invalid_json"),
        (b"", "missing_body"),
    ],
)
def test_malformed_batch_is_400_and_stores_nothing(w, raw, code):
    status, _, body = w.call("POST", "/v1/events/batch", key=w.key, raw=raw)
    assert status == 400, body
    assert body["error"]["code"] == code
    assert w.stored() == {}


def test_more_than_1000_events_is_413(w):
    status, body = w.send([ev(f"big-{i}", w.customer, w.metrics["calls"]) for i in range(1001)])
    assert status == 413
    assert (body["error"]["code"], body["error"]["param"]) == ("too_many_events", "events")
    assert w.stored() == {}


def test_a_full_batch_of_1000_is_accepted(w):
    status, body = w.send([ev(f"full-{i}", w.customer, w.metrics["tokens"], tokens=i) for i in range(1000)])
    assert status == 202
    assert body["accepted"] == 1000
    assert len(w.stored_events()) == 1000


# --------------------------------------------------------------------------- storage failures


def test_unprocessed_items_are_retried(w, monkeypatch, no_backoff):
    """DynamoDB leaves half of each call unprocessed the first time: everything still lands."""
    cls = usage_repository_class()
    real = cls._batch_write
    seen: set[str] = set()
    calls = []

    def half_the_first_time(self, request_items):
        ((table, requests),) = request_items.items()
        calls.append(len(requests))
        first_time = [r for r in requests if r["PutRequest"]["Item"]["sk"]["S"] not in seen]
        seen.update(r["PutRequest"]["Item"]["sk"]["S"] for r in requests)
        if not first_time:
            return real(self, request_items)
        keep, leave = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        response = real(self, {table: keep}) if keep else {}
        return {**response, "UnprocessedItems": {table: leave}}

    monkeypatch.setattr(cls, "_batch_write", half_the_first_time)
    status, body = w.send([ev(f"u-{i}", w.customer, w.metrics["calls"]) for i in range(80)])
    assert status == 202
    assert body["accepted"] == 80
    assert len(w.stored_events()) == 80
    assert len(calls) > 5  # 1 roll-up call + 4 event calls, each retried


def test_persistent_throttling_is_reported_not_accepted(w, monkeypatch, no_backoff):
    cls = usage_repository_class()
    real = cls._batch_write

    def throttle_some(self, request_items):
        ((table, requests),) = request_items.items()
        held = [r for r in requests if "EVENT#hot-" in r["PutRequest"]["Item"]["sk"]["S"]]
        rest = [r for r in requests if r not in held]
        response = real(self, {table: rest}) if rest else {}
        return {**response, "UnprocessedItems": {table: held} if held else {}}

    monkeypatch.setattr(cls, "_batch_write", throttle_some)
    batch = [ev(f"hot-{i}", w.customer, w.metrics["calls"]) for i in range(30)]
    batch += [ev(f"cool-{i}", w.customer, w.metrics["calls"]) for i in range(30)]
    status, body = w.send(batch)
    assert status == 202
    for r in body["results"]:
        if r["id"].startswith("hot-"):
            assert (r["status"], r["code"], r["retryable"]) == ("rejected", "storage_unavailable", True)
        else:
            assert r["status"] == "accepted"
    assert set(w.stored_events()) == {f"cool-{i}" for i in range(30)}

    # the throttle clears: the client resends the whole batch; the stored ones are duplicates
    monkeypatch.setattr(cls, "_batch_write", real)
    status, body = w.send(batch)
    assert [r["status"] for r in body["results"]] == ["accepted"] * 30 + ["duplicate"] * 30
    assert len(w.stored_events()) == 60


def test_nothing_stored_is_503(w, monkeypatch, no_backoff):
    from botocore.exceptions import ClientError

    def refuse(self, request_items):
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise ClientError(error, "BatchWriteItem")

    monkeypatch.setattr(usage_repository_class(), "_batch_write", refuse)
    batch = [ev(f"t-{i}", w.customer, w.metrics["calls"]) for i in range(5)]
    status, body = w.send(batch)
    assert status == 503
    assert body["error"]["code"] == "storage_unavailable"
    status, body = w.post(batch[0])
    assert (status, body["error"]["code"]) == (503, "storage_unavailable")
    assert w.stored() == {}


def test_throttled_duplicate_check_is_reported(w, monkeypatch, no_backoff):
    """Ids that could not be checked are not written (they might be duplicates): storage_unavailable."""
    cls = usage_repository_class()

    def unprocessed(self, request_items):
        ((table, request),) = request_items.items()
        return {"Responses": {table: []}, "UnprocessedKeys": {table: request}}

    monkeypatch.setattr(cls, "_batch_get", unprocessed)
    status, body = w.send([ev("g-1", w.customer, w.metrics["calls"])])
    assert (status, body["error"]["code"]) == (503, "storage_unavailable")
    assert w.stored() == {}


def test_crash_between_rollups_and_events_never_bills_the_lost_event(w, monkeypatch):
    """Roll-ups are written first: a crash before the events leaves a roll-up entry without its event.
    The current-usage view may show it until the client resends; billing checks the events and does not."""
    from billing.repositories.usage import UsageRepository
    from billing.services.usage import read_billable_events

    def crash(self, events, **kwargs):
        raise RuntimeError("the function died here")

    monkeypatch.setattr(UsageRepository, "put_events", crash)
    at = datetime.now(UTC) - timedelta(minutes=5)
    event = ev("c-1", w.customer, w.metrics["tokens"], at=at, tokens=7)
    status, _ = w.post(event)
    assert status == 500
    monkeypatch.undo()
    repo = UsageRepository(table_name=w.env["USAGE_TABLE"], shards=16)
    window = {"start": at - timedelta(hours=1), "end": at + timedelta(hours=1)}
    assert read_billable_events(repo, w.customer.id, **window) == {}
    # the client retries: now stored, and billed once
    status, body = w.post(event)
    assert (status, body["status"]) == (202, "accepted")
    billable = read_billable_events(repo, w.customer.id, **window)
    assert [e.id for e in billable[w.metrics["tokens"].code]] == ["c-1"]


# --------------------------------------------------------------------------- current usage


def test_usage_is_aggregated_per_metric(w):
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    c, m = w.customer, w.metrics
    batch = [
        ev("q-1", c, m["calls"], at=base, region="eu"),
        ev("q-2", c, m["calls"], at=base + timedelta(hours=1), region="us"),
        ev("q-3", c, m["calls"], at=base + timedelta(days=1), region="eu"),
        ev("q-4", c, m["tokens"], at=base, tokens=100),
        ev("q-5", c, m["tokens"], at=base + timedelta(minutes=30), tokens="2.5"),
        ev("q-6", c, m["peak"], at=base, gb=3),
        ev("q-7", c, m["peak"], at=base + timedelta(hours=2), gb="7.25"),
        ev("q-8", c, m["users"], at=base, user="ann"),
        ev("q-9", c, m["users"], at=base + timedelta(hours=1), user="bob"),
        ev("q-10", c, m["users"], at=base + timedelta(hours=2), user="ann"),
        ev("q-11", c, m["level"], at=base + timedelta(hours=5), level=4),
        ev("q-12", c, m["level"], at=base + timedelta(hours=9), level=2),
        ev("q-13", c, m["level"], at=base + timedelta(hours=7), level=8),
        ev("q-14", c, m["seats"], at=base, delta=2),
        ev("q-15", c, m["seats"], at=base + timedelta(hours=12), delta=2),
        ev("q-16", c, m["by_region"], at=base, tokens=10, region="eu"),
        ev("q-17", c, m["by_region"], at=base, tokens=5, region="us"),
        ev("q-18", c, m["by_region"], at=base, tokens=1),
        ev("q-19", c, m["eu_calls"], at=base, region="eu"),
        ev("q-20", c, m["eu_calls"], at=base, region="us"),
    ]
    _, body = w.send(batch)
    assert body["accepted"] == len(batch), body
    _, body = w.send(batch[:3])  # a resend is not counted twice
    assert body["duplicates"] == 3
    start, end = base, base + timedelta(days=1)  # q-3 falls outside (end is exclusive)
    window = f"from={start.isoformat().replace('+00:00', 'Z')}&to={end.isoformat().replace('+00:00', 'Z')}"
    status, _, usage = w.call("GET", f"/v1/customers/{c.external_id}/usage?{window}", key=w.admin)
    assert status == 200, usage
    assert usage["customer_id"] == c.id
    assert (datetime.fromisoformat(usage["from"]), datetime.fromisoformat(usage["to"])) == (start, end)
    by_code = {u["metric"]: u for u in usage["metrics"]}
    assert {name: by_code[metric.code]["quantity"] for name, metric in m.items()} == {
        "calls": "2",  # q-1, q-2 (q-3 is at the window's end)
        "tokens": "102.5",  # 100 + 2.5
        "peak": "7.25",  # max(3, 7.25)
        "users": "2",  # ann, bob
        "level": "2",  # the latest timestamp (q-12, +9 h), whatever the order sent
        "seats": "3",  # 2 held 24 h + 2 held 12 h, over 24 h: (2×24 + 2×12) / 24 = 3
        "by_region": "16",  # 10 + 5 + 1
        "eu_calls": "1",  # the filter region=eu keeps q-19
    }
    assert by_code[m["by_region"].code]["groups"] == [
        {"group": "", "quantity": "1"},
        {"group": "eu", "quantity": "10"},
        {"group": "us", "quantity": "5"},
    ]
    assert by_code[m["calls"].code]["groups"] is None

    status, _, one = w.call(
        "GET", f"/v1/customers/{c.id}/usage?metric={m['calls'].code}&{window}", key=w.admin
    )
    assert [u["metric"] for u in one["metrics"]] == [m["calls"].code]
    # the default window is the last 30 days: q-3 counts too
    _, _, recent = w.call("GET", f"/v1/customers/{c.id}/usage?metric={m['calls'].code}", key=w.admin)
    assert recent["metrics"][0]["quantity"] == "3"


def test_usage_errors(w):
    status, _, body = w.call("GET", "/v1/customers/nobody/usage", key=w.admin)
    assert (status, body["error"]["code"]) == (404, "customer_not_found")
    status, _, body = w.call("GET", f"/v1/customers/{w.customer.id}/usage?metric=nope", key=w.admin)
    assert (status, body["error"]["code"], body["error"]["param"]) == (404, "metric_not_found", "metric")
    backwards = "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z"
    status, _, body = w.call("GET", f"/v1/customers/{w.customer.id}/usage?{backwards}", key=w.admin)
    assert (status, body["error"]["code"]) == (422, "invalid_period")
    status, _, body = w.call("GET", f"/v1/customers/{w.customer.id}/usage", key=w.key)
    assert status == 403


# --------------------------------------------------------------------------- samples


@pytest.fixture
def sample_world(app_env):
    """The customer and metrics events/usage_intake/*.json name, and the clock of their timestamps."""
    from billing import clock

    make_customer(app_env, external_id="acme-sample")
    make_metric(app_env, "api_requests", "count")
    make_metric(app_env, "llm_tokens", "sum", "tokens", group_by="model")
    previous = clock.set_clock(clock.FrozenClock(datetime(2026, 11, 20, 10, 5, tzinfo=UTC)))
    yield
    clock.set_clock(previous)


@pytest.mark.parametrize(("sample", "count"), [("post_event.json", 1), ("post_batch.json", 3)])
def test_samples_are_stored(sample, count, sample_world):
    from local.functions import LambdaContext, function_specs, load_handler

    spec = function_specs()["UsageIntakeFunction"]
    event = json.loads((EVENTS / "usage_intake" / sample).read_text())
    result = load_handler(spec)(event, LambdaContext(spec))
    assert result["statusCode"] == 202, result
    body = json.loads(result["body"])
    statuses = [body["status"]] if count == 1 else [r["status"] for r in body["results"]]
    assert len(statuses) == count
    assert set(statuses) <= {"accepted", "duplicate"}  # duplicate when the sample ran before
