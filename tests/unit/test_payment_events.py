"""Pure parts of webhook handling and reconciliation: the dispatch table, windows, report ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.errors import ValidationFailed
from billing.services.payment_events import HANDLERS
from billing.services.reconciliation import check_window, scheduled_report_id, scheduled_window

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def test_every_event_type_of_the_issue_has_a_handler():
    assert set(HANDLERS) == {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
        "checkout.session.completed",
    }


def test_the_nightly_window_is_the_two_utc_days_before_the_firing():
    start, end = scheduled_window(NOW)
    assert (start, end) == (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    # A retried firing (same day) names the same report; the next night another one.
    assert scheduled_report_id(*scheduled_window(NOW + timedelta(hours=2))) == scheduled_report_id(start, end)
    assert scheduled_report_id(*scheduled_window(NOW + timedelta(days=1))) != scheduled_report_id(start, end)


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (NOW, NOW, "invalid_window"),  # empty
        (NOW, NOW - timedelta(hours=1), "invalid_window"),  # reversed
        (NOW - timedelta(days=31, seconds=1), NOW, "window_too_long"),  # 31 days + 1 s
        (NOW + timedelta(hours=1), NOW + timedelta(hours=2), "invalid_window"),  # in the future
    ],
)
def test_windows_refused(start, end, code):
    with pytest.raises(ValidationFailed) as err:
        check_window(start, end, now=NOW)
    assert err.value.code == code


def test_a_window_of_exactly_31_days_is_accepted():
    check_window(NOW - timedelta(days=31), NOW, now=NOW)
