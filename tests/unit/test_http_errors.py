"""The one mapping from exception class to status and envelope."""

from __future__ import annotations

import pytest

from billing.errors import (
    BillingError,
    Conflict,
    CurrencyMismatch,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    ValidationFailed,
)
from billing.http.errors import envelope, from_validation_errors, status_for


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ValidationFailed("x"), 422),
        (CurrencyMismatch("x"), 422),  # a subclass inherits its parent's status
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (Unauthenticated("x"), 401),
        (Forbidden("x"), 403),
        (PayloadTooLarge("x"), 413),
        (BillingError("x"), 500),
    ],
)
def test_status_comes_from_the_class(exc, status):
    assert status_for(exc) == status


def test_status_ignores_the_message_text():
    assert status_for(ValidationFailed("not found")) == 422


def test_envelope_shape():
    assert envelope(type_="invalid_request_error", code="c", message="m", param="p") == {
        "error": {"type": "invalid_request_error", "code": "c", "message": "m", "param": "p"}
    }


@pytest.mark.parametrize(
    ("error", "status", "code", "param"),
    [
        ({"loc": ("body", "name"), "type": "missing", "msg": "Field required"}, 422, "missing_field", "name"),
        (
            {"loc": ("body", "tiers", 1, "up_to"), "type": "int_type", "msg": "x"},
            422,
            "invalid_type",
            "tiers.1.up_to",
        ),
        ({"loc": ("body", "extra"), "type": "extra_forbidden", "msg": "x"}, 422, "unknown_field", "extra"),
        ({"loc": ("query", "limit"), "type": "less_than_equal", "msg": "x"}, 422, "out_of_range", "limit"),
        ({"loc": ("body",), "type": "json_invalid", "msg": "x"}, 400, "invalid_json", None),
        ({"loc": ("body",), "type": "missing", "msg": "x"}, 400, "missing_body", None),
    ],
)
def test_validation_errors_name_the_field(error, status, code, param):
    got_status, body = from_validation_errors([error])
    assert got_status == status
    assert body["error"]["code"] == code
    assert body["error"]["param"] == param
