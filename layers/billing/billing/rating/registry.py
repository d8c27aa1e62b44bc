"""The charge-model registry: model name → the one class that prices it.

Adding a model is adding a module with a ``ChargeModel`` subclass and one line
here. An unknown name is refused with ``unknown_charge_model`` (param ``model``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from billing.errors import ValidationFailed
from billing.rating.base import ChargeModel
from billing.rating.graduated import GraduatedModel
from billing.rating.graduated_percentage import GraduatedPercentageModel
from billing.rating.package import PackageModel
from billing.rating.percentage import PercentageModel
from billing.rating.standard import StandardModel
from billing.rating.volume import VolumeModel

CHARGE_MODELS: Mapping[str, ChargeModel[Any]] = MappingProxyType(
    {
        model.name: model
        for model in (
            StandardModel(),
            PackageModel(),
            GraduatedModel(),
            VolumeModel(),
            PercentageModel(),
            GraduatedPercentageModel(),
        )
    }
)


def get_charge_model(name: object) -> ChargeModel[Any]:
    """The registered model called ``name``, or ``ValidationFailed(code="unknown_charge_model")``."""
    model = CHARGE_MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        known = ", ".join(sorted(CHARGE_MODELS))
        raise ValidationFailed(
            f"unknown charge model {name!r}; expected one of {known}",
            code="unknown_charge_model",
            param="model",
        )
    return model
