"""Payments and refunds in the BillingTable (keys in ``keys``; see ``billing.models.payments``).

* ``PAYMENT#{id} / PAYMENT``: the payment, on gsi2 ``PAYMENTS#{yyyy-mm}`` / ``{created}#{id}``.
* ``INVOICE#{invoice_id} / PAYMENT#{id}``: the invoice's copy (its payment history), on gsi1
  ``INVOICE_PAYMENTS#{invoice_id}``.
* ``PROVIDER_PAYMENT#{pi} / LOOKUP``: provider payment id -> payment id.
* ``PAYMENTS_PENDING#{shard} / collect#{invoice_id}``: a collection committed, not yet enqueued.

A payment's id is derived from its natural key (invoice and attempt, or the provider payment id),
so recording the same payment twice hits ``attribute_not_exists`` and is noticed.
"""

from __future__ import annotations

import builtins
import hashlib
from datetime import datetime
from typing import Any

from billing.errors import ProviderUnavailable
from billing.models.payments import (
    PAYMENT_ID_PREFIX,
    REFUND_ID_PREFIX,
    CheckoutDecline,
    Payment,
    PaymentRecordStatus,
    Refund,
)
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")


def payment_id_for_attempt(invoice_id: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{invoice_id}#{attempt}".encode()).hexdigest()[:20]
    return f"{PAYMENT_ID_PREFIX}{digest}"


def payment_id_for_provider(provider_payment_id: str) -> str:
    digest = hashlib.sha256(f"provider#{provider_payment_id}".encode()).hexdigest()[:20]
    return f"{PAYMENT_ID_PREFIX}{digest}"


def refund_id_for_provider(provider_refund_id: str) -> str:
    digest = hashlib.sha256(f"provider#{provider_refund_id}".encode()).hexdigest()[:20]
    return f"{REFUND_ID_PREFIX}{digest}"


def _data(payment: Payment) -> dict[str, Any]:
    data = payment.model_dump(mode="json")
    data["created_at"] = transactions.timestamp(payment.created_at)
    data["settled_at"] = transactions.timestamp(payment.settled_at) if payment.settled_at else None
    return data


def payment_puts(payment: Payment) -> list[dict[str, Any]]:
    """Transaction actions creating the payment (by id, in its invoice, the provider lookup)."""
    created = transactions.timestamp(payment.created_at)
    data = _data(payment)
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": {
                    **keys.payment(payment.id),
                    **keys.payments_by_month(created, payment.id),
                    "type": "payment",
                    **data,
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Put": {
                "Item": {
                    **keys.invoice_payment(payment.invoice_id, payment.id),
                    **keys.invoice_payments_listing(payment.invoice_id, created, payment.id),
                    "type": "invoice_payment",
                    **data,
                },
            }
        },
    ]
    if payment.provider_payment_id:
        actions.append(
            {
                "Put": {
                    "Item": {
                        **keys.provider_payment(payment.provider_payment_id),
                        "type": "provider_payment",
                        "payment_id": payment.id,
                        "invoice_id": payment.invoice_id,
                    }
                }
            }
        )
    return actions


def payment_updates(current: Payment, new: Payment) -> list[dict[str, Any]]:
    """Replace a stored payment (both copies) if its status is still ``current.status``."""
    data = {k: v for k, v in _data(new).items() if k not in ("id", "invoice_id", "created_at")}
    names = {f"#a{i}": k for i, k in enumerate(data)}
    values: dict[str, Any] = {f":a{i}": v for i, v in enumerate(data.values())}
    values[":expected"] = current.status
    sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(data)))
    actions = []
    for key in (keys.payment(current.id), keys.invoice_payment(current.invoice_id, current.id)):
        actions.append(
            {
                "Update": {
                    "Key": key,
                    "UpdateExpression": f"SET {sets}",
                    "ConditionExpression": "attribute_exists(pk) AND #status_ = :expected",
                    "ExpressionAttributeNames": {**names, "#status_": "status"},
                    "ExpressionAttributeValues": values,
                }
            }
        )
    return actions


