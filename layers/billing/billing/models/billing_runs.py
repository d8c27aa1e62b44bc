"""Billing runs: a fan-out of invoice jobs (one per customer and billing date) and its report.

Contract shared by the ``billing_run`` function (scheduled runs), the API (runs on demand) and the
``invoice_worker`` (which records each job's outcome).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BILLING_RUN_ID_PREFIX = "br_"
JobOutcomeKind = Literal["issued", "held", "skipped", "failed"]
OUTCOMES: tuple[JobOutcomeKind, ...] = ("issued", "held", "skipped", "failed")
RunProgress = Literal["enqueueing", "running", "completed", "completed_with_failures"]


class BillingRunFilter(BaseModel):
    """Which due subscriptions a run takes (all of them when nothing is set)."""

    model_config = ConfigDict(frozen=True)

    segment: str | None = None
    """Customers tagged with this segment."""
    currency: str | None = None
    collection_method: Literal["charge_automatically", "send_invoice"] | None = None
    customer_ids: list[str] = Field(default_factory=list)


class BillingRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    trigger: Literal["schedule", "api"]
    status: Literal["enqueueing", "enqueued"] = "enqueueing"
    up_to: datetime
    """Subscriptions due at or before this instant were taken."""
    filter: BillingRunFilter = Field(default_factory=BillingRunFilter)
    subscriptions_due: int = 0
    jobs_enqueued: int = 0
    issued: int = 0
    held: int = 0
    skipped: int = 0
    failed: int = 0
    created_at: datetime
    created_by: str | None = None
    """API key id, or ``system`` for a scheduled run."""

    @property
    def jobs_pending(self) -> int:
        """Jobs enqueued whose outcome is not recorded yet (each job is counted once, see
        ``BillingRunRepository.record_outcome``)."""
        return max(0, self.jobs_enqueued - self.issued - self.held - self.skipped - self.failed)

    @property
    def progress(self) -> RunProgress:
        """``enqueueing`` (the fan-out is under way), ``running`` (jobs pending), ``completed`` (every
        job issued, held or skipped) or ``completed_with_failures`` (some job failed: SQS redelivers it,
        then dead-letters it; a later success still replaces its ``failed``)."""
        if self.status == "enqueueing":
            return "enqueueing"
        if self.jobs_pending:
            return "running"
        return "completed_with_failures" if self.failed else "completed"


class InvoiceJob(BaseModel):
    """The body of an InvoiceJobs message. Idempotency is the worker's, per (subscription item, period)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    customer_id: str
    billing_date: datetime
    """Bill every item due at or before this instant."""
    run_id: str


class JobOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    customer_id: str
    billing_date: datetime
    outcome: JobOutcomeKind
    invoice_ids: list[str] = Field(default_factory=list)
    hold_reasons: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None
    at: datetime
