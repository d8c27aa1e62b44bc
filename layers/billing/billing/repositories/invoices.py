"""Invoices in the BillingTable: the invoice item, its number, its hosted token, the credit balance.

Items (keys from ``keys``; access patterns in docs/data-model.md):

* ``INVOICE#{id} / INVOICE``: the invoice (lines inside), on gsi1 under
  ``CUSTOMER_INVOICES#{customer_id}`` and on gsi2 under ``INVOICES#{status}``, both sorted by
  ``{created_at}#{id}``. Top-level instants are stored fixed-width UTC (``transactions.timestamp``)
  so filters compare them as text (``due_date < now`` for overdue, ``finalize_after <= now``).
* ``COUNTER#INVOICE#{scope} / COUNTER``: ``last``, the last number issued in the scope.
* ``INVOICE_NUMBER#{number} / GUARD``: exists once the number is issued (never deleted).
* ``HOSTED#{token} / HOSTED``: the hosted page's token -> invoice id.
* ``CUSTOMER#{id} / CREDIT_BALANCE``: ``balance_{currency}`` attributes, minor units.
* ``NOTIFICATIONS_PENDING#{shard} / {kind}#{invoice_id}``: a committed notification not yet enqueued.

Every state change is one UpdateItem (or one transaction) conditional on the invoice's ``version``
and ``status``: the diff of the two models is written, nothing else.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.errors import ProviderUnavailable, ValidationFailed
from billing.models.invoices import Invoice
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")
_INSTANTS = (
    "billing_date", "period_start", "period_end", "due_date", "finalize_after", "created_at", "updated_at",
    "finalized_at", "paid_at", "voided_at", "marked_uncollectible_at",
)  # fmt: skip
_CURSOR_KEYS = {
    "gsi1": {"pk", "sk", "gsi1pk", "gsi1sk"},
    "gsi2": {"pk", "sk", "gsi2pk", "gsi2sk"},
}


class InvoiceWriteConflict(Exception):
    """A condition of an invoice write failed. ``reason`` names the item at fault:
    ``invoice`` (version/status changed), ``counter`` (another number was issued meanwhile),
    ``number`` (the number's guard exists), ``balance`` (the credit balance changed),
    ``customer`` (the customer item), ``race`` (a concurrent transaction, nothing failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Page:
    invoices: list[Invoice]
    last_key: dict[str, Any] | None


def stored_instant(value: datetime | None) -> str | None:
    return transactions.timestamp(value) if value is not None else None


def item_of(invoice: Invoice) -> dict[str, Any]:
    """The stored item of an invoice (keys included)."""
    data = invoice.model_dump(mode="json")
    for name in _INSTANTS:
        data[name] = stored_instant(getattr(invoice, name))
    created = transactions.timestamp(invoice.created_at)
    return {
        **keys.invoice(invoice.id),
        **keys.customer_invoices(invoice.customer_id, created, invoice.id),
        **keys.invoices_by_status(invoice.status, created, invoice.id),
        "type": "invoice",
        **data,
    }


def invoice_of(item: dict[str, Any]) -> Invoice:
    return Invoice.model_validate(dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}))


