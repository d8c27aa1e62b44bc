"""Usage events and their hourly roll-ups in the UsageTable (keys from ``keys``; docs/data-model.md).

* Event ``USAGE#{customer_id}#{shard} / EVENT#{event_id}``: the stored event, keyed by its
  idempotency key alone, so a duplicate is found (and a replay lands) on this one item.
* Roll-up ``ROLLUP#{customer_id}#{YYYY-MM}#{shard} / {YYYY-MM-DDTHH}#{metric}#{digest}``: the
  events one request stored for one (customer, metric, hour), as zlib-compressed JSON
  ``[[id, timestamp µs, properties], ...]``; ``digest`` hashes their sorted ids, so a retried
  request rewrites the same item. The query path reads roll-ups, never all events.

Writes go through BatchWriteItem (25 items a call, calls in parallel on a small thread pool).
Items a call leaves unprocessed, and calls refused for throughput, are retried with exponential
backoff and full jitter until written or out of attempts / time; the caller gets back what was
never written and reports it. Consumed capacity is summed in ``stats``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from billing.models.usage import (
    Rollup,
    RollupEntry,
    UsageEvent,
    from_micros,
    loads,
    micros,
)
from billing.repositories import dynamo, keys

WRITE_BATCH = 25
READ_BATCH = 100
MAX_ROLLUP_PAYLOAD = 300_000
"""Compressed bytes of one roll-up's events (DynamoDB's item limit is 400 KB); larger ones are split."""
RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
})  # fmt: skip
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_ENCODE = json.encoder.encode_basestring_ascii

Item = dict[str, Any]
Key = tuple[str, str]


def iso(at: datetime) -> str:
    """Fixed-width UTC ISO 8601 (sorts as text); ``at`` is in UTC."""
    if at.year < 1000:
        return at.strftime(_TIME_FORMAT)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # = strftime, faster


@dataclass
class UsageStoreStats:
    """What the store consumed since it was built (or reset): for metrics and the benchmark."""

    write_units: float = 0.0
    read_units: float = 0.0
    write_calls: int = 0
    read_calls: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self, *, write_units: float = 0.0, read_units: float = 0.0, writes: int = 0, reads: int = 0
    ) -> None:
        with self._lock:
            self.write_units += write_units
            self.read_units += read_units
            self.write_calls += writes
            self.read_calls += reads

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def reset(self) -> None:
        with self._lock:
            self.write_units = self.read_units = 0.0
            self.write_calls = self.read_calls = self.retries = 0


class UsageRepository:
    def __init__(
        self,
        *,
        table_name: str,
        shards: int,
        write_attempts: int = 8,
        concurrency: int = 16,
        base_delay: float = 0.025,
        max_delay: float = 1.0,
    ) -> None:
        self._table_name = table_name
        self.shards = shards
        self._attempts = write_attempts
        self._concurrency = concurrency
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.stats = UsageStoreStats()

    # ------------------------------------------------------------------ the calls (seams for tests)

    def _batch_write(self, request_items: dict[str, list[Item]]) -> dict[str, Any]:
        return dynamo.plain_client().batch_write_item(  # type: ignore[no-any-return]
            RequestItems=request_items, ReturnConsumedCapacity="TOTAL"
        )

    def _batch_get(self, request_items: dict[str, Any]) -> dict[str, Any]:
        return dynamo.plain_client().batch_get_item(  # type: ignore[no-any-return]
            RequestItems=request_items, ReturnConsumedCapacity="TOTAL"
        )

    def _pause(self, seconds: float) -> None:
        time.sleep(seconds)

    # ------------------------------------------------------------------ events

    def event_key(self, customer_id: str, event_id: str) -> Key:
        k = keys.usage_event(customer_id, event_id, shards=self.shards)
        return k["pk"], k["sk"]

    def find_existing(
        self, ids: Sequence[tuple[str, str]], *, deadline: float | None = None
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """Which (customer_id, event_id) are stored (strongly consistent), and which could not be checked."""
        check = self.existence_check(deadline=deadline)
        for customer_id, event_id in ids:
            check.add(customer_id, event_id)
        return check.result()

    def existence_check(self, *, deadline: float | None = None) -> ExistenceCheck:
        """A check that starts reading (100 ids a BatchGetItem, in the background) while ids are added."""
        return ExistenceCheck(self, deadline)

    def put_events(
        self, events: Sequence[UsageEvent], *, expires_at: datetime, deadline: float | None = None
    ) -> set[int]:
        """Write the events; returns the indexes of those never written."""
        ttl = str(int(expires_at.timestamp()))
        received = {at: iso(at) for at in {e.received_at for e in events}}  # one instant per request
        tagged = [(i, self._event_item(e, ttl, received[e.received_at])) for i, e in enumerate(events)]
        return self._write_all(tagged, deadline)

    def put_rollups(
        self,
        events: Sequence[UsageEvent],
        *,
        written_at: datetime,
        expires_at: datetime,
        deadline: float | None = None,
    ) -> set[int]:
        """Write the roll-ups covering these events (one per customer, metric and hour, split when
        large); returns the indexes of the events whose roll-up was never written."""
        groups: dict[tuple[str, str, datetime], list[int]] = defaultdict(list)
        for i, e in enumerate(events):
            groups[(e.customer_id, e.metric, e.hour)].append(i)
        ttl = str(int(expires_at.timestamp()))
        written = iso(written_at)
        tagged: list[tuple[int, Item]] = []
        covers: list[list[int]] = []
        for (customer_id, metric, hour), members in groups.items():
            members.sort(key=lambda i: events[i].id)
            for payload, part, covered in self._split([events[i] for i in members], members):
                item = self._rollup_item(
                    customer_id=customer_id, metric=metric, hour=hour, payload=payload, events=part,
                    written=written, ttl=ttl,
                )  # fmt: skip
                tagged.append((len(covers), item))
                covers.append(covered)
        failed = self._write_all(tagged, deadline)
        return {i for r in failed for i in covers[r]}

    def get_events(self, customer_id: str, event_ids: Iterable[str]) -> dict[str, UsageEvent]:
        """The stored events with these ids (eventually consistent reads): to check roll-ups against."""
        by_key = {self.event_key(customer_id, e): e for e in set(event_ids)}
        out: dict[str, UsageEvent] = {}
        chunks = _chunks(list(by_key), READ_BATCH)
        for items in self._run(self._get_items, chunks):
            for item in items:
                event = _event_from_item(customer_id, item)
                out[event.id] = event
        return out

    # ------------------------------------------------------------------ roll-ups

    def rollups(self, customer_id: str, *, start: datetime, end: datetime, now: datetime) -> list[Rollup]:
        """Every roll-up of the customer for the hours that intersect [start, end), all metrics."""
        first = start.replace(minute=0, second=0, microsecond=0)
        last = (end - timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
        if last < first:
            return []
        low, high = keys.usage_rollup_range(iso(first), iso(last))
        months = _months(first, last)
        partitions = [
            keys.usage_rollup_partition(customer_id, m, s) for m in months for s in range(self.shards)
        ]
        now_epoch = int(now.timestamp())
        out: list[Rollup] = []
        for items in self._run(lambda pk: self._query_all(pk, low, high), [[p] for p in partitions]):
            for item in items:
                if int(item["expires_at"]["N"]) <= now_epoch:
                    continue  # expired: TTL deletes it within days
                out.append(_rollup_from_item(customer_id, item))
        return out

    # ------------------------------------------------------------------ items

    def _event_item(self, event: UsageEvent, ttl: str, received_at: str | None = None) -> Item:
        pk, sk = self.event_key(event.customer_id, event.id)
        return {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "metric": {"S": event.metric},
            "timestamp": {"S": iso(event.timestamp)},
            "properties": {"S": event.properties_json},
            "received_at": {"S": received_at or iso(event.received_at)},
            "expires_at": {"N": ttl},
        }

    def _split(
        self, events: list[UsageEvent], members: list[int]
    ) -> Iterator[tuple[bytes, list[UsageEvent], list[int]]]:
        """The compressed payload of these events, halved (deterministically) until each fits."""
        rows = ",".join(f"[{_ENCODE(e.id)},{micros(e.timestamp)},{e.properties_json}]" for e in events)
        payload = zlib.compress(f"[{rows}]".encode(), 6)
        if len(payload) <= MAX_ROLLUP_PAYLOAD or len(events) == 1:
            yield payload, events, members
            return
        half = len(events) // 2
        yield from self._split(events[:half], members[:half])
        yield from self._split(events[half:], members[half:])

    def _rollup_item(
        self, *, customer_id: str, metric: str, hour: datetime, payload: bytes, events: list[UsageEvent],
        written: str, ttl: str,
    ) -> Item:  # fmt: skip
        # The digest is over the ids this roll-up covers, so the same set of events -> the same key.
        key = keys.usage_rollup(
            customer_id, iso(hour), metric, digest(e.id for e in events), shards=self.shards
        )
        return {
            "pk": {"S": key["pk"]},
            "sk": {"S": key["sk"]},
            "metric": {"S": metric},
            "hour": {"S": iso(hour)},
            "count": {"N": str(len(events))},
            "events": {"B": payload},
            "written_at": {"S": written},
            "expires_at": {"N": ttl},
        }

    # ------------------------------------------------------------------ the write loop

    def _write_all(self, tagged: list[tuple[int, Item]], deadline: float | None) -> set[int]:
        failed: set[int] = set()
        for missed in self._run(
            lambda chunk: self._write_chunk(chunk, deadline), _chunks(tagged, WRITE_BATCH)
        ):
            failed |= missed
        return failed

    def _write_chunk(self, chunk: list[tuple[int, Item]], deadline: float | None) -> set[int]:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        pending = {(item["pk"]["S"], item["sk"]["S"]): (tag, item) for tag, item in chunk}
        attempt = 0
        while True:
            try:
                response = self._batch_write(
                    {self._table_name: [{"PutRequest": {"Item": item}} for _, item in pending.values()]}
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in RETRYABLE_CODES:
                    raise
            except (ConnectionError, HTTPClientError):
                pass  # botocore has retried already; maybe written, so it is retried, never assumed
            else:
                self.stats.add(write_units=_units(response), writes=1)
                left = response.get("UnprocessedItems", {}).get(self._table_name, [])
                pending = {k: pending[k] for k in (_key(r["PutRequest"]["Item"]) for r in left)}
            if not pending:
                return set()
            attempt += 1
            if not self._wait(attempt, deadline):
                return {tag for tag, _ in pending.values()}

    def _get_chunk(self, chunk: list[Key], deadline: float | None) -> tuple[set[Key], set[Key]]:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        pending = list(chunk)
        found: set[Key] = set()
        attempt = 0
        while True:
            request = {
                self._table_name: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in pending],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, sk",
                }
            }
            try:
                response = self._batch_get(request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in RETRYABLE_CODES:
                    raise
            except (ConnectionError, HTTPClientError):
                pass
            else:
                self.stats.add(read_units=_units(response), reads=1)
                found.update(_key(i) for i in response.get("Responses", {}).get(self._table_name, []))
                left = response.get("UnprocessedKeys", {}).get(self._table_name, {}).get("Keys", [])
                pending = [_key(k) for k in left]
            if not pending:
                return found, set()
            attempt += 1
            if not self._wait(attempt, deadline):
                return found, set(pending)

    def _get_items(self, chunk: list[Key]) -> list[Item]:
        """Whole items (eventually consistent); unprocessed keys are retried until read."""
        pending = list(chunk)
        out: list[Item] = []
        attempt = 0
        while pending:
            response = self._batch_get(
                {self._table_name: {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in pending]}}
            )
            self.stats.add(read_units=_units(response), reads=1)
            out += response.get("Responses", {}).get(self._table_name, [])
            pending = [
                _key(k) for k in response.get("UnprocessedKeys", {}).get(self._table_name, {}).get("Keys", [])
            ]
            if pending:
                attempt += 1
                if not self._wait(attempt, None):
                    raise RuntimeError("usage events could not be read: DynamoDB kept them unprocessed")
        return out

    def _query_all(self, partition: list[str], low: str, high: str) -> list[Item]:
        client = dynamo.plain_client()
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": partition[0]},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            "ReturnConsumedCapacity": "TOTAL",
        }
        out: list[Item] = []
        while True:
            page = client.query(**kwargs)
            self.stats.add(
                read_units=float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0)), reads=1
            )
            out += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _wait(self, attempt: int, deadline: float | None) -> bool:
        """Back off before retry ``attempt`` (full jitter); False when out of attempts or time."""
        if attempt >= self._attempts:
            return False
        delay = random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt))  # noqa: S311 - jitter
        if deadline is not None and time.monotonic() + delay >= deadline:
            return False
        self.stats.retried()
        self._pause(delay)
        return True

    def _run[T, R](self, fn: Callable[[list[T]], R], chunks: list[list[T]]) -> list[R]:
        """``fn`` over the chunks, in parallel when there is more than one."""
        if len(chunks) <= 1:
            return [fn(c) for c in chunks]
        return list(self._executor().map(fn, chunks))

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._concurrency, thread_name_prefix="usage-store"
                )
            return self._pool


class ExistenceCheck:
    """Strongly consistent existence checks, each full chunk of ids read in the background
    while the caller is still validating the next events."""

    def __init__(self, repo: UsageRepository, deadline: float | None) -> None:
        self._repo = repo
        self._deadline = deadline
        self._ids: dict[Key, tuple[str, str]] = {}
        self._pending: list[Key] = []
        self._started: list[Future[tuple[set[Key], set[Key]]]] = []

    def add(self, customer_id: str, event_id: str) -> None:
        key = self._repo.event_key(customer_id, event_id)
        self._ids[key] = (customer_id, event_id)
        self._pending.append(key)
        if len(self._pending) == READ_BATCH:
            self._started.append(
                self._repo._executor().submit(self._repo._get_chunk, self._pending, self._deadline)
            )
            self._pending = []

    def result(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(found, unchecked): unchecked ids could not be read (throttled past the retries)."""
        outcomes = [f.result() for f in self._started]
        if self._pending:
            outcomes.append(self._repo._get_chunk(self._pending, self._deadline))
        found: set[tuple[str, str]] = set()
        unchecked: set[tuple[str, str]] = set()
        for got, missed in outcomes:
            found.update(self._ids[k] for k in got)
            unchecked.update(self._ids[k] for k in missed)
        return found, unchecked


