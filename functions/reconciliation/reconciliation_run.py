"""The nightly reconciliation (EventBridge schedule): the two UTC days before the firing, one report
per window (a retried firing replaces its own report; every fix is idempotent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing import clock
from billing.payments import get_payment_provider
from billing.services.collection import collection_from_settings
from billing.services.reconciliation import (
    reconciliation_from_settings,
    run_reconciliation,
    scheduled_report_id,
    scheduled_window,
)
from billing.settings import get_settings


def is_scheduled(event: dict[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event" and "Records" not in event


def fired_at(event: dict[str, Any]) -> datetime:
    text = event.get("time")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    return clock.now()


def run_scheduled(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    deps = reconciliation_from_settings(settings, collection_from_settings(settings, get_payment_provider()))
    start, end = scheduled_window(fired_at(event))
    report = run_reconciliation(
        deps, start=start, end=end, trigger="schedule", report_id=scheduled_report_id(start, end)
    )
    return {
        "reconciliation_id": report.id,
        "mismatches_found": report.mismatches_found,
        "mismatches_fixed": report.mismatches_fixed,
        "counts": report.counts,
    }
