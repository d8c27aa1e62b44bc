"""The invoice's current Checkout Session: ``INVOICE#{invoice_id} / CHECKOUT`` (keys in ``keys``).

Replaced only by the next generation (``attribute_not_exists(pk) OR generation = :previous``), so
two Pay presses racing to replace the same session cannot both win.
"""

from __future__ import annotations

from typing import Any

from billing.models.payments import InvoiceCheckout
from billing.repositories import dynamo, keys, transactions

_KEY_ATTRIBUTES = ("pk", "sk", "type")


class CheckoutRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, invoice_id: str) -> InvoiceCheckout | None:
        item = self._table.get_item(Key=keys.invoice_checkout(invoice_id), ConsistentRead=True).get("Item")
        if not item:
            return None
        return InvoiceCheckout.model_validate(
            dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
        )

    def replace(self, checkout: InvoiceCheckout, *, previous_generation: int | None) -> bool:
        """Store ``checkout`` over generation ``previous_generation`` (None: there was none); False when
        another request replaced it first."""
        from botocore.exceptions import ClientError

        data = checkout.model_dump(mode="json")
        data["created_at"] = transactions.timestamp(checkout.created_at)
        data["expires_at"] = transactions.timestamp(checkout.expires_at) if checkout.expires_at else None
        condition = "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        if previous_generation is not None:
            condition = "generation = :previous"
            values[":previous"] = previous_generation
        kwargs: dict[str, Any] = {
            "Item": {**keys.invoice_checkout(checkout.invoice_id), "type": "invoice_checkout", **data},
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._table.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
