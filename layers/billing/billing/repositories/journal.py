"""The accounting journal's reads and its event items in the BillingTable.

* ``JOURNAL#{yyyy-mm} / {at}#{entry_id}``: one accounting event (``JournalEvent``), Put with
  ``attribute_not_exists`` in the transaction of the state change it records (see
  ``billing.services.invoices`` and ``credit_notes``). Never changed.
* Payments and refunds are read from their own month listings (gsi2 ``PAYMENTS#{yyyy-mm}`` /
  ``REFUNDS#{yyyy-mm}`` on the by-id items, written by the payments code).

The export queries the partitions of the window's months (sort key between the window's bounds),
then BatchGets the invoices and credit notes the events name: no scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from billing.models.invoices import CreditNote, Invoice
from billing.models.journal import JournalEvent
from billing.models.payments import Payment, Refund
from billing.repositories import dynamo, keys, transactions
from billing.repositories.credit_notes import credit_note_of
from billing.repositories.invoices import invoice_of

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")
_BATCH = 100


def event_item(event: JournalEvent) -> dict[str, Any]:
    at = transactions.timestamp(event.at)
    data = event.model_dump(mode="json")
    data["at"] = at
    return {**keys.journal_event(at, event.entry_id), "type": "journal_event", **data}


def event_put(event: JournalEvent) -> dict[str, Any]:
    """The Put (transaction action) recording ``event`` once."""
    return {"Put": {"Item": event_item(event), "ConditionExpression": "attribute_not_exists(pk)"}}


def months_between(start: datetime, end: datetime) -> list[str]:
    """The ``yyyy-mm`` of every month touched by [start, end) (UTC)."""
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    months: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    return value


class JournalRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def events_between(self, start: datetime, end: datetime) -> list[JournalEvent]:
        """Events with ``start <= at < end``, in time order (one Query per month, paginated)."""
        from boto3.dynamodb.conditions import Key

        low, high = transactions.timestamp(start), transactions.timestamp(end)
        found: list[JournalEvent] = []
        for month in months_between(start, end):
            condition = Key("pk").eq(keys.journal_month_partition(month)) & Key("sk").between(low, high)
            for item in transactions.query_all(self._table_name, KeyConditionExpression=condition):
                if str(item["sk"]) < high:  # between is inclusive; the window's end is not
                    found.append(JournalEvent.model_validate(_plain(item)))
        return found

    def invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]:
        items = self._batch_get([keys.invoice(i) for i in dict.fromkeys(invoice_ids)])
        return {invoice.id: invoice for invoice in map(invoice_of, items)}

    def credit_notes(self, credit_note_ids: Iterable[str]) -> dict[str, CreditNote]:
        items = self._batch_get([keys.credit_note(i) for i in dict.fromkeys(credit_note_ids)])
        return {note.id: note for note in map(credit_note_of, items)}

    def payments_created_between(self, start: datetime, end: datetime) -> list[Payment]:
        """Payments created in the months of [start, end) (the caller filters by settlement)."""
        return [
            Payment.model_validate(_plain(item))
            for month in months_between(start, end)
            for item in self._gsi2_month(keys.payments_month_partition(month))
        ]

    def refunds_created_between(self, start: datetime, end: datetime) -> list[Refund]:
        return [
            Refund.model_validate(_plain(item))
            for month in months_between(start, end)
            for item in self._gsi2_month(keys.refunds_month_partition(month))
        ]

    def _gsi2_month(self, partition: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        return transactions.query_all(
            self._table_name, IndexName="gsi2", KeyConditionExpression=Key("gsi2pk").eq(partition)
        )

    def _batch_get(self, wanted: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
        client = dynamo.dynamodb_resource()
        for start in range(0, len(wanted), _BATCH):
            request: dict[str, Any] = {self._table_name: {"Keys": wanted[start : start + _BATCH]}}
            attempts = 0
            while request:
                answer = client.batch_get_item(RequestItems=request)
                yield from answer.get("Responses", {}).get(self._table_name, [])
                request = answer.get("UnprocessedKeys") or {}
                attempts += 1
                if request and attempts >= 8:
                    from billing.errors import ProviderUnavailable

                    raise ProviderUnavailable("DynamoDB kept keys unprocessed; retry the export")
