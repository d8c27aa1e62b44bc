"""Usage storage pieces that need no DynamoDB: exact JSON, keys, roll-up payloads, the lookup cache."""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.models.usage import IncomingEvent, UsageEvent, dumps_scalars, from_micros, loads, micros
from billing.repositories import keys
from billing.repositories.usage import MAX_ROLLUP_PAYLOAD, UsageRepository, digest
from billing.services.usage import CachedLookups, IntakeLimits
from billing.settings import ConfigurationError

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.text(max_size=20),
)


@given(st.dictionaries(st.text(min_size=1, max_size=10), scalars, max_size=6))
def test_properties_round_trip_exactly(properties):
    text = dumps_scalars(properties)
    again = loads(text)
    assert again == properties
    for name, value in properties.items():  # the same types: a Decimal stays a Decimal, an int an int
        assert type(again[name]) is type(value) or (isinstance(value, Decimal) and type(again[name]) is int)
    assert json.loads(text) is not None  # plain JSON for any other reader


def test_decimal_keeps_its_digits():
    assert dumps_scalars({"gb": Decimal("1.50"), "n": 3, "s": "é"}) == '{"gb":1.50,"n":3,"s":"\\u00e9"}'
    assert loads('{"gb": 1.50}') == {"gb": Decimal("1.50")}


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'])
def test_non_numbers_are_refused(text):
    with pytest.raises(ValueError):
        loads(text)


def test_float_is_not_a_stored_scalar():
    with pytest.raises(TypeError):
        dumps_scalars({"x": 1.5})  # type: ignore[dict-item]


def test_micros_are_exact():
    at = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
    assert from_micros(micros(at)) == at


def test_event_key_depends_on_customer_and_id_only():
    k = keys.usage_event("cus_1", "evt-1", shards=16)
    assert k == keys.usage_event("cus_1", "evt-1", shards=16)
    assert k["sk"] == "EVENT#evt-1"
    assert k["pk"].startswith("USAGE#cus_1#")
    assert int(k["pk"].rsplit("#", 1)[1]) < 16
    # ids spread over every shard
    assert {keys.usage_event("cus_1", f"e{i}", shards=16)["pk"] for i in range(500)} == {
        f"USAGE#cus_1#{s:02d}" for s in range(16)
    }


def test_rollup_key_is_the_same_for_the_same_set():
    a = keys.usage_rollup("cus_1", "2026-11-23T10:00:00.000000Z", "api_calls", digest(["b", "a"]), shards=16)
    b = keys.usage_rollup("cus_1", "2026-11-23T10:59:59.000000Z", "api_calls", digest(["a", "b"]), shards=16)
    c = keys.usage_rollup("cus_1", "2026-11-23T10:00:00.000000Z", "api_calls", digest(["a"]), shards=16)
    assert a == b != c
    assert a["pk"].startswith("ROLLUP#cus_1#2026-11#")
    assert a["sk"].startswith("2026-11-23T10#api_calls#")
    low, high = keys.usage_rollup_range("2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z")
    assert low <= a["sk"] <= high


def _event(i: int) -> UsageEvent:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC) + timedelta(seconds=i)
    noise = "".join(hashlib.sha256(f"{i}-{k}".encode()).hexdigest() for k in range(10))  # compresses ~2x
    return UsageEvent("cus_1", f"e{i:05d}", "m", at, dumps_scalars({"blob": noise}), at)


def test_a_large_rollup_is_split_deterministically():
    repo = UsageRepository(table_name="t", shards=4)
    events = [_event(i) for i in range(1000)]  # ~650 KB of JSON, ~330 KB compressed: over the limit
    parts = list(repo._split(events, list(range(1000))))
    assert len(parts) > 1
    assert [i for _, _, members in parts for i in members] == list(range(1000))
    assert all(len(payload) <= MAX_ROLLUP_PAYLOAD for payload, _, _ in parts)
    again = list(repo._split(events, list(range(1000))))
    assert [p for p, _, _ in parts] == [p for p, _, _ in again]
    rows = loads(zlib.decompress(parts[0][0]))
    assert rows[0][0] == "e00000"
    assert from_micros(rows[0][1]) == events[0].timestamp


def test_intake_limits_must_fit_the_retention():
    with pytest.raises(ConfigurationError):
        IntakeLimits(max_age=timedelta(days=30), retention=timedelta(days=30))


def test_incoming_event_refuses_nested_properties():
    from pydantic import ValidationError

    base = {"id": "e1", "customer": "c", "metric": "m", "timestamp": "2026-11-23T10:00:00Z"}
    assert IncomingEvent.model_validate({**base, "properties": {"n": Decimal("1.5"), "b": True}})
    with pytest.raises(ValidationError):
        IncomingEvent.model_validate({**base, "properties": {"n": [1]}})
    with pytest.raises(ValidationError):
        IncomingEvent.model_validate({**base, "id": "has space"})


class _Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.value: object | None = "found"

    def resolve(self, ref: str) -> object | None:
        self.calls += 1
        return self.value

    get = resolve


def test_lookup_cache_keeps_found_ones_for_its_ttl_only():
    now = [0.0]
    source = _Counting()
    cache = CachedLookups(source, source, ttl_seconds=60, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert cache.resolve("a") == cache.resolve("a") == "found"
    assert source.calls == 1
    now[0] = 61
    cache.resolve("a")
    assert source.calls == 2
    source.value = None  # not found: never cached, asked again every time
    assert cache.get("b") is None and cache.get("b") is None
    assert source.calls == 4
