"""The `stripe_webhook` function (POST /v1/webhooks/stripe, no API key: the signature is the proof):
verify the Stripe signature, record the event id once, enqueue the event to PaymentEvents, answer
200. Applying the event is the `reconciliation` function's job."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from stripe_webhook_intake import WebhookAck, intake

from billing.http.app import make_resolver, resolve
from billing.http.auth import PUBLIC
from billing.observability import logger, metrics, tracer
from billing.payments.webhooks import SIGNATURE_HEADER
from billing.settings import get_settings

settings = get_settings()
app = make_resolver(title="Stripe webhooks", idempotency_table=None)
PERMISSIONS = {"POST /v1/webhooks/stripe": PUBLIC}


@app.post("/v1/webhooks/stripe", tags=["webhooks"], summary="Receive a signed Stripe event")
def stripe_webhook() -> WebhookAck:
    event = app.current_event
    return intake(
        payload=event.decoded_body or "",
        signature=event.headers.get(SIGNATURE_HEADER.lower()) or event.headers.get(SIGNATURE_HEADER),
        environ=os.environ,
        settings=settings,
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, permissions=PERMISSIONS, max_body_bytes=settings.max_body_bytes)