def update_action(current: Invoice, new: Invoice) -> dict[str, Any]:
    """An ``Update`` (transaction action) writing what changed from ``current`` to ``new``, if the
    stored invoice is still ``current`` (same version and status). Moves the status listing (gsi2)."""
    assert new.id == current.id and new.version == current.version + 1
    old_item, new_item = item_of(current), item_of(new)
    changed = [k for k, v in new_item.items() if k not in ("pk", "sk") and old_item.get(k) != v]
    names = {f"#a{i}": name for i, name in enumerate(changed)}
    values: dict[str, Any] = {f":a{i}": new_item[name] for i, name in enumerate(changed)}
    values |= {":expected_version": current.version, ":expected_status": current.status}
    names |= {"#version": "version", "#status": "status"}
    sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(changed)))
    return {
        "Update": {
            "Key": keys.invoice(current.id),
            "UpdateExpression": f"SET {sets}",
            "ConditionExpression": (
                "attribute_exists(pk) AND #version = :expected_version AND #status = :expected_status"
            ),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def open_invoices_action(customer_id: str, delta: int) -> dict[str, Any]:
    """Count an invoice entering (+1) or leaving (-1) ``open`` on the customer item."""
    values: dict[str, Any] = {":delta": delta, ":zero": 0}
    condition = "attribute_exists(pk)"
    if delta < 0:
        condition += " AND open_invoices >= :needed"
        values[":needed"] = -delta
    return {
        "Update": {
            "Key": keys.customer(customer_id),
            "UpdateExpression": "SET open_invoices = if_not_exists(open_invoices, :zero) + :delta",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
    }


def credit_balance_action(customer_id: str, currency: str, delta: int) -> dict[str, Any]:
    """Add ``delta`` (minor units, may be negative) to the customer's balance in ``currency``;
    a debit requires the balance to cover it."""
    names = {"#bal": keys.credit_balance_attribute(currency)}
    values: dict[str, Any] = {":delta": delta, ":type": "credit_balance"}
    action: dict[str, Any] = {
        "Key": keys.customer_credit_balance(customer_id),
        "UpdateExpression": "SET #type = :type ADD #bal :delta",
        "ExpressionAttributeNames": {**names, "#type": "type"},
        "ExpressionAttributeValues": values,
    }
    if delta < 0:
        action["ConditionExpression"] = "#bal >= :needed"
        values[":needed"] = -delta
    return {"Update": action}


def pending_notification_put(
    kind: str, subject_id: str, at: datetime, *, message: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A notification committed with the change that calls for it (enqueued right after the commit,
    or by the finalizer). ``message``: the queue message, when it is more than ``{kind, invoice_id}``."""
    item: dict[str, Any] = {
        **keys.pending_notification(kind, subject_id),
        "type": "pending_notification",
        "kind": kind,
        "subject_id": subject_id,
        "since": transactions.timestamp(at),
    }
    if message is not None:
        item["message"] = json.dumps(message, sort_keys=True)
    return {"Put": {"Item": item}}


class InvoiceRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def table_name(self) -> str:
        return self._table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    # ------------------------------------------------------------------ reads

    def get(self, invoice_id: str) -> Invoice | None:
        item = self._table.get_item(Key=keys.invoice(invoice_id), ConsistentRead=True).get("Item")
        return invoice_of(item) if item else None

    def list_for_customer(
        self,
        customer_id: str,
        *,
        limit: int,
        cursor: dict[str, Any] | None,
        status: str | None = None,
        due_before: datetime | None = None,
        issued_only: bool = False,
    ) -> Page:
        """A customer's invoices, newest first; ``status``, ``due_before`` and ``issued_only`` (no
        drafts: what the customer sees) filter the page."""
        from boto3.dynamodb.conditions import Attr, Key

        partition = keys.customer_invoices_partition(customer_id)
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(partition),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        condition = None
        if status is not None:
            condition = Attr("status").eq(status)
        if due_before is not None:
            overdue = Attr("due_date").lt(transactions.timestamp(due_before))
            condition = overdue if condition is None else condition & overdue
        if issued_only:
            issued = Attr("status").ne("draft")
            condition = issued if condition is None else condition & issued
        if condition is not None:
            kwargs["FilterExpression"] = condition
        if cursor:
            _check_cursor(cursor, "gsi1", partition)
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return Page([invoice_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey"))

    def list_by_status(
        self,
        status: str,
        *,
        limit: int,
        cursor: dict[str, Any] | None,
        due_before: datetime | None = None,
        finalize_after_before: datetime | None = None,
        newest_first: bool = True,
    ) -> Page:
        from boto3.dynamodb.conditions import Attr, Key

        partition = keys.invoices_by_status_partition(status)
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": Key("gsi2pk").eq(partition),
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if due_before is not None:
            kwargs["FilterExpression"] = Attr("due_date").lt(transactions.timestamp(due_before))
        if finalize_after_before is not None:
            kwargs["FilterExpression"] = Attr("finalize_after").lte(
                transactions.timestamp(finalize_after_before)
            )
        if cursor:
            _check_cursor(cursor, "gsi2", partition)
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return Page([invoice_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey"))

    def list_all(self, *, limit: int, cursor: dict[str, Any] | None) -> Page:
        """Every invoice, by status (draft, open, paid, uncollectible, void), newest first within each.

        The cursor is a gsi2 key: its partition says which status to continue in."""
        statuses = list(keys.INVOICE_STATUSES)
        start = 0
        if cursor:
            partitions = [keys.invoices_by_status_partition(s) for s in statuses]
            if cursor.get("gsi2pk") not in partitions:
                raise ValidationFailed("cursor is not valid", code="invalid_cursor", param="starting_after")
            start = partitions.index(cursor["gsi2pk"])
        found: list[Invoice] = []
        last_key: dict[str, Any] | None = None
        for index in range(start, len(statuses)):
            page = self.list_by_status(
                statuses[index], limit=limit - len(found), cursor=cursor if index == start else None
            )
            found += page.invoices
            last_key = page.last_key
            if len(found) >= limit:
                if last_key is None and index + 1 < len(statuses) and found:
                    # This status is exhausted but the next may have more: continue after the last one.
                    last_key = _gsi2_key_of(found[-1])
                break
        return Page(found, last_key)

    def read_counter(self, scope: str) -> int:
        item = self._table.get_item(Key=keys.invoice_number_counter(scope), ConsistentRead=True).get("Item")
        return int(item.get("last", 0)) if item else 0

    def credit_balance(self, customer_id: str, currency: str) -> int:
        """The customer's credit balance in ``currency`` (minor units, 0 when none)."""
        item = self._table.get_item(Key=keys.customer_credit_balance(customer_id), ConsistentRead=True).get(
            "Item"
        )
        return int(item.get(keys.credit_balance_attribute(currency), 0)) if item else 0

    def invoice_id_for_token(self, token: str) -> str | None:
        item = self._table.get_item(Key=keys.hosted_invoice_token(token)).get("Item")
        return str(item["invoice_id"]) if item else None

    def get_by_hosted_token(self, token: str) -> Invoice | None:
        """The invoice whose hosted page token is ``token`` (two GetItems), or None."""
        invoice_id = self.invoice_id_for_token(token)
        invoice = self.get(invoice_id) if invoice_id else None
        return invoice if invoice is not None and invoice.hosted_token == token else None

    def pending_notifications(self, *, limit_per_shard: int = 200) -> builtins.list[dict[str, str]]:
        """Committed notifications whose enqueue has not been confirmed (every shard)."""
        from boto3.dynamodb.conditions import Key

        found: list[dict[str, str]] = []
        for shard in range(keys.PENDING_NOTIFICATION_SHARDS):
            page = self._table.query(
                KeyConditionExpression=Key("pk").eq(keys.pending_notifications_partition(shard)),
                Limit=limit_per_shard,
                ConsistentRead=True,
            )
            found += [
                {
                    "kind": str(i["kind"]),
                    "subject_id": str(i["subject_id"]),
                    "since": str(i["since"]),
                    **({"message": str(i["message"])} if i.get("message") else {}),
                }
                for i in page.get("Items", [])
            ]
        return found

    # ------------------------------------------------------------------ writes

    def create(self, invoice: Invoice, *, extra_actions: Sequence[dict[str, Any]] = ()) -> None:
        """Write a new invoice (with ``extra_actions``, e.g. period guards, in the same transaction)."""
        put = {"Put": {"Item": item_of(invoice), "ConditionExpression": "attribute_not_exists(pk)"}}
        try:
            transactions.write(self._table_name, [put, *extra_actions])
        except TransactionConflict as exc:
            raise InvoiceWriteConflict("invoice" if 0 in exc.failed else "race") from exc

    def update(self, current: Invoice, new: Invoice, *, extra_actions: Sequence[dict[str, Any]] = ()) -> None:
        """Write ``new`` over ``current`` (version and status checked), with ``extra_actions``.

        Raises ``InvoiceWriteConflict`` naming the first failed item: ``invoice`` or the reason given
        for the extra action (``reasons`` in order), ``race`` when none failed."""
        self.write(
            [update_action(current, new), *extra_actions],
            reasons=["invoice", *(["other"] * len(extra_actions))],
        )

    def delete_draft(self, current: Invoice) -> None:
        """Delete a draft still as read (same version, still ``draft``): its only item. Raises
        ``InvoiceWriteConflict("invoice")`` if it changed meanwhile."""
        assert current.status == "draft"
        from botocore.exceptions import ClientError

        try:
            self._table.delete_item(
                Key=keys.invoice(current.id),
                ConditionExpression="attribute_exists(pk) AND #version = :version AND #status = :draft",
                ExpressionAttributeNames={"#version": "version", "#status": "status"},
                ExpressionAttributeValues={":version": current.version, ":draft": "draft"},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise InvoiceWriteConflict("invoice") from exc
            raise

    def write(self, actions: Sequence[dict[str, Any]], *, reasons: Sequence[str]) -> None:
        """One transaction; on a failed condition raise ``InvoiceWriteConflict(reasons[i])``."""
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            failed = [reasons[i] for i in exc.failed if i < len(reasons)]
            raise InvoiceWriteConflict(failed[0] if failed else "race") from exc

    def finalize(
        self,
        current: Invoice,
        new: Invoice,
        *,
        counter_scope: str,
        previous_number: int,
        open_delta: int,
        credit_consumed: int,
        notification_kind: str,
        extra_actions: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Issue ``new.number`` and open (or settle) the invoice, all or nothing:

        counter ``previous_number`` -> +1, the number's guard, the invoice (version and ``draft``),
        the customer's ``open_invoices``, the credit balance used, the hosted token, the pending
        notification. A failed finalization consumes no number."""
        assert new.number is not None and new.hosted_token is not None
        counter_condition = "attribute_not_exists(#last)" if previous_number == 0 else "#last = :previous"
        counter_values: dict[str, Any] = {":next": previous_number + 1, ":type": "counter"}
        if previous_number:
            counter_values[":previous"] = previous_number
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": keys.invoice_number_counter(counter_scope),
                    "UpdateExpression": "SET #last = :next, #type = :type",
                    "ConditionExpression": counter_condition,
                    "ExpressionAttributeNames": {"#last": "last", "#type": "type"},
                    "ExpressionAttributeValues": counter_values,
                }
            },
            {
                "Put": {
                    "Item": {
                        **keys.invoice_number_guard(new.number),
                        "type": "guard",
                        "invoice_id": new.id,
                        "customer_id": new.customer_id,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            update_action(current, new),
            {
                "Put": {
                    "Item": {
                        **keys.hosted_invoice_token(new.hosted_token),
                        "type": "hosted_token",
                        "invoice_id": new.id,
                        "customer_id": new.customer_id,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            pending_notification_put(notification_kind, new.id, new.updated_at),
        ]
        reasons = ["counter", "number", "invoice", "race", "race"]
        if open_delta:
            actions.append(open_invoices_action(new.customer_id, open_delta))
            reasons.append("customer")
        if credit_consumed:
            actions.append(credit_balance_action(new.customer_id, new.currency, -credit_consumed))
            reasons.append("balance")
        actions += extra_actions
        reasons += ["race"] * len(extra_actions)
        self.write(actions, reasons=reasons)

    def set_document_key(self, invoice_id: str, document_key: str, *, pdf_key: str | None = None) -> None:
        """Bookkeeping (no version bump): where the issued documents (HTML, PDF) are stored."""
        expression = "SET document_key = :key" + (", pdf_key = :pdf" if pdf_key else "")
        values = {":key": document_key, **({":pdf": pdf_key} if pdf_key else {})}
        self._table.update_item(
            Key=keys.invoice(invoice_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def clear_notification_pending(self, kind: str, invoice_id: str, *, invoice_flag: bool = True) -> None:
        """The notification is enqueued: drop the pending marker and (``invoice_flag``: the invoice's
        own notification) the invoice's flag, no version bump. ``invoice_id`` is the marker's subject.
        Raises ``ProviderUnavailable`` if DynamoDB refuses (the marker then stays: harmless)."""
        from botocore.exceptions import BotoCoreError, ClientError

        actions: list[dict[str, Any]] = [{"Delete": {"Key": keys.pending_notification(kind, invoice_id)}}]
        if invoice_flag:
            actions.append(
                {
                    "Update": {
                        "Key": keys.invoice(invoice_id),
                        "UpdateExpression": "SET notification_pending = :false",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":false": False},
                    }
                }
            )
        try:
            if invoice_flag:
                transactions.write(self._table_name, actions)
            else:
                self._table.delete_item(Key=keys.pending_notification(kind, invoice_id))
        except (TransactionConflict, BotoCoreError, ClientError) as exc:
            raise ProviderUnavailable(f"clearing the pending notification failed: {exc}") from exc


def _check_cursor(cursor: dict[str, Any], index: str, partition: str) -> None:
    if set(cursor) != _CURSOR_KEYS[index] or cursor.get(f"{index}pk") != partition:
        raise ValidationFailed(
            "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
        )


def _gsi2_key_of(invoice: Invoice) -> dict[str, Any]:
    created = transactions.timestamp(invoice.created_at)
    return {**keys.invoice(invoice.id), **keys.invoices_by_status(invoice.status, created, invoice.id)}
