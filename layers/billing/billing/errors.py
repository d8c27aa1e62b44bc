"""One exception hierarchy for the whole package.

Services raise these; ``billing.http.errors`` maps each class to one HTTP
status and the stable error envelope ``{"error": {type, code, message,
param}}``. A status is never chosen by matching message text: the class
decides the status, ``code`` is the machine-readable reason and ``param`` the
field at fault (dotted path, e.g. ``tiers.1.up_to``).
"""

from __future__ import annotations


class BillingError(Exception):
    """Base class of every error the package raises on purpose."""

    type: str = "api_error"
    default_code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param

    def to_dict(self) -> dict[str, str | None]:
        return {"type": self.type, "code": self.code, "message": self.message, "param": self.param}


class ValidationFailed(BillingError):
    """The input breaks a rule: wrong shape, out of range, inconsistent."""

    type = "invalid_request_error"
    default_code = "validation_failed"


class BadRequest(BillingError):
    """The request cannot be read at all: not JSON, or not the envelope the route expects."""

    type = "invalid_request_error"
    default_code = "invalid_request"


class NotFound(BillingError):
    type = "invalid_request_error"
    default_code = "resource_not_found"


class Conflict(BillingError):
    """The request is valid but clashes with the current state."""

    type = "invalid_request_error"
    default_code = "conflict"


class Unauthenticated(BillingError):
    type = "authentication_error"
    default_code = "unauthenticated"


class Forbidden(BillingError):
    type = "permission_error"
    default_code = "forbidden"


class PayloadTooLarge(BillingError):
    type = "invalid_request_error"
    default_code = "payload_too_large"


class PaymentFailed(BillingError):
    type = "card_error"
    default_code = "payment_failed"


class ProviderUnavailable(BillingError):
    """A dependency (payment provider, AWS) failed in a way worth retrying."""

    type = "api_error"
    default_code = "provider_unavailable"


class CurrencyMismatch(ValidationFailed):
    default_code = "currency_mismatch"
