"""Request bodies read as JSON with exact numbers (Decimal, never float).

The typed routes of the resolver parse bodies with the standard JSON decoder (floats); routes
whose numbers are billed read the body here instead.
"""

from __future__ import annotations

from typing import Any

from billing.errors import BadRequest
from billing.models.usage import loads


def json_body(body: str | None) -> Any:
    """The parsed body: 400 ``missing_body`` when absent, 400 ``invalid_json`` when not JSON."""
    if not body:
        raise BadRequest("A JSON request body is required.", code="missing_body")
    try:
        return loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
