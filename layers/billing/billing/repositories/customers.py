"""Customers in the BillingTable: the customer item, its lookup entries and uniqueness guards.

Items (keys from ``keys``; access patterns in docs/data-model.md):

* ``CUSTOMER#{id} / CUSTOMER``: the customer; on gsi1 under ``CUSTOMERS`` while live.
* ``CUSTOMER#{id} / EMAIL#{email}`` and ``/ SEGMENT#{segment}``: lookup entries, on gsi1
  under ``CUSTOMER_EMAIL#{email}`` / ``CUSTOMER_SEGMENT#{segment}``, sorted like the list.
* ``CUSTOMER_EXTERNAL_ID#{external_id} / GUARD``: held by the live customer with that id.
* ``INVOICE_PREFIX#{prefix} / GUARD``: held for good by the customer that used the prefix.
* ``CUSTOMER#{id} / CHANGE#{at}#{version}``: the audit trail, one entry per change, written in the
  change's transaction.

Every change of a customer writes all of its items in one transaction. ``open_invoices``
is maintained by invoicing (``adjust_open_invoices``) and never written by an update here.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from billing.errors import Conflict
from billing.models.customers import CUSTOMER_ID_PREFIX, Customer, CustomerChange
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

# Attributes an update may set (everything but identity, counters and bookkeeping).
_MUTABLE = (
    "external_id", "name", "emails", "address", "tax_ids", "tax_status", "currency", "time_zone", "locale",
    "invoice_prefix", "segments", "metadata", "provider_customer_id", "default_payment_method",
    "payment_method_brand", "payment_method_last4", "payment_method_updated_at",
)  # fmt: skip
_NOT_STORED_IN_MODEL = ("pk", "sk", "gsi1pk", "gsi1sk", "type")


class CustomerRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    # ------------------------------------------------------------------ reads

    def get(self, customer_id: str) -> Customer | None:
        """The customer with our id (deleted ones included: invoices still reference them)."""
        if not customer_id.startswith(CUSTOMER_ID_PREFIX):
            return None
        item = self._table.get_item(Key=keys.customer(customer_id), ConsistentRead=True).get("Item")
        return _to_model(item) if item else None

    def get_by_external_id(self, external_id: str) -> Customer | None:
        """The live customer holding this external id."""
        guard = self._table.get_item(
            Key=keys.customer_external_id_guard(external_id), ConsistentRead=True
        ).get("Item")
        if not guard:
            return None
        customer = self.get(str(guard["customer_id"]))
        return customer if customer and not customer.deleted and customer.external_id == external_id else None

    def resolve(self, id_or_external_id: str) -> Customer | None:
        """Our id first, then the external id: an external id is usable wherever a customer id is."""
        customer = self.get(id_or_external_id)
        return customer if customer is not None else self.get_by_external_id(id_or_external_id)

    def list(
        self,
        *,
        limit: int,
        cursor: dict[str, Any] | None,
        email: str | None = None,
        segment: str | None = None,
        created_gte: datetime | None = None,
        created_lt: datetime | None = None,
    ) -> tuple[list[Customer], dict[str, Any] | None]:
        """Live customers, newest first. ``email`` or ``segment`` query that value's entries
        (``email`` wins when both are given; the segment is then checked on each customer)."""
        from boto3.dynamodb.conditions import Key

        if email is not None:
            partition = keys.customer_email_partition(email)
        elif segment is not None:
            partition = keys.customer_segment_partition(segment)
        else:
            partition = keys.CUSTOMERS
        condition = Key("gsi1pk").eq(partition)
        low = transactions.timestamp(created_gte) if created_gte else None
        high = transactions.timestamp(created_lt) if created_lt else None
        # gsi1sk is "{timestamp}#{id}": "ts" sorts before "ts#..." so "< ts" excludes that instant.
        if low and high:
            condition &= Key("gsi1sk").between(low, high)
        elif low:
            condition &= Key("gsi1sk").gte(low)
        elif high:
            condition &= Key("gsi1sk").lt(high)
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            if cursor.get("gsi1pk") != partition:
                from billing.errors import ValidationFailed

                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        items = page.get("Items", [])
        if partition == keys.CUSTOMERS:
            customers = [_to_model(i) for i in items]
        else:
            customers = self._batch_get([str(i["customer_id"]) for i in items])
        customers = [c for c in customers if not c.deleted]
        if email is not None and segment is not None:
            customers = [c for c in customers if segment in c.segments]
        return customers, page.get("LastEvaluatedKey")

    def _batch_get(self, customer_ids: Sequence[str]) -> builtins.list[Customer]:
        if not customer_ids:
            return []
        wanted = list(dict.fromkeys(customer_ids))
        found: dict[str, Customer] = {}
        request: dict[str, Any] = {
            self._table_name: {"Keys": [keys.customer(i) for i in wanted], "ConsistentRead": True}
        }
        while request:
            result = dynamo.dynamodb_resource().batch_get_item(RequestItems=request)
            for item in result.get("Responses", {}).get(self._table_name, []):
                customer = _to_model(item)
                found[customer.id] = customer
            request = result.get("UnprocessedKeys") or {}
        return [found[i] for i in wanted if i in found]

    # ------------------------------------------------------------------ writes

    def create(self, customer: Customer) -> None:
        """Write the customer, its guards and entries in one transaction.

        Raises ``Conflict`` ``external_id_taken`` / ``invoice_prefix_taken`` (param named)."""
        created = transactions.timestamp(customer.created_at)
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "Item": {
                        **keys.customer(customer.id),
                        **keys.customer_listing(created, customer.id),
                        "type": "customer",
                        **_attributes(customer),
                        "open_invoices": 0,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put_prefix_guard(customer.invoice_prefix, customer.id),
        ]
        reasons = ["customer_exists", "invoice_prefix_taken"]
        if customer.external_id is not None:
            actions.append(_put_external_id_guard(customer.external_id, customer.id))
            reasons.append("external_id_taken")
        actions += _entry_puts(customer, created)
        reasons += ["entry"] * (len(actions) - len(reasons))
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            raise _conflict(exc, reasons, customer) from exc

    def update(
        self,
        current: Customer,
        new: Customer,
        *,
        change: CustomerChange | None = None,
        extra_actions: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Replace the mutable attributes of ``current`` with those of ``new`` if nobody changed the
        customer meanwhile (``version``), moving guards and entries in the same transaction, with the
        audit entry ``change`` and ``extra_actions`` (e.g. a marker the change consumes).

        Raises ``Conflict`` ``concurrent_update`` (lost race, or an extra action's condition),
        ``external_id_taken``, ``invoice_prefix_taken``."""
        assert new.id == current.id and new.version == current.version + 1
        created = transactions.timestamp(current.created_at)
        values = {
            f":{name}": value for name, value in _attributes(new).items() if name in (*_MUTABLE, "updated_at")
        }
        values |= {":expected": current.version, ":version": new.version, ":false": False}
        sets = ", ".join(f"#{name} = :{name}" for name in (*_MUTABLE, "updated_at", "version"))
        names = {f"#{name}": name for name in (*_MUTABLE, "updated_at", "version")}
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": keys.customer(current.id),
                    "UpdateExpression": f"SET {sets}",
                    "ConditionExpression": "attribute_exists(pk) AND #version = :expected AND deleted = :false",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        reasons = ["concurrent_update"]
        if new.external_id != current.external_id:
            if current.external_id is not None:
                actions.append(_delete_external_id_guard(current.external_id, current.id))
                reasons.append("concurrent_update")
            if new.external_id is not None:
                actions.append(_put_external_id_guard(new.external_id, new.id))
                reasons.append("external_id_taken")
        if new.invoice_prefix != current.invoice_prefix:
            # The old prefix stays reserved to this customer: its invoices' numbers must stay unique.
            actions.append(_put_prefix_guard(new.invoice_prefix, new.id))
            reasons.append("invoice_prefix_taken")
        for sk_key in sorted(_entry_keys(current) - _entry_keys(new)):
            actions.append({"Delete": {"Key": {"pk": keys.customer(current.id)["pk"], "sk": sk_key}}})
            reasons.append("entry")
        added = _entry_keys(new) - _entry_keys(current)
        actions += [a for a in _entry_puts(new, created) if a["Put"]["Item"]["sk"] in added]
        reasons += ["entry"] * (len(actions) - len(reasons))
        if change is not None:
            assert change.customer_id == new.id and change.version == new.version
            actions.append(
                {"Put": {"Item": _change_item(change), "ConditionExpression": "attribute_not_exists(pk)"}}
            )
            reasons.append("concurrent_update")
        actions += extra_actions
        reasons += ["concurrent_update"] * len(extra_actions)
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            raise _conflict(exc, reasons, new) from exc

    def changes(
        self, customer_id: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[CustomerChange], dict[str, Any] | None]:
        """The customer's audit entries, newest first."""
        from boto3.dynamodb.conditions import Key

        partition = keys.customer_partition(customer_id)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(partition)
            & Key("sk").begins_with(keys.CUSTOMER_CHANGE_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            if cursor.get("pk") != partition or not str(cursor.get("sk", "")).startswith(
                keys.CUSTOMER_CHANGE_PREFIX
            ):
                from billing.errors import ValidationFailed

                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        fields = set(CustomerChange.model_fields)
        out = [
            CustomerChange.model_validate(dynamo.plain({k: v for k, v in i.items() if k in fields}))
            for i in page.get("Items", [])
        ]
        return out, page.get("LastEvaluatedKey")

    def delete(self, customer: Customer, *, at: datetime) -> Customer:
        """Soft delete: flag it, take it off the lists, release its external id.

        Refused (``Conflict`` ``concurrent_update``) if it changed since read or has open invoices;
        the caller re-reads to tell which."""
        values = {
            ":expected": customer.version,
            ":version": customer.version + 1,
            ":true": True,
            ":false": False,
            ":at": at.isoformat(),
            ":zero": 0,
        }
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": keys.customer(customer.id),
                    "UpdateExpression": (
                        "SET deleted = :true, deleted_at = :at, updated_at = :at, #version = :version "
                        "REMOVE gsi1pk, gsi1sk"
                    ),
                    "ConditionExpression": (
                        "attribute_exists(pk) AND #version = :expected AND deleted = :false "
                        "AND (attribute_not_exists(open_invoices) OR open_invoices = :zero)"
                    ),
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if customer.external_id is not None:
            actions.append(_delete_external_id_guard(customer.external_id, customer.id))
        for sk_key in sorted(_entry_keys(customer)):
            actions.append({"Delete": {"Key": {"pk": keys.customer(customer.id)["pk"], "sk": sk_key}}})
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            raise Conflict(
                "the customer changed while it was being deleted; retry", code="concurrent_update"
            ) from exc
        return customer.model_copy(
            update={"deleted": True, "deleted_at": at, "updated_at": at, "version": customer.version + 1}
        )

    def adjust_open_invoices(self, customer_id: str, delta: int) -> None:
        """For invoicing: count an invoice opened (+1) or settled/voided (-1). Never below zero."""
        values: dict[str, Any] = {":delta": delta, ":zero": 0}
        condition = "attribute_exists(pk)"
        if delta < 0:
            condition += " AND open_invoices >= :needed"
            values[":needed"] = -delta
        with dynamo.conditional(
            Conflict("no such customer, or fewer open invoices", code="open_invoices_mismatch")
        ):
            self._table.update_item(
                Key=keys.customer(customer_id),
                UpdateExpression="SET open_invoices = if_not_exists(open_invoices, :zero) + :delta",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )

    def prefix_owner(self, prefix: str) -> str | None:
        """The id of the customer holding (or having held) this invoice prefix."""
        item = self._table.get_item(Key=keys.invoice_prefix_guard(prefix), ConsistentRead=True).get("Item")
        return str(item["customer_id"]) if item else None


# --------------------------------------------------------------------------- helpers


def _attributes(customer: Customer) -> dict[str, Any]:
    data = customer.model_dump(mode="json", exclude={"open_invoices"})
    data["created_at"] = transactions.timestamp(customer.created_at)
    data["updated_at"] = transactions.timestamp(customer.updated_at)
    return data


def _to_model(item: dict[str, Any]) -> Customer:
    return Customer.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in _NOT_STORED_IN_MODEL})
    )


