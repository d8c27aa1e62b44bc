"""Received provider webhook events: one dedup marker per event id, kept for a while (TTL).

* ``WEBHOOK_EVENT#{event id} / EVENT``: written with ``attribute_not_exists`` when the event is first
  received; ``expires_at`` (epoch seconds) lets DynamoDB's TTL delete it once the provider has long
  stopped retrying.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from billing.errors import ProviderUnavailable
from billing.repositories import dynamo, keys, transactions

MARKER_RETENTION = timedelta(days=30)
"""Stripe retries a webhook for up to 3 days; a marker outlives every retry."""


class WebhookEventRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def mark_received(self, *, event_id: str, event_type: str, at: datetime) -> bool:
        """True when this is the first time ``event_id`` is received; False for a duplicate."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._table.put_item(
                Item={
                    **keys.webhook_event(event_id),
                    "type": "webhook_event",
                    "event_id": event_id,
                    "event_type": event_type,
                    "received_at": transactions.timestamp(at),
                    "expires_at": int((at + MARKER_RETENTION).timestamp()),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise ProviderUnavailable(f"recording the webhook event failed: {exc}") from exc
        except BotoCoreError as exc:
            raise ProviderUnavailable(f"recording the webhook event failed: {exc}") from exc
        return True

    def forget(self, event_id: str) -> None:
        """Remove the marker (the event could not be enqueued: the provider's retry must get through)."""
        self._table.delete_item(Key=keys.webhook_event(event_id))
