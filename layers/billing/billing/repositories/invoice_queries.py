"""Invoice queries in the BillingTable (keys in ``keys``; access patterns in docs/data-model.md).

* ``INVOICE_QUERY#{id} / INVOICE_QUERY``: the query, on gsi1 ``INVOICE_QUERIES#{status}`` and gsi2
  ``CUSTOMER_INVOICE_QUERIES#{customer_id}``, both sorted by ``{created}#{id}``;
* ``INVOICE#{invoice_id} / QUERY#{created}#{id}``: the invoice's copy (an invoice's queries);
* ``INVOICE#{invoice_id} / QUERIES``: ``open``, the count of open queries, bounded at creation.

A query is created (with its copy, the count and the pending notification) in one transaction, and
resolved (both copies, the count) in another, conditional on ``status = open``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from billing.errors import ValidationFailed
from billing.models.invoice_queries import InvoiceQuery
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")
_INSTANTS = ("created_at", "resolved_at")


class QueryExists(Exception):
    """The query (same invoice and nonce) was stored before: a double submit."""


class TooManyOpenQueries(Exception):
    """The invoice has as many open queries as it may have."""


class QueryNotOpen(Exception):
    """The query was resolved meanwhile."""


@dataclass(frozen=True, slots=True)
class QueryPage:
    queries: list[InvoiceQuery]
    last_key: dict[str, Any] | None


def _data(query: InvoiceQuery) -> dict[str, Any]:
    data = query.model_dump(mode="json")
    for name in _INSTANTS:
        value = getattr(query, name)
        data[name] = transactions.timestamp(value) if value is not None else None
    return data


def _created(query: InvoiceQuery) -> str:
    return transactions.timestamp(query.created_at)


def query_of(item: dict[str, Any]) -> InvoiceQuery:
    return InvoiceQuery.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    )


class InvoiceQueryRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, query_id: str) -> InvoiceQuery | None:
        item = self._table.get_item(Key=keys.invoice_query(query_id), ConsistentRead=True).get("Item")
        return query_of(item) if item else None

    def create(
        self, query: InvoiceQuery, *, max_open: int, extra_actions: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Store a new open query with its copy, count it (at most ``max_open`` open) and
        ``extra_actions`` (the pending notification), all or nothing. Raises ``QueryExists`` or
        ``TooManyOpenQueries``."""
        created = _created(query)
        data = _data(query)
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "Item": {
                        **keys.invoice_query(query.id),
                        **keys.invoice_queries_by_status(query.status, created, query.id),
                        **keys.customer_invoice_queries(query.customer_id, created, query.id),
                        "type": "invoice_query",
                        **data,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "Item": {
                        **keys.invoice_query_copy(query.invoice_id, created, query.id),
                        "type": "invoice_query_copy",
                        **data,
                    }
                }
            },
            {
                "Update": {
                    "Key": keys.invoice_query_counter(query.invoice_id),
                    "UpdateExpression": "SET #type = :type ADD #open :one",
                    "ConditionExpression": "attribute_not_exists(#open) OR #open < :max",
                    "ExpressionAttributeNames": {"#open": "open", "#type": "type"},
                    "ExpressionAttributeValues": {
                        ":one": 1,
                        ":max": max_open,
                        ":type": "invoice_query_counter",
                    },
                }
            },
            *extra_actions,
        ]
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            if 0 in exc.failed:
                raise QueryExists(query.id) from exc
            if 2 in exc.failed:
                raise TooManyOpenQueries(query.invoice_id) from exc
            raise

    def resolve(self, current: InvoiceQuery, new: InvoiceQuery) -> None:
        """Write the resolution on both copies and count the query out, if it is still open
        (``QueryNotOpen`` otherwise)."""
        assert current.status == "open" and new.status == "resolved"
        created = _created(current)
        values = {
            ":resolved": "resolved",
            ":open": "open",
            ":at": transactions.timestamp(new.resolved_at) if new.resolved_at else None,
            ":by": new.resolved_by,
            ":resolution": new.resolution,
        }
        names = {"#status": "status"}
        update = "SET #status = :resolved, resolved_at = :at, resolved_by = :by, resolution = :resolution"
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": keys.invoice_query(current.id),
                    "UpdateExpression": f"{update}, gsi1pk = :gsi1pk",
                    "ConditionExpression": "attribute_exists(pk) AND #status = :open",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        **values,
                        ":gsi1pk": keys.invoice_queries_status_partition("resolved"),
                    },
                }
            },
            {
                "Update": {
                    "Key": keys.invoice_query_copy(current.invoice_id, created, current.id),
                    "UpdateExpression": update,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {k: v for k, v in values.items() if k != ":open"},
                }
            },
            {
                "Update": {
                    "Key": keys.invoice_query_counter(current.invoice_id),
                    "UpdateExpression": "ADD #open :minus",
                    "ConditionExpression": "#open > :zero",
                    "ExpressionAttributeNames": {"#open": "open"},
                    "ExpressionAttributeValues": {":minus": -1, ":zero": 0},
                }
            },
        ]
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            raise QueryNotOpen(current.id) from exc

    # ------------------------------------------------------------------ lists (newest first)

    def list_by_status(self, status: str, *, limit: int, cursor: dict[str, Any] | None) -> QueryPage:
        return self._query("gsi1", keys.invoice_queries_status_partition(status), limit, cursor)

    def list_for_customer(
        self, customer_id: str, *, limit: int, cursor: dict[str, Any] | None, status: str | None = None
    ) -> QueryPage:
        return self._query(
            "gsi2", keys.customer_invoice_queries_partition(customer_id), limit, cursor, status=status
        )

    def list_for_invoice(
        self, invoice_id: str, *, limit: int, cursor: dict[str, Any] | None, status: str | None = None
    ) -> QueryPage:
        return self._query(None, keys.invoice(invoice_id)["pk"], limit, cursor, status=status)

    def list_all(self, *, limit: int, cursor: dict[str, Any] | None) -> QueryPage:
        """Every query: the open ones first, then the resolved ones, newest first within each (the
        cursor's partition says where to continue)."""
        partitions = [keys.invoice_queries_status_partition(s) for s in keys.INVOICE_QUERY_STATUSES]
        start = 0
        if cursor:
            if cursor.get("gsi1pk") not in partitions:
                raise ValidationFailed("cursor is not valid", code="invalid_cursor", param="starting_after")
            start = partitions.index(cursor["gsi1pk"])
        found: list[InvoiceQuery] = []
        last_key: dict[str, Any] | None = None
        for index in range(start, len(partitions)):
            page = self._query(
                "gsi1", partitions[index], limit - len(found), cursor if index == start else None
            )
            found += page.queries
            last_key = page.last_key
            if len(found) >= limit:
                if last_key is None and index + 1 < len(partitions) and found:
                    last = found[-1]
                    last_key = {
                        **keys.invoice_query(last.id),
                        **keys.invoice_queries_by_status(last.status, _created(last), last.id),
                    }
                break
        return QueryPage(found, last_key)

    def _query(
        self,
        index: str | None,
        partition: str,
        limit: int,
        cursor: dict[str, Any] | None,
        *,
        status: str | None = None,
    ) -> QueryPage:
        from boto3.dynamodb.conditions import Attr, Key

        pk = f"{index}pk" if index else "pk"
        condition = Key(pk).eq(partition)
        if index is None:
            condition = condition & Key("sk").begins_with(keys.QUERY_SK_PREFIX)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if status is not None:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        if cursor:
            expected = {"pk", "sk"} | ({f"{index}pk", f"{index}sk"} if index else set())
            if set(cursor) != expected or cursor.get(pk) != partition:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return QueryPage([query_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey"))
