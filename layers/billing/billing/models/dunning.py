"""The dunning state of one invoice: ``INVOICE#{id} / DUNNING`` (see ``billing.services.dunning``).

``status``:

* ``step_due``: a failed attempt was recorded (in the collector's transaction) and its step (the
  email, ``past_due``, or the final notice and final action) is not done yet;
* ``scheduled``: waiting for the retry at ``next_retry_at``;
* ``retrying``: attempt ``next_attempt`` was enqueued (re-enqueued at ``next_retry_at``, a watchdog,
  if its outcome never comes back);
* ``resolved`` (the invoice was paid, voided or written off elsewhere) and ``exhausted`` (the final
  action was taken): over, no longer on the due-index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DunningStatus = Literal["step_due", "scheduled", "retrying", "resolved", "exhausted"]
FinalAction = Literal["mark_uncollectible", "cancel_subscription", "leave_past_due"]
ACTIVE_STATUSES: tuple[DunningStatus, ...] = ("step_due", "scheduled", "retrying")


class DunningState(BaseModel):
    model_config = ConfigDict(frozen=True)

    invoice_id: str
    customer_id: str
    subscription_ids: list[str] = Field(default_factory=list)
    status: DunningStatus
    failures: int
    """Failed attempts since dunning started (the first failure is 1)."""
    first_failed_at: datetime
    """Day 0 of the retry schedule."""
    last_failed_at: datetime
    last_attempt: int
    """The invoice's attempt number that failed last."""
    last_decline_code: str | None = None
    hard_decline: bool = False
    next_attempt: int | None = None
    next_retry_at: datetime | None = None
    """When the next retry is due (``scheduled``) or re-enqueued (``retrying``); on the due-index."""
    final_action: FinalAction | None = None
    """The final action taken (``exhausted``)."""
    version: int = 1
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


NOTIFICATION_PAYMENT_FAILED = "payment_failed"
"""The first failure: the payment failed, update your payment method (hosted link), next retry date."""
NOTIFICATION_PAYMENT_RETRY_SCHEDULED = "payment_retry_scheduled"
"""A later failure with retries left: the date of the next retry."""
NOTIFICATION_PAYMENT_FINAL_NOTICE = "payment_final_notice"
"""The last failure (or a hard decline): no more automatic retries."""
DUNNING_NOTIFICATION_KINDS = (
    NOTIFICATION_PAYMENT_FAILED,
    NOTIFICATION_PAYMENT_RETRY_SCHEDULED,
    NOTIFICATION_PAYMENT_FINAL_NOTICE,
)
