"""SQS event source mappings: poll the template's queues in moto and feed batches to their functions
as Lambda does.

- The event is the one Lambda sends (`Records` with messageId, receiptHandle, body, attributes,
  messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion).
- BatchSize (default 10) and MaximumBatchingWindowInSeconds gather a batch. Locally at most 2
  batches per mapping are in flight (2 is the lowest ScalingConfig.MaximumConcurrency AWS allows,
  so any setting is honoured); a drain processes one batch at a time.
- With FunctionResponseTypes [ReportBatchItemFailures] only the records not named in
  `batchItemFailures` are deleted; an answer Lambda cannot read (not an object, an empty or unknown
  itemIdentifier) fails the whole batch, as on AWS. Without it, any exception fails the whole batch.
- A failed message is not deleted: it comes back after the queue's visibility timeout, and moto's
  RedrivePolicy moves it to the dead-letter queue once its receive count passes maxReceiveCount
  (moto does this on ReceiveMessage, as SQS does; tests/integration/test_local_sqs.py checks it).
- FilterCriteria are not evaluated locally: every message is delivered (a warning says so).
"""

from __future__ import annotations

import base64
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from local.functions import FunctionSpec, function_specs, invoke
from local.moto_server import REGION, Queue, client

# Message system attributes Lambda passes on in a record's `attributes`.
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
LONG_POLL_SECONDS = 1  # short, so a stop or a drain never waits long for a background poll


@dataclass
class EventSourceMapping:
    name: str  # Function.Event
    function: FunctionSpec
    queue: Queue
    batch_size: int = 10
    batching_window: float = 0.0
    report_batch_item_failures: bool = False
    max_concurrency: int | None = None
    enabled: bool = True
    has_filters: bool = False


@dataclass
class BatchResult:
    mapping: str
    records: int
    deleted: int
    failed: list[str]  # message ids left on the queue
    error: str | None = None


@dataclass
class MappingStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0
    errors: int = 0
    last_error: str | None = None


def _queue_id(value: Any, queues: Mapping[str, Queue]) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        return str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, str):
        for logical_id, q in queues.items():
            if value in (q.arn, q.url) or value.rsplit(":", 1)[-1] == q.name:
                return logical_id
    raise ValueError(f"SQS event source {value!r} is not a queue of this template")


