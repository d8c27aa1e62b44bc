"""A reconciliation report: the provider's payments and refunds of a window compared with our books.

Stored as ``RECONCILIATION#{id} / RECONCILIATION`` (gsi1 ``RECONCILIATIONS`` / ``{created}#{id}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RECONCILIATION_ID_PREFIX = "rc_"
MAX_STORED_MISMATCHES = 500
"""Mismatches kept on the report item (DynamoDB's 400 KB); the counts always cover every one."""

MismatchCode = Literal[
    "paid_at_provider_open_here",
    "amount_differs",
    "payment_without_invoice",
    "refund_not_recorded",
    "recorded_but_not_at_provider",
]


class Mismatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: MismatchCode
    fixed: bool = False
    """True when the run applied the missing record (through the same path as the webhook)."""
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None
    invoice_id: str | None = None
    payment_id: str | None = None
    provider_amount: int | None = None
    recorded_amount: int | None = None
    currency: str | None = None
    note: str | None = None


class ReconciliationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    trigger: Literal["schedule", "api"]
    window_from: datetime
    window_to: datetime
    provider_payments: int
    provider_refunds: int
    recorded_payments: int
    mismatches_found: int
    mismatches_fixed: int
    counts: dict[str, int] = Field(default_factory=dict)
    """Mismatches by code."""
    mismatches: list[Mismatch] = Field(default_factory=list)
    truncated: bool = False
    created_at: datetime
    created_by: str | None = None
