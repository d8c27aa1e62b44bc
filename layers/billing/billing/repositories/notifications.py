"""Delivery markers: ``{INVOICE|CREDITNOTE}#{id} / NOTIFICATION#{kind}``, written after a send.

The notifier reads the marker before sending and writes it after: a crash between the two sends
the mail again on redelivery (at-least-once), never loses it. See docs/invoices.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from billing.repositories import dynamo, keys, transactions


class NotificationRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def sent(self, subject_id: str, kind: str) -> dict[str, Any] | None:
        """The marker of a delivered (or deliberately skipped) notification, if any."""
        item = self._table.get_item(Key=keys.notification_sent(subject_id, kind), ConsistentRead=True).get(
            "Item"
        )
        return dynamo.plain(item) if item else None

    def mark_sent(
        self,
        subject_id: str,
        kind: str,
        *,
        at: datetime,
        outcome: str,
        recipients: Sequence[str] = (),
        message_id: str | None = None,
    ) -> None:
        self._table.put_item(
            Item={
                **keys.notification_sent(subject_id, kind),
                "type": "notification_sent",
                "kind": kind,
                "subject_id": subject_id,
                "outcome": outcome,
                "recipients": list(recipients),
                "message_id": message_id,
                "at": transactions.timestamp(at),
            }
        )