def _chunks[T](items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _key(item: Item) -> Key:
    return item["pk"]["S"], item["sk"]["S"]


def _units(response: dict[str, Any]) -> float:
    return float(sum(c.get("CapacityUnits", 0) for c in response.get("ConsumedCapacity") or ()))


def _months(first: datetime, last: datetime) -> list[str]:
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def digest(event_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()[:32]


def _event_from_item(customer_id: str, item: Item) -> UsageEvent:
    return UsageEvent(
        customer_id=customer_id,
        id=item["sk"]["S"].removeprefix(keys.USAGE_EVENT_PREFIX),
        metric=item["metric"]["S"],
        timestamp=datetime.fromisoformat(item["timestamp"]["S"]),
        properties_json=item["properties"]["S"],
        received_at=datetime.fromisoformat(item["received_at"]["S"]),
    )


def _rollup_from_item(customer_id: str, item: Item) -> Rollup:
    rows = loads(zlib.decompress(item["events"]["B"]))
    return Rollup(
        customer_id=customer_id,
        metric=item["metric"]["S"],
        hour=datetime.fromisoformat(item["hour"]["S"]),
        entries=tuple(RollupEntry(str(r[0]), from_micros(int(r[1])), r[2]) for r in rows),
        written_at=datetime.fromisoformat(item["written_at"]["S"]),
    )
