"""The `usage_intake` function: POST /v1/events (one event) and POST /v1/events/batch (up to 1,000).

Events are idempotent by (customer, id): the first write of an id wins, a repeat is answered
`duplicate`. A batch is answered per event (202); see docs/usage.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from billing.errors import BadRequest, PayloadTooLarge, ProviderUnavailable, ValidationFailed
from billing.http.app import make_resolver, resolve
from billing.http.auth import USAGE_SENDERS
from billing.http.bodies import json_body
from billing.models.usage import STORAGE_UNAVAILABLE, EventOutcome, EventStatus
from billing.observability import logger, metrics, tracer
from billing.repositories.catalog import MetricRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.usage import UsageRepository
from billing.services import usage as service
from billing.settings import get_settings

MAX_BATCH = 1000
_COMPACT = json.JSONEncoder(separators=(",", ":"))
ANSWER_RESERVE_SECONDS = 1.0  # stop retrying writes this long before the function's timeout

settings = get_settings()
limits = service.IntakeLimits.from_settings(settings)
app = make_resolver(title="Usage intake", idempotency_table=None)

PERMISSIONS = {
    "POST /v1/events": USAGE_SENDERS,
    "POST /v1/events/batch": USAGE_SENDERS,
}

_repos: dict[str, Any] = {}


def store() -> UsageRepository:
    if "usage" not in _repos:  # built once per container, never at import
        _repos["usage"] = UsageRepository(
            table_name=settings.require("usage_table"),
            shards=settings.usage_shards,
            write_attempts=settings.usage_write_attempts,
            concurrency=settings.usage_write_concurrency,
        )
    return _repos["usage"]  # type: ignore[no-any-return]


def lookups() -> service.CachedLookups:
    """Customers and metrics, kept USAGE_LOOKUP_CACHE_SECONDS once found."""
    if "lookups" not in _repos:
        table = settings.require("billing_table")
        _repos["lookups"] = service.CachedLookups(
            CustomerRepository(table_name=table),
            MetricRepository(table_name=table),
            ttl_seconds=settings.usage_lookup_cache_seconds,
        )
    return _repos["lookups"]  # type: ignore[no-any-return]


class EventResultOut(BaseModel):
    index: int = Field(description="Position of the event in the batch (0-based).")
    id: str | None = Field(description="The event's id, when it had one.")
    status: EventStatus
    code: str | None = Field(default=None, description="Why it was rejected.")
    param: str | None = Field(default=None, description="The field at fault (dotted path).")
    message: str | None = None
    retryable: bool = Field(
        default=False, description="True for storage_unavailable: resend the event as is."
    )

    @staticmethod
    def plain(o: EventOutcome) -> dict[str, Any]:
        """The same fields as a plain dict: the answer to 1,000 events is encoded in one C pass,
        not through 1,000 models (see post_batch)."""
        return {
            "index": o.index, "id": o.id, "status": o.status.value, "code": o.code, "param": o.param,
            "message": o.message, "retryable": o.retryable,
        }  # fmt: skip


class BatchOut(BaseModel):
    object: str = "event_batch"
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResultOut]


class EventOut(BaseModel):
    object: str = "event"
    id: str
    status: EventStatus


def _record(raw_events: list[Any]) -> list[EventOutcome]:
    remaining = app.lambda_context.get_remaining_time_in_millis() / 1000 if app.lambda_context else 10.0
    deadline = time.monotonic() + remaining - ANSWER_RESERVE_SECONDS
    outcomes = service.record_events(
        raw_events,
        store=store(),
        customers=lookups(),
        metrics=lookups(),
        limits=limits,
        deadline=deadline,
    )
    counts = dict.fromkeys(EventStatus, 0)
    unavailable = 0
    for o in outcomes:
        counts[o.status] += 1
        unavailable += o.retryable
    metrics.add_metric(name="UsageEventsAccepted", unit="Count", value=counts[EventStatus.ACCEPTED])
    metrics.add_metric(name="UsageEventsDuplicate", unit="Count", value=counts[EventStatus.DUPLICATE])
    metrics.add_metric(
        name="UsageEventsRejected", unit="Count", value=counts[EventStatus.REJECTED] - unavailable
    )
    metrics.add_metric(name="UsageEventsStorageUnavailable", unit="Count", value=unavailable)
    logger.info(
        "usage events recorded", received=len(outcomes), accepted=counts[EventStatus.ACCEPTED],
        duplicates=counts[EventStatus.DUPLICATE], rejected=counts[EventStatus.REJECTED], unavailable=unavailable,
    )  # fmt: skip
    return outcomes


@app.post("/v1/events", status_code=202, tags=["usage"], summary="Send one usage event")
def post_event() -> EventOut:
    body = json_body(app.current_event.decoded_body)
    if not isinstance(body, dict):
        raise BadRequest("The body must be one event object.", code="invalid_request")
    (outcome,) = _record([body])
    if outcome.status is EventStatus.REJECTED:
        if outcome.retryable:
            raise ProviderUnavailable(outcome.message or "", code=STORAGE_UNAVAILABLE)
        raise ValidationFailed(outcome.message or "", code=outcome.code, param=outcome.param)
    assert outcome.id is not None
    return EventOut(id=outcome.id, status=outcome.status)


@app.post(
    "/v1/events/batch",
    status_code=202,
    tags=["usage"],
    summary="Send up to 1,000 usage events",
    responses={
        202: {
            "description": "One result per event, in order: accepted, duplicate or rejected (with code and field).",
            "content": {content_types.APPLICATION_JSON: {"model": BatchOut}},
        }
    },
)
def post_batch() -> Response[str]:
    body = json_body(app.current_event.decoded_body)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or set(body) != {"events"}:
        raise BadRequest('The body must be {"events": [...]}.', code="invalid_request", param="events")
    if len(events) > MAX_BATCH:
        raise PayloadTooLarge(
            f"A batch holds at most {MAX_BATCH} events; this one has {len(events)}.",
            code="too_many_events",
            param="events",
        )
    if not events:
        raise BadRequest("The batch has no events.", code="empty_batch", param="events")
    outcomes = _record(events)
    accepted = sum(o.status is EventStatus.ACCEPTED for o in outcomes)
    if not accepted and any(o.retryable for o in outcomes):
        raise ProviderUnavailable(
            "No event could be stored (storage throttled or unavailable); resend the batch.",
            code=STORAGE_UNAVAILABLE,
        )
    out = {
        "object": "event_batch",
        "accepted": accepted,
        "duplicates": sum(o.status is EventStatus.DUPLICATE for o in outcomes),
        "rejected": sum(o.status is EventStatus.REJECTED for o in outcomes),
        "results": [EventResultOut.plain(o) for o in outcomes],
    }
    # BatchOut's shape (tests/integration/test_usage_intake.py validates answers against it), encoded
    # here in one pass: 1,000 results through models or the generic encoder cost more than storing them.
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=_COMPACT.encode(out))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, permissions=PERMISSIONS, max_body_bytes=settings.max_body_bytes)
