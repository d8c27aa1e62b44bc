"""Invalid charge definitions and usage: ValidationFailed with the field (param) and a stable code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import ValidationFailed
from billing.rating import CHARGE_MODELS, rate, validate_charge

GOOD_TIERS = [{"up_to": 10, "unit_amount": 100}, {"up_to": None, "unit_amount": 50}]


def std(**fields: object) -> dict[str, object]:
    return {"model": "standard", "unit_amount": 5, **fields}


def tiered(*tiers: dict[str, object], model: str = "graduated") -> dict[str, object]:
    return {"model": model, "tiers": list(tiers)}


INVALID = [
    # (charge, code, param)
    ({}, "missing_field", "model"),
    ({"model": "tiered"}, "unknown_charge_model", "model"),
    ({"model": 3}, "unknown_charge_model", "model"),
    ({"model": "standard"}, "missing_field", "unit_amount"),
    ({"model": "standard", "unit_amount": 5, "unit_amount_decimal": "5"}, "ambiguous_amount", "unit_amount"),
    ({"model": "standard", "unit_amount": 1.5}, "invalid_amount", "unit_amount"),
    ({"model": "standard", "unit_amount": "5"}, "invalid_amount", "unit_amount"),
    ({"model": "standard", "unit_amount": True}, "invalid_amount", "unit_amount"),
    ({"model": "standard", "unit_amount_decimal": 0.25}, "invalid_decimal", "unit_amount_decimal"),
    ({"model": "standard", "unit_amount_decimal": "abc"}, "invalid_decimal", "unit_amount_decimal"),
    ({"model": "standard", "unit_amount_decimal": "NaN"}, "invalid_decimal", "unit_amount_decimal"),
    ({"model": "standard", "unit_amount": -1}, "negative_amount", "unit_amount"),
    ({"model": "standard", "unit_amount_decimal": "-0.5"}, "negative_amount", "unit_amount_decimal"),
    (
        {"model": "standard", "unit_amount_decimal": "0.1234567890123"},
        "too_many_decimal_places",
        "unit_amount_decimal",
    ),
    (std(unit_price=5), "unknown_field", "unit_price"),
    (std(allow_negative="yes"), "invalid_boolean", "allow_negative"),
    (
        {"model": "package", "unit_amount": 5, "package_size": 1, "allow_negative": True},
        "unknown_field",
        "allow_negative",
    ),
    ({"model": "package", "unit_amount": 5}, "missing_field", "package_size"),
    ({"model": "package", "unit_amount": 5, "package_size": 0}, "invalid_package_size", "package_size"),
    ({"model": "package", "unit_amount": 5, "package_size": -5}, "invalid_package_size", "package_size"),
    ({"model": "package", "unit_amount": 5, "package_size": "2.5"}, "invalid_package_size", "package_size"),
    (
        {"model": "package", "unit_amount": 5, "package_size": 5, "free_units": -1},
        "invalid_free_units",
        "free_units",
    ),
    ({"model": "graduated"}, "missing_field", "tiers"),
    (tiered(), "invalid_tiers", "tiers"),
    ({"model": "graduated", "tiers": "5"}, "invalid_tiers", "tiers"),
    ({"model": "graduated", "tiers": {"up_to": None}}, "invalid_tiers", "tiers"),
    (tiered(5), "invalid_tier", "tiers.0"),  # type: ignore[arg-type]
    (
        tiered(
            {"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}
        ),
        "tiers_not_ascending",
        "tiers.1.up_to",
    ),
    (
        tiered(
            {"up_to": 10, "unit_amount": 1},
            {"up_to": 10, "unit_amount": 1},
            {"up_to": None, "unit_amount": 1},
        ),
        "tiers_not_ascending",
        "tiers.1.up_to",
    ),  # overlapping: two tiers ending at 10
    (
        tiered({"up_to": 10, "unit_amount": 1}, {"up_to": 20, "unit_amount": 1}),
        "last_tier_must_be_unbounded",
        "tiers.1.up_to",
    ),
    (tiered({"up_to": 10, "unit_amount": 1}), "last_tier_must_be_unbounded", "tiers.0.up_to"),
    (
        tiered({"up_to": None, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}),
        "unbounded_tier_not_last",
        "tiers.0.up_to",
    ),
    (
        tiered({"up_to": 0, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}),
        "invalid_up_to",
        "tiers.0.up_to",
    ),
    (
        tiered({"up_to": -3, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}),
        "invalid_up_to",
        "tiers.0.up_to",
    ),
    (
        tiered({"up_to": 2.5, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}),
        "invalid_decimal",
        "tiers.0.up_to",
    ),
    (tiered({"up_to": 10, "unit_amount": 1}, {"unit_amount": 1}), "missing_field", "tiers.1.up_to"),
    (
        tiered({"up_to": 10, "unit_amount": 1}, {"up_to": None, "unit_amount": -1}),
        "negative_amount",
        "tiers.1.unit_amount",
    ),
    (tiered({"up_to": 10, "price": 1}, {"up_to": None}), "unknown_field", "tiers.0.price"),
    (
        tiered({"up_to": 10, "flat_amount": 1, "flat_amount_decimal": "1"}, {"up_to": None}),
        "ambiguous_amount",
        "tiers.0.flat_amount",
    ),
    (
        tiered(
            {"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}, {"up_to": None}, model="volume"
        ),
        "tiers_not_ascending",
        "tiers.1.up_to",
    ),
    (tiered({"up_to": 10, "unit_amount": 1}, model="volume"), "last_tier_must_be_unbounded", "tiers.0.up_to"),
    ({"model": "percentage"}, "missing_field", "rate"),
    ({"model": "percentage", "rate": "101"}, "rate_out_of_range", "rate"),
    ({"model": "percentage", "rate": "-0.1"}, "rate_out_of_range", "rate"),
    ({"model": "percentage", "rate": 1.5}, "invalid_decimal", "rate"),
    ({"model": "percentage", "rate": 1, "fixed_amount": -1}, "negative_amount", "fixed_amount"),
    (
        {"model": "percentage", "rate": 1, "per_transaction_min_amount": 10, "per_transaction_max_amount": 5},
        "min_exceeds_max",
        "per_transaction_min_amount",
    ),
    (
        {"model": "percentage", "rate": 1, "free_units_per_events": -1},
        "invalid_free_units",
        "free_units_per_events",
    ),
    (
        {"model": "percentage", "rate": 1, "free_units_per_events": "1.5"},
        "invalid_free_units",
        "free_units_per_events",
    ),
    (
        {
            "model": "percentage",
            "rate": 1,
            "fixed_amount": 1,
            "transform_quantity": {"divide_by": 2, "round": "up"},
        },
        "incompatible_options",
        "transform_quantity",
    ),
    (
        tiered({"up_to": 10, "rate": "150"}, {"up_to": None, "rate": "1"}, model="graduated_percentage"),
        "rate_out_of_range",
        "tiers.0.rate",
    ),
    (
        tiered({"up_to": 10}, {"up_to": None, "rate": "1"}, model="graduated_percentage"),
        "missing_field",
        "tiers.0.rate",
    ),
    (
        tiered(
            {"up_to": 10, "rate": "1", "unit_amount": 5},
            {"up_to": None, "rate": "1"},
            model="graduated_percentage",
        ),
        "unknown_field",
        "tiers.0.unit_amount",
    ),
    (
        std(transform_quantity={"divide_by": 0, "round": "up"}),
        "invalid_divide_by",
        "transform_quantity.divide_by",
    ),
    (
        std(transform_quantity={"divide_by": -2, "round": "up"}),
        "invalid_divide_by",
        "transform_quantity.divide_by",
    ),
    (std(transform_quantity={"round": "up"}), "missing_field", "transform_quantity.divide_by"),
    (
        std(transform_quantity={"divide_by": 2, "round": "nearest"}),
        "invalid_round",
        "transform_quantity.round",
    ),
    (std(transform_quantity={"divide_by": 2}), "invalid_round", "transform_quantity.round"),
    (
        std(transform_quantity={"divide_by": 2, "round": "up", "x": 1}),
        "unknown_field",
        "transform_quantity.x",
    ),
    (std(transform_quantity=5), "invalid_option", "transform_quantity"),
    (std(min_amount_per_period=-1), "negative_amount", "min_amount_per_period"),
    (
        std(min_amount_per_period=10, min_amount_per_period_decimal="10"),
        "ambiguous_amount",
        "min_amount_per_period",
    ),
    (std(pay_in_advance="true"), "invalid_boolean", "pay_in_advance"),
    (std(group_by=""), "invalid_group_by", "group_by"),
    (std(group_by=5), "invalid_group_by", "group_by"),
    ({"model": "standard", "unit_amount": 10**30}, "out_of_range", "unit_amount"),
    (tiered({"up_to": "1E+40", "unit_amount": 1}, {"up_to": None}), "out_of_range", "tiers.0.up_to"),
]


@pytest.mark.parametrize(("charge", "code", "param"), INVALID)
def test_invalid_charge_names_the_field(charge: dict[str, object], code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_charge(charge)
    assert (err.value.code, err.value.param) == (code, param)
    with pytest.raises(ValidationFailed) as err:  # rate never prices an invalid charge
        rate(charge, 1)
    assert err.value.code == code


def test_a_charge_must_be_an_object() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_charge(["standard"])  # type: ignore[arg-type]
    assert err.value.code == "invalid_charge"


@pytest.mark.parametrize(
    ("quantity", "events", "code", "param"),
    [
        (None, None, "quantity_required", "quantity"),
        (-1, None, "negative_quantity", "quantity"),
        (1.5, None, "invalid_decimal", "quantity"),
        ("abc", None, "invalid_decimal", "quantity"),
        (None, "12", "invalid_events", "events"),
        (None, [1, "x"], "invalid_decimal", "events.1"),
        (None, [1, -1], "negative_quantity", "events.1"),
        ("1E+999999", None, "out_of_range", "quantity"),
        (None, [1, "-1E+31"], "out_of_range", "events.1"),
    ],
)
def test_invalid_usage(quantity: object, events: object, code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        rate(std(), quantity, events)  # type: ignore[arg-type]
    assert (err.value.code, err.value.param) == (code, param)


def test_numbers_too_precise_to_price_exactly_are_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        rate({"model": "standard", "unit_amount_decimal": "0.333333333333"}, "1." + "3" * 80)
    assert err.value.code == "precision_exceeded"


def test_validate_returns_the_canonical_copy() -> None:
    charge = {
        "model": "graduated",
        "tiers": [
            {"up_to": "10.0", "unit_amount_decimal": "5.000", "flat_amount_decimal": "0.50"},
            {"up_to": None, "unit_amount": 4, "flat_amount": None},
        ],
        "min_amount_per_period_decimal": "100",
        "transform_quantity": {"divide_by": "2", "round": "down"},
    }
    normalized = validate_charge(charge)
    assert normalized == {
        "model": "graduated",
        "tiers": [
            {"up_to": 10, "unit_amount": 5, "flat_amount_decimal": "0.5"},
            {"up_to": None, "unit_amount": 4, "flat_amount": 0},
        ],
        "pay_in_advance": False,
        "transform_quantity": {"divide_by": 2, "round": "down"},
        "min_amount_per_period": 100,
    }
    assert validate_charge(normalized) == normalized  # idempotent
    assert charge["tiers"][0]["up_to"] == "10.0"  # type: ignore[index]  # the input is not modified


@pytest.mark.parametrize(
    "charge",
    [
        {"model": "standard", "unit_amount_decimal": "0.25", "allow_negative": True},
        {"model": "package", "unit_amount": 500, "package_size": 100, "free_units": "0.5"},
        {"model": "volume", "tiers": GOOD_TIERS, "group_by": "region", "pay_in_advance": True},
        {
            "model": "percentage",
            "rate": "1.20",
            "fixed_amount_decimal": "0.5",
            "free_units_per_events": 3,
            "free_units_per_total_aggregation": 50000,
            "per_transaction_min_amount": 1,
            "per_transaction_max_amount_decimal": "99.5",
        },
        {
            "model": "graduated_percentage",
            "tiers": [{"up_to": 100, "rate": 1}, {"up_to": None, "rate": "0.5"}],
        },
    ],
)
def test_normalization_is_idempotent_and_prices_the_same(charge: dict[str, object]) -> None:
    normalized = validate_charge(charge)
    assert validate_charge(normalized) == normalized
    events = [1000, 250, 4000]
    grouped = "group_by" in charge
    if not grouped:
        assert rate(normalized, events=events).amount == rate(charge, events=events).amount


def test_percentage_rates_are_kept_as_decimal_strings() -> None:
    assert validate_charge({"model": "percentage", "rate": 1})["rate"] == "1"
    assert validate_charge({"model": "percentage", "rate": "1.30"})["rate"] == "1.3"


def test_the_registry_holds_one_class_per_model_in_its_own_module() -> None:
    assert set(CHARGE_MODELS) == {
        "standard",
        "package",
        "graduated",
        "volume",
        "percentage",
        "graduated_percentage",
    }
    modules = {type(model).__module__ for model in CHARGE_MODELS.values()}
    assert modules == {f"billing.rating.{name}" for name in CHARGE_MODELS}
    for name, model in CHARGE_MODELS.items():
        assert model.name == name


def test_every_error_code_raised_is_documented() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [
        *sorted((root / "layers/billing/billing/rating").glob("*.py")),
        root / "layers/billing/billing/metering.py",
    ]
    raised = {code for path in sources for code in re.findall(r'code="([a-z_]+)"', path.read_text())}
    documented = set(re.findall(r"`([a-z_]+)`", (root / "docs/pricing.md").read_text()))
    assert len(raised) > 30
    assert raised - documented == set()


def test_a_definition_read_back_from_dynamodb_prices_the_same() -> None:
    """boto3 hands every stored number back as Decimal: the normalized charge must still be accepted."""

    def as_dynamodb(value: object) -> object:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, dict):
            return {k: as_dynamodb(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_dynamodb(v) for v in value]
        raise AssertionError(value)

    charge = {
        "model": "percentage",
        "rate": "1.2",
        "fixed_amount": 10,
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": 50000,
        "transform_quantity": None,
        "min_amount_per_period": 100,
    }
    stored = as_dynamodb(validate_charge(charge))
    assert isinstance(stored, dict)
    assert validate_charge(stored) == validate_charge(charge)
    assert rate(stored, events=[20000, 10000, 10000, 5000]).amount == 70
    tiers = {"model": "package", "unit_amount": 500, "package_size": 100, "free_units": 100}
    assert rate(as_dynamodb(validate_charge(tiers)), 201).amount == 1000  # type: ignore[arg-type]
