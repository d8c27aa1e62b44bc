"""TransactWriteItems with the failed item named, and helpers shared by the catalog repositories.

``write`` raises ``TransactionConflict`` carrying the index of every item whose
condition failed, so a repository can say *which* rule was broken
(``external_id_taken`` vs ``invoice_prefix_taken``) instead of a generic conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from billing.repositories import dynamo

MAX_ITEMS = 100
"""DynamoDB's limit of items in one transaction."""


class TransactionConflict(Exception):
    """A condition of the transaction failed (``failed``: indexes of the items at fault).

    ``failed`` is empty when the transaction was cancelled for another reason
    (a concurrent transaction on the same item): treat that as a lost race.
    """

    def __init__(self, failed: Sequence[int], items: Sequence[dict[str, Any] | None]) -> None:
        super().__init__(f"transaction cancelled (items {list(failed)})")
        self.failed = list(failed)
        self.items = list(items)


def write(table_name: str, actions: Sequence[dict[str, Any]]) -> None:
    """Run ``actions`` (``{"Put": {...}}``, ``{"Update": ...}``, ``{"Delete": ...}``,
    ``{"ConditionCheck": ...}`` without ``TableName``) as one all-or-nothing transaction."""
    from botocore.exceptions import ClientError

    if not actions:
        return
    if len(actions) > MAX_ITEMS:
        raise ValueError(f"a transaction takes at most {MAX_ITEMS} items, got {len(actions)}")
    items = []
    for action in actions:
        ((kind, spec),) = action.items()
        items.append({kind: {"TableName": table_name, **spec}})
    try:
        dynamo.client().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = exc.response.get("CancellationReasons") or []
        failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
        old = [dynamo.plain(_deserialize(r.get("Item"))) if r.get("Item") else None for r in reasons]
        raise TransactionConflict(failed, old) from exc


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {
        k: deserializer.deserialize(v) if isinstance(v, dict) and len(v) == 1 else v for k, v in item.items()
    }


def timestamp(value: datetime) -> str:
    """A fixed-width UTC timestamp that sorts as text (microseconds always present)."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def query_all(table_name: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query (following LastEvaluatedKey): for small, bounded result sets only."""
    out: list[dict[str, Any]] = []
    while True:
        page = dynamo.table(table_name).query(**kwargs)
        out += page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
