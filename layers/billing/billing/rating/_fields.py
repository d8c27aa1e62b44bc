"""Reading the fields of a charge definition (private to ``billing.rating``).

One place for the conventions every charge model shares:

* money fields are an integer number of minor units (``unit_amount: 5``) or the
  same name with ``_decimal`` as a decimal string for sub-minor precision
  (``unit_amount_decimal: "0.25"``), never both; at most 12 decimal places;
* quantities (``up_to``, ``free_units``, ``divide_by``) are an integer or a
  decimal string; floats are refused everywhere (``billing.money.to_decimal``);
* unknown keys are refused with ``unknown_field``;
* a JSON ``null`` is the same as an absent key.

Every error is a ``ValidationFailed`` whose ``param`` is the dotted path of the
field at fault (``tiers.1.up_to``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal

from billing.errors import ValidationFailed
from billing.money import to_decimal

MAX_DECIMAL_PLACES = 12
"""Most decimal places a ``*_decimal`` money field may carry (as Stripe)."""

MAX_MAGNITUDE = Decimal(10) ** 30
"""Every number of a charge or of usage must be below this in absolute value."""

DECIMAL_SUFFIX = "_decimal"


def join(prefix: str, name: str | int) -> str:
    """The dotted path of ``name`` below ``prefix`` (``join("tiers.1", "up_to")``)."""
    return f"{prefix}.{name}" if prefix else str(name)


def money_keys(*names: str) -> frozenset[str]:
    """Both spellings of each money field: ``unit_amount`` and ``unit_amount_decimal``."""
    return frozenset(n for name in names for n in (name, name + DECIMAL_SUFFIX))


def reject_unknown(raw: Mapping[str, object], allowed: frozenset[str], prefix: str) -> None:
    """Refuse any key of ``raw`` that is not in ``allowed`` (the first one, in input order)."""
    for key in raw:
        if key not in allowed:
            raise ValidationFailed(
                f"unknown field {key!r}", code="unknown_field", param=join(prefix, str(key))
            )


_EXACT = Context(prec=200, Emin=-999_999, Emax=999_999)
"""Wide enough that ``normalize`` never rounds a number that passed ``check_magnitude``."""


def check_magnitude(value: Decimal, param: str) -> Decimal:
    """Refuse numbers of 10**30 or more (any price or usage beyond that is an input error)."""
    if abs(value) >= MAX_MAGNITUDE:
        raise ValidationFailed(f"{param} is too large", code="out_of_range", param=param)
    return value


def strip(value: Decimal) -> Decimal:
    """``value`` without trailing fractional zeros, exactly (``Decimal("1.50")`` → ``Decimal("1.5")``)."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize(_EXACT)


def decimal_places(value: Decimal) -> int:
    """How many significant decimal places ``value`` has (``Decimal("1.50")`` has 1)."""
    exponent = strip(value).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt(value: Decimal) -> str:
    """Plain canonical text of a Decimal: no exponent, no trailing zeros (``"0.25"``, ``"100"``)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(_EXACT), "f")


def is_integral(value: Decimal) -> bool:
    return value == value.to_integral_value()


def number_out(value: Decimal) -> int | str:
    """A quantity in the normalized charge: an int when integral, else a decimal string."""
    return int(value) if is_integral(value) else fmt(value)


def amount_out(out: dict[str, object], name: str, value: Decimal) -> None:
    """Write a money field canonically: ``name: int`` if integral, else ``name_decimal: str``."""
    if is_integral(value):
        out[name] = int(value)
    else:
        out[name + DECIMAL_SUFFIX] = fmt(value)


def read_amount(
    raw: Mapping[str, object], name: str, prefix: str, *, required: bool = False
) -> Decimal | None:
    """Read money field ``name`` (or ``name_decimal``): non-negative Decimal minor units, None if absent."""
    param = join(prefix, name)
    decimal_name = name + DECIMAL_SUFFIX
    int_value = raw.get(name)
    decimal_value = raw.get(decimal_name)
    if int_value is not None and decimal_value is not None:
        raise ValidationFailed(
            f"{param} and {decimal_name} are both set; give only one",
            code="ambiguous_amount",
            param=param,
        )
    if int_value is not None:
        if isinstance(int_value, bool) or not isinstance(int_value, int | Decimal):
            raise ValidationFailed(
                f"{param} must be an integer number of minor units (use {decimal_name} for fractions)",
                code="invalid_amount",
                param=param,
            )
        value = Decimal(int_value)
        if not value.is_finite() or not is_integral(value):
            raise ValidationFailed(
                f"{param} must be an integer number of minor units (use {decimal_name} for fractions)",
                code="invalid_amount",
                param=param,
            )
    elif decimal_value is not None:
        decimal_param = join(prefix, decimal_name)
        value = to_decimal(decimal_value, param=decimal_param)
        if decimal_places(value) > MAX_DECIMAL_PLACES:
            raise ValidationFailed(
                f"{decimal_param} has more than {MAX_DECIMAL_PLACES} decimal places",
                code="too_many_decimal_places",
                param=decimal_param,
            )
        param = decimal_param
    else:
        if required:
            raise ValidationFailed(f"{param} is required", code="missing_field", param=param)
        return None
    if value < 0:
        raise ValidationFailed(f"{param} must not be negative", code="negative_amount", param=param)
    return strip(check_magnitude(value, param))


def read_number(
    raw: Mapping[str, object], name: str, prefix: str, *, required: bool = False
) -> Decimal | None:
    """Read a quantity-like field (int or decimal string), or None if absent."""
    param = join(prefix, name)
    value = raw.get(name)
    if value is None:
        if required:
            raise ValidationFailed(f"{param} is required", code="missing_field", param=param)
        return None
    return strip(check_magnitude(to_decimal(value, param=param), param))


def read_rate(raw: Mapping[str, object], name: str, prefix: str) -> Decimal:
    """Read a required percentage (``"1.3"`` is 1.3 %), between 0 and 100 inclusive."""
    param = join(prefix, name)
    value = read_number(raw, name, prefix, required=True)
    assert value is not None
    if value < 0 or value > 100:
        raise ValidationFailed(
            f"{param} is a percentage and must be between 0 and 100", code="rate_out_of_range", param=param
        )
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise ValidationFailed(
            f"{param} has more than {MAX_DECIMAL_PLACES} decimal places",
            code="too_many_decimal_places",
            param=param,
        )
    return value


def read_bool(raw: Mapping[str, object], name: str, prefix: str, *, default: bool) -> bool:
    param = join(prefix, name)
    value = raw.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationFailed(f"{param} must be true or false", code="invalid_boolean", param=param)
    return value


def read_mapping(
    raw: Mapping[str, object], name: str, prefix: str, *, code: str
) -> Mapping[str, object] | None:
    param = join(prefix, name)
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationFailed(f"{param} must be an object", code=code, param=param)
    return value
