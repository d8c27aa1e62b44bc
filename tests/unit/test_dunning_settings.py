"""BILLING_DUNNING_RETRY_DAYS and BILLING_DUNNING_FINAL_ACTION are parsed and checked at cold start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from billing.settings import Settings


@pytest.mark.parametrize(
    ("value", "schedule"),
    [
        (None, (3, 5, 7)),  # the default
        ("1, 2 ,10", (1, 2, 10)),
        ("4", (4,)),
        ("", ()),  # no retries: the first failure is final
    ],
)
def test_retry_days(value, schedule):
    env = {} if value is None else {"BILLING_DUNNING_RETRY_DAYS": value}
    assert Settings.from_env(env).dunning_retry_schedule == schedule


@pytest.mark.parametrize("value", ["3,3", "5,3", "0,2", "a", "3;5", "-1"])
def test_bad_retry_days_fail_loudly(value):
    with pytest.raises(ValidationError):
        Settings.from_env({"BILLING_DUNNING_RETRY_DAYS": value})


def test_final_action():
    assert Settings.from_env({}).dunning_final_action == "mark_uncollectible"
    assert Settings.from_env({"BILLING_DUNNING_FINAL_ACTION": "leave_past_due"}).dunning_final_action == (
        "leave_past_due"
    )
    with pytest.raises(ValidationError):
        Settings.from_env({"BILLING_DUNNING_FINAL_ACTION": "delete_customer"})
