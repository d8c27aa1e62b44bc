"""The repositories the routes use, built once per container on first use."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from billing.repositories.catalog import CouponRepository, MetricRepository, PlanRepository, TaxRateRepository
from billing.repositories.customers import CustomerRepository
from billing.settings import get_settings

if TYPE_CHECKING:
    from billing.services.dunning import Dunning


def _table() -> str:
    return get_settings().require("billing_table")


@cache
def customers() -> CustomerRepository:
    return CustomerRepository(table_name=_table())


@cache
def metrics() -> MetricRepository:
    return MetricRepository(table_name=_table())


@cache
def plans() -> PlanRepository:
    return PlanRepository(table_name=_table())


@cache
def coupons() -> CouponRepository:
    return CouponRepository(table_name=_table())


@cache
def tax_rates() -> TaxRateRepository:
    return TaxRateRepository(table_name=_table())


@cache
def dunning() -> Dunning:
    """Dunning (a new payment method retries the customer's failed invoices at once)."""
    from billing.services.dunning import dunning_from_settings

    return dunning_from_settings(get_settings())