def refund_actions(payment: Payment, refund: Refund) -> list[dict[str, Any]]:
    """Record ``refund`` of ``payment`` once: the refund (by id, in its invoice), the provider lookup
    (``attribute_not_exists``: the guard) and the payment's refunded amount (conditional on the amount
    read, so two refunds recorded at once cannot lose one)."""
    created = transactions.timestamp(refund.created_at)
    data = refund.model_dump(mode="json") | {"created_at": created}
    refunded = payment.amount_refunded + refund.amount
    status: PaymentRecordStatus = payment.status
    if payment.status in ("succeeded", "partially_refunded", "refunded"):
        status = "refunded" if refunded >= payment.amount else "partially_refunded"
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": {
                    **keys.refund(refund.id),
                    **keys.refunds_by_month(created, refund.id),
                    "type": "refund",
                    **data,
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Put": {
                "Item": {
                    **keys.invoice_refund(refund.invoice_id, refund.id),
                    "type": "invoice_refund",
                    **data,
                }
            }
        },
    ]
    if refund.provider_refund_id:
        actions.append(
            {
                "Put": {
                    "Item": {
                        **keys.provider_refund(refund.provider_refund_id),
                        "type": "provider_refund",
                        "refund_id": refund.id,
                        "payment_id": payment.id,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    for key in (keys.payment(payment.id), keys.invoice_payment(payment.invoice_id, payment.id)):
        actions.append(
            {
                "Update": {
                    "Key": key,
                    "UpdateExpression": "SET amount_refunded = :refunded, #status_ = :status",
                    "ConditionExpression": "attribute_exists(pk) AND amount_refunded = :before",
                    "ExpressionAttributeNames": {"#status_": "status"},
                    "ExpressionAttributeValues": {
                        ":refunded": refunded,
                        ":status": status,
                        ":before": payment.amount_refunded,
                    },
                }
            }
        )
    return actions


def dispute_actions(
    payment: Payment,
    *,
    dispute_id: str,
    dispute_status: str,
    event_at: datetime,
    new_status: PaymentRecordStatus,
) -> list[dict[str, Any]]:
    """Apply a dispute's state if it is newer than the one applied (events arrive in any order)."""
    at = transactions.timestamp(event_at)
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": {
                    **keys.provider_dispute(dispute_id),
                    "type": "provider_dispute",
                    "payment_id": payment.id,
                    "dispute_status": dispute_status,
                    "event_at": at,
                },
                "ConditionExpression": "attribute_not_exists(pk) OR event_at < :at",
                "ExpressionAttributeValues": {":at": at},
            }
        }
    ]
    for key in (keys.payment(payment.id), keys.invoice_payment(payment.invoice_id, payment.id)):
        actions.append(
            {
                "Update": {
                    "Key": key,
                    "UpdateExpression": "SET #status_ = :status",
                    "ConditionExpression": "attribute_exists(pk) AND #status_ = :expected",
                    "ExpressionAttributeNames": {"#status_": "status"},
                    "ExpressionAttributeValues": {":status": new_status, ":expected": payment.status},
                }
            }
        )
    return actions


def pending_payment_put(invoice_id: str, attempt: int, at: datetime) -> dict[str, Any]:
    """A collection committed with the change that calls for it, enqueued right after (or by the finalizer)."""
    return {
        "Put": {
            "Item": {
                **keys.pending_payment(invoice_id),
                "type": "pending_payment",
                "invoice_id": invoice_id,
                "attempt": attempt,
                "since": transactions.timestamp(at),
            }
        }
    }


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def payment_of(item: dict[str, Any]) -> Payment:
    return Payment.model_validate(dynamo.plain(_strip(item)))


class PaymentRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, payment_id: str) -> Payment | None:
        item = self._table.get_item(Key=keys.payment(payment_id), ConsistentRead=True).get("Item")
        return payment_of(item) if item else None

    def get_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        item = self._table.get_item(Key=keys.provider_payment(provider_payment_id), ConsistentRead=True).get(
            "Item"
        )
        return self.get(str(item["payment_id"])) if item else None

    def list_for_invoice(self, invoice_id: str) -> builtins.list[Payment]:
        """The invoice's payment history, oldest first."""
        items = self._invoice_items(invoice_id, keys.PAYMENT_SK_PREFIX)
        return sorted((payment_of(i) for i in items), key=lambda p: (p.created_at, p.attempt))

    def list_refunds_for_invoice(self, invoice_id: str) -> builtins.list[Refund]:
        """The invoice's refunds (its copies), oldest first."""
        items = self._invoice_items(invoice_id, keys.REFUND_SK_PREFIX)
        refunds = [Refund.model_validate(dynamo.plain(_strip(i))) for i in items]
        return sorted(refunds, key=lambda r: (r.created_at, r.id))

    def record_decline(self, decline: CheckoutDecline) -> bool:
        """Keep a card refused on the Checkout page once; False when it was kept already."""
        from botocore.exceptions import ClientError

        data = decline.model_dump(mode="json") | {"at": transactions.timestamp(decline.at)}
        try:
            self._table.put_item(
                Item={
                    **keys.invoice_checkout_decline(decline.invoice_id, decline.id),
                    "type": "checkout_decline",
                    **data,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_declines_for_invoice(self, invoice_id: str) -> builtins.list[CheckoutDecline]:
        """Cards refused on the invoice's Checkout page, oldest first."""
        items = self._invoice_items(invoice_id, keys.DECLINE_SK_PREFIX)
        declines = [CheckoutDecline.model_validate(dynamo.plain(_strip(i))) for i in items]
        return sorted(declines, key=lambda d: (d.at, d.id))

    def _invoice_items(self, invoice_id: str, prefix: str) -> builtins.list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        pk = keys.invoice(invoice_id)["pk"]
        return transactions.query_all(
            self._table_name,
            KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with(prefix),
            ConsistentRead=True,
        )

    def refund_recorded(self, provider_refund_id: str) -> bool:
        item = self._table.get_item(Key=keys.provider_refund(provider_refund_id), ConsistentRead=True).get(
            "Item"
        )
        return item is not None

    def dispute_state(self, provider_dispute_id: str) -> dict[str, str] | None:
        item = self._table.get_item(Key=keys.provider_dispute(provider_dispute_id), ConsistentRead=True).get(
            "Item"
        )
        return {"status": str(item["dispute_status"]), "event_at": str(item["event_at"])} if item else None

    def list_created_between(self, start: datetime, end: datetime) -> builtins.list[Payment]:
        """Every payment recorded in ``[start, end)`` (gsi2 month partitions)."""
        from boto3.dynamodb.conditions import Key

        found: list[Payment] = []
        lo, hi = transactions.timestamp(start), transactions.timestamp(end)
        for month in _months(start, end):
            items = transactions.query_all(
                self._table_name,
                IndexName="gsi2",
                KeyConditionExpression=Key("gsi2pk").eq(keys.payments_month_partition(month))
                & Key("gsi2sk").between(lo, hi),
            )
            found += [payment_of(i) for i in items if lo <= str(i["created_at"]) < hi]
        return found

    # ------------------------------------------------------------------ pending collections

    def pending(self, *, limit_per_shard: int = 200) -> builtins.list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        found: list[dict[str, Any]] = []
        for shard in range(keys.PENDING_PAYMENT_SHARDS):
            page = self._table.query(
                KeyConditionExpression=Key("pk").eq(keys.pending_payments_partition(shard)),
                Limit=limit_per_shard,
                ConsistentRead=True,
            )
            found += [
                {"invoice_id": str(i["invoice_id"]), "attempt": int(i["attempt"]), "since": str(i["since"])}
                for i in page.get("Items", [])
            ]
        return found

    def clear_pending(self, invoice_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._table.delete_item(Key=keys.pending_payment(invoice_id))
        except (BotoCoreError, ClientError) as exc:
            raise ProviderUnavailable(f"clearing the pending payment failed: {exc}") from exc

    def write(self, actions: builtins.list[dict[str, Any]]) -> None:
        """One transaction; ``TransactionConflict`` when a condition failed (the caller re-reads)."""
        transactions.write(self._table_name, actions)


def _months(start: datetime, end: datetime) -> builtins.list[str]:
    months: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


__all__ = [
    "PaymentRepository",
    "TransactionConflict",
    "dispute_actions",
    "payment_id_for_attempt",
    "payment_id_for_provider",
    "refund_actions",
    "refund_id_for_provider",
]
