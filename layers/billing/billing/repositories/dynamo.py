"""Lazily built, cached boto3 resources, and DynamoDB error mapping.

Clients are never created at import time. Endpoints follow the standard
``AWS_ENDPOINT_URL_DYNAMODB`` variable, which the local stack and the tests set.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

from billing.errors import BillingError, ValidationFailed


@lru_cache(maxsize=1)
def dynamodb_resource() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.resource(
        "dynamodb",
        config=Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=2, read_timeout=5),
    )


@lru_cache(maxsize=8)
def table(name: str) -> Any:
    return dynamodb_resource().Table(name)


def client() -> Any:
    return dynamodb_resource().meta.client


@lru_cache(maxsize=1)
def plain_client() -> Any:
    """A low-level client taking and giving attribute values ({"S": ...}) as they are: no type
    conversion (the resource's client converts), and a connection pool for parallel batch calls."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        config=Config(
            retries={"mode": "adaptive", "max_attempts": 8},
            connect_timeout=2,
            read_timeout=5,
            max_pool_connections=64,
            parameter_validation=False,  # the repositories build every request; DynamoDB validates too
        ),
    )


@contextmanager
def conditional(error: BillingError) -> Iterator[None]:
    """Turn a failed condition (single write or transaction) into the given domain error."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise error from exc
        raise


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """An opaque pagination cursor from a LastEvaluatedKey (string keys only)."""
    if not last_key:
        return None
    raw = json.dumps(last_key, sort_keys=True, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, allowed_keys: set[str]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not valid", code="invalid_cursor", param="starting_after") from None
    if (
        not isinstance(data, dict)
        or not set(data) <= allowed_keys
        or not all(isinstance(v, str) for v in data.values())
    ):
        raise ValidationFailed("cursor is not valid", code="invalid_cursor", param="starting_after")
    return data


def plain(value: Any) -> Any:
    """boto3's Decimals back to int where integral (money is int); never float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value