def _change_item(change: CustomerChange) -> dict[str, Any]:
    return {
        **keys.customer_change(change.customer_id, transactions.timestamp(change.at), change.version),
        "type": "customer_change",
        **change.model_dump(mode="json", exclude_none=True),
    }


def _put_external_id_guard(external_id: str, customer_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "Item": {
                **keys.customer_external_id_guard(external_id),
                "type": "guard",
                "customer_id": customer_id,
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _delete_external_id_guard(external_id: str, customer_id: str) -> dict[str, Any]:
    return {
        "Delete": {
            "Key": keys.customer_external_id_guard(external_id),
            "ConditionExpression": "customer_id = :me",
            "ExpressionAttributeValues": {":me": customer_id},
        }
    }


def _put_prefix_guard(prefix: str, customer_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "Item": {**keys.invoice_prefix_guard(prefix), "type": "guard", "customer_id": customer_id},
            "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
            "ExpressionAttributeValues": {":me": customer_id},
        }
    }


def _entry_keys(customer: Customer) -> set[str]:
    return {f"EMAIL#{e}" for e in customer.emails} | {f"SEGMENT#{s}" for s in customer.segments}


def _entry_puts(customer: Customer, created: str) -> list[dict[str, Any]]:
    entries = [keys.customer_email_entry(customer.id, e, created) for e in customer.emails]
    entries += [keys.customer_segment_entry(customer.id, s, created) for s in customer.segments]
    return [{"Put": {"Item": {**e, "type": "customer_entry", "customer_id": customer.id}}} for e in entries]


def _conflict(exc: TransactionConflict, reasons: Sequence[str], customer: Customer) -> Conflict:
    failed = {reasons[i] for i in exc.failed if i < len(reasons)}
    if "external_id_taken" in failed:
        return Conflict(
            f"another customer has the external_id {customer.external_id!r}",
            code="external_id_taken",
            param="external_id",
        )
    if "invoice_prefix_taken" in failed:
        return Conflict(
            f"the invoice_prefix {customer.invoice_prefix!r} is taken",
            code="invoice_prefix_taken",
            param="invoice_prefix",
        )
    if "customer_exists" in failed:
        return Conflict("a customer with this id exists", code="customer_exists", param="id")
    return Conflict("the customer changed meanwhile; read it again and retry", code="concurrent_update")
