"""API keys in the BillingTable (account partition)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing.errors import Conflict, NotFound
from billing.models.api_keys import ApiKey
from billing.repositories import dynamo, keys


class ApiKeyRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def create(self, key: ApiKey) -> None:
        item = {**keys.api_key(key.id), "type": "api_key", **key.model_dump(mode="json")}
        with dynamo.conditional(Conflict("an API key with this id exists", code="api_key_exists")):
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, key_id: str) -> ApiKey | None:
        item = self._table.get_item(Key=keys.api_key(key_id)).get("Item")
        return _to_model(item) if item else None

    def list(
        self, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[ApiKey], dict[str, Any] | None]:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.ACCOUNT) & Key("sk").begins_with(keys.API_KEY_PREFIX),
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [_to_model(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    def revoke(self, key_id: str, *, at: datetime) -> ApiKey:
        with dynamo.conditional(
            NotFound(f"no active API key {key_id}", code="api_key_not_found", param="key_id")
        ):
            result = self._table.update_item(
                Key=keys.api_key(key_id),
                UpdateExpression="SET revoked_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_type(revoked_at, :null)",
                ExpressionAttributeValues={":at": at.isoformat(), ":null": "NULL"},
                ReturnValues="ALL_NEW",
            )
        return _to_model(result["Attributes"])


def _to_model(item: dict[str, Any]) -> ApiKey:
    return ApiKey.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in ("pk", "sk", "type")})
    )
