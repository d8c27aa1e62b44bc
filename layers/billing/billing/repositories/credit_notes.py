"""Credit notes in the BillingTable.

* ``CREDITNOTE#{id} / CREDITNOTE``: the credit note (lines inside); on gsi1 under
  ``INVOICE_CREDIT_NOTES#{invoice_id}`` sorted by number, on gsi2 under
  ``CUSTOMER_CREDIT_NOTES#{customer_id}`` sorted by ``{created_at}#{id}``.

A credit note is written once, in the transaction that changes its invoice (see
``billing.services.credit_notes``), and never changed; only the notifier records where its issued
documents are stored (``document_key``, ``pdf_key``).
"""

from __future__ import annotations

from typing import Any

from billing.errors import ValidationFailed
from billing.models.invoices import CreditNote
from billing.repositories import dynamo, keys, transactions

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")


def item_of(credit_note: CreditNote) -> dict[str, Any]:
    created = transactions.timestamp(credit_note.created_at)
    data = credit_note.model_dump(mode="json")
    data["created_at"] = created
    return {
        **keys.credit_note(credit_note.id),
        **keys.invoice_credit_notes(credit_note.invoice_id, credit_note.number),
        **keys.customer_credit_notes(credit_note.customer_id, created, credit_note.id),
        "type": "credit_note",
        **data,
    }


def credit_note_of(item: dict[str, Any]) -> CreditNote:
    return CreditNote.model_validate(
        dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    )


def put_action(credit_note: CreditNote) -> dict[str, Any]:
    return {"Put": {"Item": item_of(credit_note), "ConditionExpression": "attribute_not_exists(pk)"}}


class CreditNoteRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, credit_note_id: str) -> CreditNote | None:
        item = self._table.get_item(Key=keys.credit_note(credit_note_id), ConsistentRead=True).get("Item")
        return credit_note_of(item) if item else None

    def set_document_keys(self, credit_note_id: str, *, document_key: str, pdf_key: str) -> None:
        """Bookkeeping: where the issued documents (HTML, PDF) are stored."""
        self._table.update_item(
            Key=keys.credit_note(credit_note_id),
            UpdateExpression="SET document_key = :key, pdf_key = :pdf",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":key": document_key, ":pdf": pdf_key},
        )

    def list_for_invoice(
        self, invoice_id: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[CreditNote], dict[str, Any] | None]:
        """An invoice's credit notes in number order."""
        return self._query("gsi1", keys.invoice_credit_notes_partition(invoice_id), limit, cursor, True)

    def list_for_customer(
        self, customer_id: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[CreditNote], dict[str, Any] | None]:
        """A customer's credit notes, newest first."""
        return self._query("gsi2", keys.customer_credit_notes_partition(customer_id), limit, cursor, False)

    def _query(
        self, index: str, partition: str, limit: int, cursor: dict[str, Any] | None, forward: bool
    ) -> tuple[list[CreditNote], dict[str, Any] | None]:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(f"{index}pk").eq(partition),
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if cursor:
            if (
                set(cursor) != {"pk", "sk", f"{index}pk", f"{index}sk"}
                or cursor.get(f"{index}pk") != partition
            ):
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [credit_note_of(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")
