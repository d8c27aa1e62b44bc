"""The customer portal's items in the BillingTable (keys from ``keys``; docs/data-model.md):

* ``PORTAL_SESSION#{sha256 of the token} / PORTAL_SESSION``: a portal session; ``expires_at`` (epoch
  seconds) is the table's TTL attribute, so DynamoDB removes it some time after it expired (every
  read checks the expiry itself: TTL deletion is lazy).
* ``SETUP_CHECKOUT#{cs_...} / SETUP_CHECKOUT``: a Checkout Session in setup mode started from the
  portal, its customer, and once applied what became of it; kept two days (TTL), past the Checkout
  Session's own 24 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billing.errors import Conflict
from billing.models.portal import PortalSession, SetupCheckout
from billing.repositories import dynamo, keys, transactions

SETUP_CHECKOUT_RETENTION = timedelta(days=2)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class PortalRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    # ------------------------------------------------------------------ sessions

    def create_session(self, session: PortalSession, *, token_hash: str) -> None:
        item = {
            **keys.portal_session(token_hash),
            "type": "portal_session",
            **session.model_dump(mode="json", exclude={"expires_at", "created_at"}, exclude_none=True),
            "created_at": transactions.timestamp(session.created_at),
            "expires_at": _epoch(session.expires_at),
        }
        with dynamo.conditional(
            Conflict("a portal session with this token exists", code="portal_session_exists")
        ):
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get_session(self, token_hash: str) -> PortalSession | None:
        """The session, expired or not (the caller tells an expired link from an unknown one)."""
        item = self._table.get_item(Key=keys.portal_session(token_hash), ConsistentRead=True).get("Item")
        if not item:
            return None
        data = dynamo.plain({k: v for k, v in item.items() if k in PortalSession.model_fields})
        data["expires_at"] = datetime.fromtimestamp(int(data["expires_at"]), UTC)
        return PortalSession.model_validate(data)

    # ------------------------------------------------------------------ setup checkouts

    def record_setup_checkout(self, checkout: SetupCheckout) -> None:
        item = {
            **keys.setup_checkout(checkout.checkout_session_id),
            "type": "setup_checkout",
            **checkout.model_dump(mode="json", exclude_none=True),
            "expires_at": _epoch(checkout.started_at + SETUP_CHECKOUT_RETENTION),
        }
        with dynamo.conditional(Conflict("this checkout session is recorded", code="setup_checkout_exists")):
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get_setup_checkout(self, checkout_session_id: str) -> SetupCheckout | None:
        item = self._table.get_item(Key=keys.setup_checkout(checkout_session_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return SetupCheckout.model_validate(
            dynamo.plain({k: v for k, v in item.items() if k in SetupCheckout.model_fields})
        )

    def finish_setup_checkout(
        self, checkout_session_id: str, *, outcome: str, payment_method: str | None, at: datetime
    ) -> bool:
        """Record what became of the session, once: False when another path recorded it first."""
        values: dict[str, Any] = {":at": at.isoformat(), ":outcome": outcome}
        sets = "applied_at = :at, outcome = :outcome"
        if payment_method is not None:
            sets += ", payment_method = :pm"
            values[":pm"] = payment_method
        try:
            with dynamo.conditional(Conflict("already finished", code="setup_checkout_finished")):
                self._table.update_item(
                    Key=keys.setup_checkout(checkout_session_id),
                    UpdateExpression=f"SET {sets}",
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(applied_at)",
                    ExpressionAttributeValues=values,
                )
        except Conflict:
            return False
        return True
