"""A customer's question about an invoice, asked from the hosted page ("Question about this
invoice?"), emailed to the seller's support address and answered through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

INVOICE_QUERY_ID_PREFIX = "iq_"
InvoiceQueryStatus = Literal["open", "resolved"]
MAX_MESSAGE_LENGTH = 2000
MAX_RESOLUTION_LENGTH = 2000
MAX_OPEN_QUERIES = 10
"""Open queries an invoice may have at once (a customer waiting on ten answers writes no eleventh)."""


class InvoiceQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """``iq_`` + 16 hex, derived from the invoice and the form's nonce: a double submit is one query."""
    invoice_id: str
    invoice_number: str | None = None
    customer_id: str
    email: str
    """The address the customer gave (the support email's Reply-To)."""
    name: str | None = None
    message: str
    status: InvoiceQueryStatus = "open"
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    """The API key id that resolved it."""
    resolution: str | None = None
