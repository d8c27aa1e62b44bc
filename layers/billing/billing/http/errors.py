"""The one mapping from exception class to HTTP status and error envelope.

Envelope (Stripe-style): ``{"error": {"type", "code", "message", "param"}}``.
The status comes from the exception class (walking its MRO), never from text.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from billing.errors import (
    BadRequest,
    BillingError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PaymentFailed,
    ProviderUnavailable,
    Unauthenticated,
    ValidationFailed,
)

STATUS_BY_CLASS: dict[type[BillingError], HTTPStatus] = {
    BadRequest: HTTPStatus.BAD_REQUEST,
    ValidationFailed: HTTPStatus.UNPROCESSABLE_ENTITY,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    PaymentFailed: HTTPStatus.PAYMENT_REQUIRED,
    ProviderUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    BillingError: HTTPStatus.INTERNAL_SERVER_ERROR,
}


def status_for(exc: BillingError) -> HTTPStatus:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def envelope(
    *, type_: str, code: str, message: str, param: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type_, "code": code, "message": message, "param": param}
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


def lambda_proxy_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """A raw HTTP API (v2) response, for errors raised before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


# Pydantic error types -> our stable codes.
_VALIDATION_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_many_items",
    "too_short": "too_few_items",
    "enum": "invalid_value",
    "literal_error": "invalid_value",
    "less_than_equal": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "greater_than": "out_of_range",
    "string_pattern_mismatch": "invalid_format",
    "value_error": "invalid_value",
}


def from_validation_errors(errors: list[dict[str, Any]]) -> tuple[HTTPStatus, dict[str, Any]]:
    """Map Powertools/pydantic request validation errors to one envelope naming the first field at fault."""
    if not errors:
        return HTTPStatus.BAD_REQUEST, envelope(
            type_="invalid_request_error", code="invalid_request", message="The request is not valid."
        )
    first = errors[0]
    err_type = str(first.get("type", "value_error"))
    loc = [str(p) for p in first.get("loc", ())]
    source = loc[0] if loc else "body"
    path = loc[1:] if source in ("body", "query", "path", "header") else loc
    param = ".".join(path) or None
    if err_type == "json_invalid":
        return HTTPStatus.BAD_REQUEST, envelope(
            type_="invalid_request_error", code="invalid_json", message="The request body is not valid JSON."
        )
    code = _VALIDATION_CODES.get(err_type, "invalid_type" if err_type.endswith("_type") else "invalid_value")
    if param is None and source == "body" and code == "missing_field":
        return HTTPStatus.BAD_REQUEST, envelope(
            type_="invalid_request_error", code="missing_body", message="A JSON request body is required."
        )
    where = {"query": "query parameter", "path": "path parameter", "header": "header"}.get(source, "field")
    message = str(first.get("msg") or "is not valid")
    return HTTPStatus.UNPROCESSABLE_ENTITY, envelope(
        type_="invalid_request_error",
        code=code,
        message=f"{where} {param or source}: {message}",
        param=param,
    )
