"""A billing run's status, derived from its exactly-once job counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.models.billing_runs import BillingRun

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def run(**fields: object) -> BillingRun:
    return BillingRun(id="br_1", trigger="api", up_to=NOW, created_at=NOW, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "progress", "pending"),
    [
        ({}, "enqueueing", 0),
        ({"status": "enqueued"}, "completed", 0),  # nothing was due
        ({"status": "enqueued", "jobs_enqueued": 3, "issued": 1}, "running", 2),
        ({"status": "enqueued", "jobs_enqueued": 3, "issued": 1, "held": 1, "skipped": 1}, "completed", 0),
        ({"status": "enqueued", "jobs_enqueued": 3, "issued": 2, "failed": 1}, "completed_with_failures", 0),
        ({"status": "enqueued", "jobs_enqueued": 3, "failed": 1}, "running", 2),
        ({"status": "enqueueing", "jobs_enqueued": 0, "issued": 1}, "enqueueing", 0),
    ],
)
def test_progress(fields: dict[str, object], progress: str, pending: int) -> None:
    r = run(**fields)
    assert (r.progress, r.jobs_pending) == (progress, pending)
