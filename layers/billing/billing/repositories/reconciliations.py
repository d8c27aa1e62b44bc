"""Reconciliation reports in the BillingTable: ``RECONCILIATION#{id} / RECONCILIATION``, listed on gsi1
``RECONCILIATIONS`` by creation (newest first)."""

from __future__ import annotations

import builtins
from typing import Any

from billing.errors import ValidationFailed
from billing.models.reconciliations import ReconciliationReport
from billing.repositories import dynamo, keys, transactions

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")


def _report_of(item: dict[str, Any]) -> ReconciliationReport:
    return ReconciliationReport.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    )


class ReconciliationRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def save(self, report: ReconciliationReport) -> None:
        """Store the report; a re-run of the same scheduled window replaces it (the latest truth)."""
        created = transactions.timestamp(report.created_at)
        data = report.model_dump(mode="json")
        self._table.put_item(
            Item={
                **keys.reconciliation(report.id),
                **keys.reconciliation_listing(created, report.id),
                "type": "reconciliation",
                **data,
            }
        )

    def get(self, report_id: str) -> ReconciliationReport | None:
        item = self._table.get_item(Key=keys.reconciliation(report_id), ConsistentRead=True).get("Item")
        return _report_of(item) if item else None

    def list(
        self, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[ReconciliationReport], dict[str, Any] | None]:
        """Reports, newest first."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(keys.RECONCILIATIONS),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            if cursor.get("gsi1pk") != keys.RECONCILIATIONS:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [_report_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")
