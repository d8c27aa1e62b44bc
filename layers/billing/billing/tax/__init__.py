"""Tax: rates by jurisdiction as data, who pays what, and the taxes of an invoice.

* ``billing.tax.rates``: ``TaxRate``, the shipped ``default_rates()``, ``tax_rates(overrides)``.
* ``billing.tax.jurisdiction``: ``determine_tax`` (exemption, EU reverse charge, jurisdiction).
* ``billing.tax.calculate``: ``compute_taxes`` (inclusive/exclusive, rounding once per rate).
"""

from __future__ import annotations

from billing.tax.calculate import LineTax, RateTotal, TaxableLine, TaxResult, compute_taxes
from billing.tax.jurisdiction import TaxCustomer, TaxStatus, TaxTreatment, Treatment, determine_tax
from billing.tax.rate_data import REVERSE_CHARGE_MENTION, REVERSE_CHARGE_RATE_ID
from billing.tax.rates import TaxRate, default_rates, parse_tax_rate, tax_rates

__all__ = [
    "REVERSE_CHARGE_MENTION",
    "REVERSE_CHARGE_RATE_ID",
    "LineTax",
    "RateTotal",
    "TaxCustomer",
    "TaxRate",
    "TaxResult",
    "TaxStatus",
    "TaxTreatment",
    "TaxableLine",
    "Treatment",
    "compute_taxes",
    "default_rates",
    "determine_tax",
    "parse_tax_rate",
    "tax_rates",
]