def mappings_from_template(template: dict[str, Any], queues: Mapping[str, Queue]) -> list[EventSourceMapping]:
    """Every function event of Type SQS, bound to the queue created in moto."""
    out = []
    for spec in function_specs(template).values():
        for event_name, ev in spec.events.items():
            if ev.get("Type") != "SQS":
                continue
            props = ev.get("Properties") or {}
            queue = queues[_queue_id(props["Queue"], queues)]
            concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
            out.append(
                EventSourceMapping(
                    name=f"{spec.name}.{event_name}",
                    function=spec,
                    queue=queue,
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    max_concurrency=int(concurrency) if concurrency else None,
                    enabled=str(props.get("Enabled", True)).lower() != "false",
                    has_filters=bool(props.get("FilterCriteria")),
                )
            )
    return out


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """One record of the event Lambda sends for an SQS message (ReceiveMessage output -> event shape)."""
    attributes = message.get("Attributes") or {}
    message_attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {}
        if "StringValue" in attr:
            entry["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            entry["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        entry["stringListValues"] = list(attr.get("StringListValues") or [])
        entry["binaryListValues"] = [base64.b64encode(b).decode() for b in attr.get("BinaryListValues") or []]
        entry["dataType"] = attr["DataType"]
        message_attributes[name] = entry
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: attributes[k] for k in _RECORD_ATTRIBUTES if k in attributes},
        "messageAttributes": message_attributes,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(
        {
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
    )
    return record


def failed_message_ids(result: Any, message_ids: list[str]) -> list[str]:
    """The records a ReportBatchItemFailures answer leaves on the queue (all of them when Lambda would
    reject the answer: not an object, batchItemFailures not a list, an empty or unknown itemIdentifier)."""
    if result is None:
        return []
    if not isinstance(result, dict):
        return list(message_ids)
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return list(message_ids)
    failed = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident or ident not in message_ids:
            return list(message_ids)
        failed.append(ident)
    return [m for m in message_ids if m in set(failed)]


class SqsPoller:
    """One event source mapping: receive a batch, invoke, delete what succeeded."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        endpoint: str,
        *,
        invoker: Callable[[FunctionSpec, dict[str, Any]], Any] = invoke,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.mapping = mapping
        self._sqs = client("sqs", endpoint)
        self._invoke = invoker
        self._log = log or (lambda line: None)
        self.stats = MappingStats()
        self._stats_lock = threading.Lock()

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        """Up to BatchSize messages: one receive, then more until the batching window (counted from
        the first message) closes or the batch is full."""
        m = self.mapping
        messages: list[dict[str, Any]] = []
        deadline = None
        wait = wait_seconds
        while len(messages) < m.batch_size:
            got = self._sqs.receive_message(
                QueueUrl=m.queue.url,
                MaxNumberOfMessages=min(10, m.batch_size - len(messages)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=wait,
            ).get("Messages", [])
            messages += got
            if not messages:
                break
            if deadline is None:
                deadline = time.monotonic() + m.batching_window
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(LONG_POLL_SECONDS, int(remaining))
            if not got and wait == 0:
                time.sleep(min(0.1, remaining))
        return messages

    def poll_once(self, wait_seconds: int = 0) -> BatchResult | None:
        """Receive one batch and process it; None when the queue had nothing visible."""
        messages = self._receive(wait_seconds)
        if not messages:
            return None
        return self.process(messages)

    def process(self, messages: list[dict[str, Any]]) -> BatchResult:
        m = self.mapping
        event = {"Records": [sqs_record(msg, m.queue.arn) for msg in messages]}
        ids = [msg["MessageId"] for msg in messages]
        error = None
        try:
            result = self._invoke(m.function, event)
            failed = failed_message_ids(result, ids) if m.report_batch_item_failures else []
        except Exception as exc:  # the whole batch goes back to the queue
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
            failed = list(ids)
        done = [msg for msg in messages if msg["MessageId"] not in set(failed)]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            self._sqs.delete_message_batch(
                QueueUrl=m.queue.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": msg["ReceiptHandle"]} for n, msg in enumerate(chunk)
                ],
            )
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.records += len(messages)
            self.stats.deleted += len(done)
            self.stats.failed += len(failed)
            if error:
                self.stats.errors += 1
                self.stats.last_error = error
        self._log(
            f"sqs {m.queue.name} -> {m.function.name}: {len(messages)} record(s), "
            f"{len(done)} done, {len(failed)} failed" + (f" ({error})" if error else "")
        )
        return BatchResult(m.name, len(messages), len(done), failed, error)


def queue_depth(sqs: Any, url: str) -> dict[str, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


@dataclass
class DrainResult:
    done: bool
    seconds: float
    batches: list[BatchResult] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "seconds": round(self.seconds, 3),
            "batches": len(self.batches),
            "records": sum(b.records for b in self.batches),
            "deleted": sum(b.deleted for b in self.batches),
            "failed": sum(len(b.failed) for b in self.batches),
            "queues": self.queues,
        }


class Pollers:
    """Every SQS event source mapping of a template, polled from background threads."""

    def __init__(
        self,
        template: dict[str, Any],
        queues: Mapping[str, Queue],
        endpoint: str,
        *,
        invoker: Callable[[FunctionSpec, dict[str, Any]], Any] = invoke,
        default_concurrency: int = 2,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.queues = dict(queues)
        self.mappings = mappings_from_template(template, queues)
        self.pollers = [SqsPoller(m, endpoint, invoker=invoker, log=log) for m in self.mappings]
        self._sqs = client("sqs", endpoint)
        self._default_concurrency = default_concurrency
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Background polls run concurrently; a drain pauses them and polls alone, so what it sees
        # (visible, in flight) is not raced by a batch some thread has received but not finished.
        self._cond = threading.Condition()
        self._active = 0
        self._paused = 0

    def concurrency(self, mapping: EventSourceMapping) -> int:
        return min(mapping.max_concurrency or self._default_concurrency, self._default_concurrency)

    # ------------------------------------------------------------ background
    def start(self) -> Pollers:
        for poller in self.pollers:
            if not poller.mapping.enabled:
                continue
            for n in range(self.concurrency(poller.mapping)):
                t = threading.Thread(
                    target=self._loop, args=(poller,), name=f"sqs-{poller.mapping.name}-{n}", daemon=True
                )
                t.start()
                self._threads.append(t)
        return self

    def _loop(self, poller: SqsPoller) -> None:
        while not self._stop.is_set():
            with self._cond:
                while self._paused and not self._stop.is_set():
                    self._cond.wait(0.5)
                if self._stop.is_set():
                    return
                self._active += 1
            try:
                poller.poll_once(LONG_POLL_SECONDS)
            except Exception:  # moto gone (shutting down) or a bug: say so, back off, go on
                if not self._stop.is_set():
                    traceback.print_exc()
                    self._stop.wait(1)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=30)
        self._threads.clear()

    # ----------------------------------------------------------------- drain
    def drain(self, timeout: float = 30.0, *, wait_invisible: bool = False) -> DrainResult:
        """Process every visible message of every consumed queue until none is left.

        With wait_invisible, also wait for failed messages to come back after their visibility
        timeout and be retried or dead-lettered, until the queues are empty.
        """
        started = time.monotonic()
        deadline = started + timeout
        result = DrainResult(done=False, seconds=0.0)
        with self._cond:
            self._paused += 1
            while self._active:
                self._cond.wait(0.5)
        try:
            while time.monotonic() < deadline:
                progressed = False
                for poller in self.pollers:
                    batch = poller.poll_once(0)
                    if batch:
                        result.batches.append(batch)
                        progressed = True
                if progressed:
                    continue
                depths = [queue_depth(self._sqs, p.mapping.queue.url) for p in self.pollers]
                if all(
                    d["visible"] == 0 and d["delayed"] == 0 and (not wait_invisible or d["in_flight"] == 0)
                    for d in depths
                ):
                    result.done = True
                    break
                time.sleep(0.1)
        finally:
            with self._cond:
                self._paused -= 1
                self._cond.notify_all()
        result.seconds = time.monotonic() - started
        result.queues = self.status()
        return result

    # ---------------------------------------------------------------- status
    def status(self) -> list[dict[str, Any]]:
        """Each queue: depth, its dead-letter queue's depth, and the functions consuming it."""
        by_queue: dict[str, list[SqsPoller]] = {}
        for p in self.pollers:
            by_queue.setdefault(p.mapping.queue.logical_id, []).append(p)
        out = []
        for logical_id, q in self.queues.items():
            item: dict[str, Any] = {
                "name": q.name,
                "url": q.url,
                "arn": q.arn,
                **queue_depth(self._sqs, q.url),
            }
            if q.dlq:
                dlq = self.queues[q.dlq]
                item["dlq"] = {
                    "name": dlq.name,
                    "max_receive_count": q.max_receive_count,
                    **queue_depth(self._sqs, dlq.url),
                }
            item["consumers"] = [
                {
                    "mapping": p.mapping.name,
                    "function": p.mapping.function.name,
                    "batch_size": p.mapping.batch_size,
                    "report_batch_item_failures": p.mapping.report_batch_item_failures,
                    **asdict(p.stats),
                }
                for p in by_queue.get(logical_id, [])
            ]
            out.append(item)
        return out
