"""Webhook verification: Stripe's own ``Webhook.construct_event``, then our typed event.

Needs only the signing secret (no API key), so the webhook function can verify without one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from billing.errors import ValidationFailed
from billing.payments.models import WebhookEvent

DEFAULT_TOLERANCE = 300
SIGNATURE_HEADER = "Stripe-Signature"


def construct_webhook_event(
    payload: bytes | str,
    sig_header: str | None,
    *,
    secrets: str | Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE,
) -> WebhookEvent:
    """Verify ``payload`` (the raw body, exactly as received) against any of ``secrets``.

    A missing, malformed or wrong signature, or a timestamp older than ``tolerance`` seconds, is
    ``ValidationFailed`` with code ``invalid_signature``; a body that is not a Stripe event is
    ``invalid_payload``.
    """
    import stripe

    if tolerance <= 0:
        raise ValueError("tolerance must be positive: it is what refuses replayed old events")
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(
                "webhook body is not UTF-8", code="invalid_payload", param="body"
            ) from None
    else:
        text = payload
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    if not candidates:
        raise ValueError("no webhook secret given")
    failure: str = "no signature checked"
    for secret in candidates:
        try:
            stripe.Webhook.construct_event(text, sig_header, secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            failure = str(exc.user_message or "signature verification failed")
            continue
        except ValueError:
            raise ValidationFailed(
                "webhook body is not a Stripe event", code="invalid_payload", param="body"
            ) from None
        return event_from_json(json.loads(text))
    raise ValidationFailed(
        f"webhook signature refused: {failure}", code="invalid_signature", param=SIGNATURE_HEADER
    )


def event_from_json(data: Any) -> WebhookEvent:
    """A Stripe event's JSON (already verified, or read back from our queue) → ``WebhookEvent``."""
    try:
        request = data.get("request")
        key = request.get("idempotency_key") if isinstance(request, dict) else None
        inner = data["data"]
        return WebhookEvent(
            id=data["id"],
            type=data["type"],
            created=datetime.fromtimestamp(int(data["created"]), UTC),
            livemode=bool(data.get("livemode", False)),
            api_version=data.get("api_version"),
            data_object=inner["object"],
            previous_attributes=inner.get("previous_attributes"),
            request_idempotency_key=key,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationFailed(
            "webhook body is not a Stripe event", code="invalid_payload", param="body"
        ) from None
