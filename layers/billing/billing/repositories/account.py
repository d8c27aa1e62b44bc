"""The seller's settings in the BillingTable (account partition): one item and its audit entries.

* ``ACCOUNT / SETTINGS``: the settings as saved (absent until the first ``PATCH /v1/account``);
* ``ACCOUNT / SETTINGS_CHANGE#{at}#{version}``: one entry per change (who, when, from what to what),
  written in the same transaction as the change it records.
"""

from __future__ import annotations

from typing import Any

from billing.errors import Conflict
from billing.models.account import AccountChange, AccountSettings
from billing.repositories import dynamo, keys, transactions

_STORED = {"legal_name", "address", "tax_ids", "support_email", "support_phone", "logo_url", "brand_color",
           "invoice_footer", "payment_instructions", "default_locale", "updated_at", "updated_by",
           "version"}  # fmt: skip


class AccountRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, *, consistent: bool = True) -> AccountSettings | None:
        """The saved settings, or None before the first save."""
        item = self._table.get_item(Key=keys.account_settings(), ConsistentRead=consistent).get("Item")
        if not item:
            return None
        return AccountSettings.model_validate(dynamo.plain({k: v for k, v in item.items() if k in _STORED}))

    def save(self, new: AccountSettings, *, previous_version: int, change: AccountChange) -> None:
        """Write ``new`` (its ``version`` is ``previous_version + 1``) and its audit entry at once; a
        concurrent change in between fails the condition (409 ``concurrent_update``)."""
        item = {
            **keys.account_settings(),
            "type": "account_settings",
            **new.model_dump(mode="json", include=_STORED, exclude_none=True),
        }
        condition: dict[str, Any]
        if previous_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": previous_version},
            }
        entry = {
            **keys.account_settings_change(transactions.timestamp(change.at), change.version),
            "type": "account_settings_change",
            **change.model_dump(mode="json"),
        }
        actions = [
            {"Put": {"TableName": self._table_name, "Item": item, **condition}},
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": entry,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        with dynamo.conditional(
            Conflict("the account settings changed meanwhile; read them again", code="concurrent_update")
        ):
            dynamo.client().transact_write_items(TransactItems=actions)

    def changes(
        self, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[AccountChange], dict[str, Any] | None]:
        """Audit entries, newest first."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.ACCOUNT)
            & Key("sk").begins_with(keys.ACCOUNT_SETTINGS_CHANGE_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        fields = set(AccountChange.model_fields)
        out = [
            AccountChange.model_validate(dynamo.plain({k: v for k, v in i.items() if k in fields}))
            for i in page.get("Items", [])
        ]
        return out, page.get("LastEvaluatedKey")
