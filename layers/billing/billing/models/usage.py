"""Usage events: what a client sends, what is stored, and what each event's intake came to.

``IncomingEvent`` is the validated shape of one event as sent (the intake contract);
``UsageEvent`` is the stored event, bound to our customer id; ``RollupEntry`` is the compact
copy of an event kept in an hourly roll-up for the query path (docs/usage.md, docs/data-model.md).
Numbers in properties are ``int`` or ``Decimal`` (the body is parsed with ``parse_float=Decimal``),
never float; properties are stored as JSON text, written back exactly as they were read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_EVENT_ID_LENGTH = 255
MAX_PROPERTIES_BYTES = 4096
MAX_PROPERTY_NAME_LENGTH = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Scalar = str | int | Decimal | bool | None


class IncomingEvent(BaseModel):
    """One usage event as a client sends it (single or inside a batch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        min_length=1,
        max_length=MAX_EVENT_ID_LENGTH,
        pattern=r"^[!-~]+$",
        description="The client's idempotency key: unique per customer; printable ASCII, no spaces.",
    )
    customer: str = Field(min_length=1, max_length=255, description="Our customer id or its external_id.")
    metric: str = Field(min_length=1, max_length=100, description="A billable metric's code.")
    timestamp: AwareDatetime = Field(
        description="When the usage happened: RFC 3339 with an offset, or Unix time."
    )
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="A flat object: strings, integers, decimals, booleans or null.",
    )

    @field_validator("properties")
    @classmethod
    def _flat_scalars(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            if not name or len(name) > MAX_PROPERTY_NAME_LENGTH:
                raise ValueError(f"property names must be 1 to {MAX_PROPERTY_NAME_LENGTH} characters")
            if item is not None and type(item) not in (str, int, Decimal, bool):
                raise ValueError(f"property {name!r} must be a string, number, boolean or null")
        return value


class EventStatus(StrEnum):
    ACCEPTED = "accepted"
    """Stored now (and only if stored)."""
    DUPLICATE = "duplicate"
    """An event with this id was already stored for this customer (or earlier in the batch): nothing changed."""
    REJECTED = "rejected"
    """Not stored; ``code`` says why, ``param`` names the field."""


STORAGE_UNAVAILABLE = "storage_unavailable"
"""The one rejection code that is not the event's fault: resend it as is."""


@dataclass(frozen=True, slots=True)
class EventOutcome:
    index: int
    id: str | None
    status: EventStatus
    code: str | None = None
    param: str | None = None
    message: str | None = None

    @property
    def retryable(self) -> bool:
        return self.code == STORAGE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """A stored event (the first write of its id for its customer)."""

    customer_id: str
    id: str
    metric: str
    timestamp: datetime
    """Aware, UTC."""
    properties_json: str
    """The properties as JSON text (numbers exactly as sent)."""
    received_at: datetime

    @property
    def properties(self) -> dict[str, Any]:
        return loads(self.properties_json)  # type: ignore[no-any-return]

    @property
    def hour(self) -> datetime:
        return self.timestamp.replace(minute=0, second=0, microsecond=0)


class RollupEntry(NamedTuple):
    """An event as kept in a roll-up: enough to aggregate it and to deduplicate it by id."""

    id: str
    timestamp: datetime
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rollup:
    """The events of one request for one (customer, metric, hour), as read back."""

    customer_id: str
    metric: str
    hour: datetime
    entries: tuple[RollupEntry, ...]
    written_at: datetime


# --------------------------------------------------------------------------- JSON with exact numbers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """JSON with every non-integer number as Decimal; NaN and Infinity refused (ValueError)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


_encode_string = json.encoder.encode_basestring_ascii
_PLAIN = frozenset({str, int, bool, type(None)})
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once: json.dumps(...) builds one per call


def dumps_scalars(properties: Mapping[str, Scalar]) -> str:
    """A flat object of scalars as compact JSON; Decimals are written as the numbers they are."""
    if all(type(v) in _PLAIN for v in properties.values()):
        return _COMPACT.encode(properties)  # the C encoder: same text, faster
    parts = []
    for name, value in properties.items():
        if value is None:
            text = "null"
        elif value is True:
            text = "true"
        elif value is False:
            text = "false"
        elif type(value) is str:
            text = _encode_string(value)
        elif type(value) is int:
            text = int.__repr__(value)
        elif type(value) is Decimal and value.is_finite():
            text = str(value)
        else:
            raise TypeError(f"property {name!r}: {type(value).__name__} is not a stored scalar")
        parts.append(f"{_encode_string(name)}:{text}")
    return "{" + ",".join(parts) + "}"


def micros(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, never through float)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)
