"""Pricing of usage charges: one module per charge model, chosen through a registry.

``rate(charge, quantity=None, events=None)`` prices a charge definition (the
JSON object the API accepts, with key ``model``) and returns a ``RatingResult``:
``amount`` (unrounded Decimal minor units), ``amount_minor`` (rounded once with
``billing.money.round_minor``), ``quantity`` and a typed ``breakdown``.
See docs/pricing.md for the models, options, error codes and worked examples.
"""

from billing.rating.base import BreakdownEntry, ChargeModel, RatingResult
from billing.rating.engine import (
    AdvanceResult,
    GroupedRatingResult,
    ParsedCharge,
    parse_charge,
    rate,
    rate_grouped,
    rate_in_advance,
    validate_charge,
)
from billing.rating.registry import CHARGE_MODELS, get_charge_model

__all__ = [
    "CHARGE_MODELS",
    "AdvanceResult",
    "BreakdownEntry",
    "ChargeModel",
    "GroupedRatingResult",
    "ParsedCharge",
    "RatingResult",
    "get_charge_model",
    "parse_charge",
    "rate",
    "rate_grouped",
    "rate_in_advance",
    "validate_charge",
]
