"""Wiring of the webhook intake: the signing secret(s), the dedup markers, the PaymentEvents queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from billing.gateways.aws import PaymentEventQueue
from billing.payments.settings import StripeSettings
from billing.repositories.payment_events import WebhookEventRepository
from billing.services.payment_events import receive_webhook
from billing.settings import Settings

_deps: dict[str, Any] = {}


class WebhookAck(BaseModel):
    received: bool = True
    duplicate: bool
    event_id: str


def intake(
    *, payload: str, signature: str | None, environ: Mapping[str, str], settings: Settings
) -> WebhookAck:
    if "events" not in _deps:  # built once per container, never at import
        _deps["events"] = WebhookEventRepository(table_name=settings.require("billing_table"))
        _deps["queue"] = PaymentEventQueue(url=settings.require("payment_events_queue_url"))
    # Read through Powertools' parameter cache on each call: a rolled secret is picked up without a cold start.
    secrets = StripeSettings.from_env(environ).require_webhook_secrets()
    receipt, event = receive_webhook(
        payload=payload, signature=signature, secrets=secrets, events=_deps["events"], queue=_deps["queue"]
    )
    return WebhookAck(duplicate=receipt == "duplicate", event_id=event.id)
