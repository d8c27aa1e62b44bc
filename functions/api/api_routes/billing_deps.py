"""The billing dependencies of the subscription, billing-run and preview routes, built once."""

from __future__ import annotations

from functools import cache

from billing.services.billing_runs import Billing, billing_from_settings
from billing.settings import get_settings


@cache
def billing() -> Billing:
    return billing_from_settings(get_settings())
