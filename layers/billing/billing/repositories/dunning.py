"""Dunning states in the BillingTable (see ``billing.models.dunning``).

* ``INVOICE#{id} / DUNNING``: the state, conditional on ``version``;
* gsi2 ``DUNNING_DUE#{shard}`` / ``{next_at}#{invoice_id}`` while a step or retry is due (the due-index
  the hourly dunning run queries: never a scan);
* gsi1 ``CUSTOMER_DUNNING#{customer_id}`` / ``{invoice_id}`` while dunning is active (a new payment
  method retries the customer's invoices at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from billing.models.dunning import DunningState
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict


class DunningConflict(Exception):
    """The state changed since it was read (a concurrent run, the collector): read it again."""


def _item(state: DunningState) -> dict[str, Any]:
    data = state.model_dump(mode="json")
    for name in ("first_failed_at", "last_failed_at", "next_retry_at", "updated_at"):
        value = getattr(state, name)
        data[name] = transactions.timestamp(value) if value is not None else None
    item: dict[str, Any] = {**keys.invoice_dunning(state.invoice_id), "type": "dunning", **data}
    if state.active:
        item |= keys.customer_dunning(state.customer_id, state.invoice_id)
        if state.next_retry_at is not None:
            item |= keys.dunning_schedule(state.invoice_id, transactions.timestamp(state.next_retry_at))
    return item


def put_action(state: DunningState, *, previous: DunningState | None) -> dict[str, Any]:
    """A transaction action writing ``state`` over ``previous`` (read before), conditional on it."""
    if previous is None:
        return {"Put": {"Item": _item(state), "ConditionExpression": "attribute_not_exists(pk)"}}
    return {
        "Put": {
            "Item": _item(state),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": previous.version},
        }
    }


class DunningRepository:
    def __init__(self, *, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self.table_name)

    def get(self, invoice_id: str) -> DunningState | None:
        item = self._table.get_item(Key=keys.invoice_dunning(invoice_id), ConsistentRead=True).get("Item")
        return DunningState.model_validate(dynamo.plain(item)) if item else None

    def save(self, state: DunningState, *, previous: DunningState | None) -> None:
        """Write ``state`` if the stored one is still ``previous``; else ``DunningConflict``."""
        try:
            transactions.write(self.table_name, [put_action(state, previous=previous)])
        except TransactionConflict as exc:
            raise DunningConflict(state.invoice_id) from exc

    def due(self, shard: int, now: datetime) -> Iterator[str]:
        """Invoice ids of shard ``shard`` whose step or retry is due at ``now``, oldest first."""
        upper = f"{transactions.timestamp(now)}$"  # '$' sorts after '#': every sk at or before now
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :p AND gsi2sk < :u",
            "ExpressionAttributeValues": {":p": keys.dunning_due_partition(shard), ":u": upper},
            "ProjectionExpression": "invoice_id",
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield str(item["invoice_id"])
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def active_for_customer(self, customer_id: str) -> list[str]:
        """Invoice ids of the customer's invoices in active dunning."""
        items = transactions.query_all(
            self.table_name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": keys.customer_dunning_partition(customer_id)},
            ProjectionExpression="invoice_id",
        )
        return [str(i["invoice_id"]) for i in items]
