"""Subscriptions in the BillingTable: the subscription item, its audit entries, its billing schedule.

Items (keys from ``keys``; access patterns in docs/data-model.md):

* ``SUBSCRIPTION#{id} / SUBSCRIPTION``: the subscription (items, discounts, pending changes inside);
  on gsi1 under ``CUSTOMER_SUBSCRIPTIONS#{customer_id}``; on gsi2 under ``DUE#{shard}`` sorted by
  ``{next_billing_at}#{id}`` while something is left to bill (the billing schedule).
* ``SUBSCRIPTION#{id} / CHANGE#{at}#{version}``: one audit entry per change (who, when, what).

Every write puts the whole subscription conditional on the ``version`` read (optimistic locking),
in one transaction with its audit entry and whatever else must change with it (an invoice, the
period guards, the plan's ``subscriptions_count``, a coupon's redemption).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from billing.errors import ValidationFailed
from billing.models.subscriptions import Subscription, SubscriptionChange
from billing.repositories import dynamo, keys, transactions

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")
_BATCH = 100


def schedule_sort_key(at: datetime) -> str:
    return transactions.timestamp(at)


def item_of(subscription: Subscription) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.subscription(subscription.id),
        **keys.customer_subscriptions(subscription.customer_id, subscription.id),
        "type": "subscription",
        **subscription.model_dump(mode="json"),
    }
    if subscription.next_billing_at is not None:
        item |= keys.billing_schedule(subscription.id, schedule_sort_key(subscription.next_billing_at))
    return item


def subscription_of(item: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    )


def create_action(subscription: Subscription) -> dict[str, Any]:
    return {"Put": {"Item": item_of(subscription), "ConditionExpression": "attribute_not_exists(pk)"}}


def replace_action(current: Subscription, new: Subscription) -> dict[str, Any]:
    """Put ``new`` if the stored subscription is still at ``current.version`` (the optimistic lock)."""
    assert new.id == current.id and new.version == current.version + 1
    return {
        "Put": {
            "Item": item_of(new),
            "ConditionExpression": "attribute_exists(pk) AND #version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": current.version},
        }
    }


def change_action(change: SubscriptionChange, *, version: int) -> dict[str, Any]:
    at = transactions.timestamp(change.at)
    return {
        "Put": {
            "Item": {
                **keys.subscription_change(change.subscription_id, at, f"{version:08d}"),
                "type": "subscription_change",
                **change.model_dump(mode="json"),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def plan_count_action(plan_code: str, delta: int) -> dict[str, Any]:
    return {
        "Update": {
            "Key": keys.plan(plan_code),
            "UpdateExpression": "SET subscriptions_count = if_not_exists(subscriptions_count, :zero) + :delta",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":zero": 0, ":delta": delta},
        }
    }


def coupon_redeem_action(code: str, at: datetime) -> dict[str, Any]:
    """Count one redemption if the coupon is still redeemable (the condition of ``CouponRepository.redeem``)."""
    from pydantic import TypeAdapter

    return {
        "Update": {
            "Key": keys.coupon(code),
            "UpdateExpression": "SET times_redeemed = times_redeemed + :one",
            "ConditionExpression": (
                "attribute_exists(pk) AND archived = :false "
                "AND (attribute_type(max_redemptions, :null) OR times_redeemed < max_redemptions) "
                "AND (attribute_type(redeem_by, :null) OR redeem_by > :at)"
            ),
            "ExpressionAttributeValues": {
                ":one": 1,
                ":false": False,
                ":null": "NULL",
                ":at": str(TypeAdapter(datetime).dump_python(at, mode="json")),
            },
        }
    }


def period_guard_action(
    subscription_id: str, item_id: str, boundary: datetime, invoice_id: str | None
) -> dict[str, Any]:
    """The exactly-once guard of (subscription item, boundary): fails if that boundary was billed."""
    return {
        "Put": {
            "Item": {
                **keys.invoice_period_guard(subscription_id, item_id, transactions.timestamp(boundary)),
                "type": "guard",
                "invoice_id": invoice_id or "",
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class SubscriptionRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def table_name(self) -> str:
        return self._table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    # ------------------------------------------------------------------ reads

    def get(self, subscription_id: str) -> Subscription | None:
        item = self._table.get_item(Key=keys.subscription(subscription_id), ConsistentRead=True).get("Item")
        return subscription_of(item) if item else None

    def get_many(self, subscription_ids: Iterable[str]) -> builtins.list[Subscription]:
        """Consistent reads of these subscriptions (those that exist), in the order given."""
        wanted = list(dict.fromkeys(subscription_ids))
        found: dict[str, Subscription] = {}
        for start in range(0, len(wanted), _BATCH):
            request: dict[str, Any] = {
                self._table_name: {
                    "Keys": [keys.subscription(i) for i in wanted[start : start + _BATCH]],
                    "ConsistentRead": True,
                }
            }
            while request:
                result = dynamo.dynamodb_resource().batch_get_item(RequestItems=request)
                for item in result.get("Responses", {}).get(self._table_name, []):
                    sub = subscription_of(item)
                    found[sub.id] = sub
                request = result.get("UnprocessedKeys") or {}
        return [found[i] for i in wanted if i in found]

    def list_for_customer(
        self, customer_id: str, *, limit: int, cursor: dict[str, Any] | None, status: str | None = None
    ) -> tuple[builtins.list[Subscription], dict[str, Any] | None]:
        from boto3.dynamodb.conditions import Attr, Key

        partition = keys.customer_subscriptions_partition(customer_id)
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(partition),
            "Limit": limit,
        }
        if status is not None:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        if cursor:
            if cursor.get("gsi1pk") != partition:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [subscription_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    def all_for_customer(self, customer_id: str) -> builtins.list[Subscription]:
        """Every subscription of the customer, read consistently (the index gives the ids)."""
        from boto3.dynamodb.conditions import Key

        items = transactions.query_all(
            self._table_name,
            IndexName="gsi1",
            KeyConditionExpression=Key("gsi1pk").eq(keys.customer_subscriptions_partition(customer_id)),
            ProjectionExpression="pk, sk, id",
        )
        return self.get_many(str(i["id"]) for i in items)

    def list_changes(
        self, subscription_id: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[SubscriptionChange], dict[str, Any] | None]:
        """The subscription's audit entries, oldest first."""
        from boto3.dynamodb.conditions import Key

        partition = keys.subscription_partition(subscription_id)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(partition)
            & Key("sk").begins_with(keys.SUBSCRIPTION_CHANGE_PREFIX),
            "Limit": limit,
        }
        if cursor:
            if cursor.get("pk") != partition:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        changes = [
            SubscriptionChange.model_validate(
                dynamo.plain({k: v for k, v in i.items() if k not in _KEY_ATTRIBUTES})
            )
            for i in page.get("Items", [])
        ]
        return changes, page.get("LastEvaluatedKey")

    def due(
        self, shard: int, *, up_to: datetime, cursor: dict[str, Any] | None = None, limit: int = 500
    ) -> tuple[builtins.list[Subscription], dict[str, Any] | None]:
        """Subscriptions of one schedule shard with ``next_billing_at <= up_to`` (oldest due first)."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": Key("gsi2pk").eq(keys.due_partition(shard))
            & Key("gsi2sk").lte(f"{schedule_sort_key(up_to)}#~"),
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [subscription_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    # ------------------------------------------------------------------ writes

    def write(self, actions: Sequence[dict[str, Any]]) -> None:
        """One all-or-nothing transaction (raises ``transactions.TransactionConflict``)."""
        transactions.write(self._table_name, actions)
