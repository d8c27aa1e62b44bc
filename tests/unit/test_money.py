"""billing.money: currencies, exponents, Money, conversions, formatting, allocation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from billing.errors import CurrencyMismatch, ValidationFailed
from billing.money import (
    _ISO_ADDITIONS,
    _ISO_EXPONENT_OVERRIDES,
    _NOT_BILLABLE,
    Money,
    allocate,
    apportion,
    currency_exponent,
    format_money,
    known_currencies,
    major_to_minor,
    minor_to_major,
    normalize_currency,
    round_exact,
    round_minor,
    to_decimal,
)

# --------------------------------------------------------------------------- the one rounding rule


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.5", 1),  # tie → away from zero
        ("1.5", 2),  # tie → away from zero (not to even: 2 either way)
        ("2.5", 3),  # tie → away from zero (banker's rounding would give 2)
        ("-2.5", -3),  # tie → away from zero, negative side
        ("2.4999", 2),
        ("-0.4", 0),
        ("12.345", 12),
    ],
)
def test_round_minor_is_half_up_away_from_zero(amount: str, expected: int) -> None:
    assert round_minor(Decimal(amount)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(1, 3), 0),
        (Fraction(2, 3), 1),
        (Fraction(-2, 3), -1),
    ],
)
def test_round_exact_matches_round_minor(value: Fraction, expected: int) -> None:
    assert round_exact(value) == expected


def test_to_decimal_refuses_float() -> None:
    with pytest.raises(ValidationFailed) as info:
        to_decimal(0.1, param="unit_amount")
    assert (info.value.code, info.value.param) == ("invalid_decimal", "unit_amount")


# --------------------------------------------------------------------------- exponents


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("jpy", 0),
        ("krw", 0),
        ("clp", 0),
        ("isk", 0),
        ("vnd", 0),
        ("ugx", 0),
        ("xof", 0),
        ("kwd", 3),
        ("bhd", 3),
        ("omr", 3),
        ("tnd", 3),
        ("jod", 3),
        ("lyd", 3),
        ("usd", 2),
        ("eur", 2),
        ("gbp", 2),
        ("huf", 2),  # CLDR cash digits 0, ISO minor unit 2
        ("idr", 2),  # CLDR cash digits 0, ISO minor unit 2
        ("twd", 2),
        ("clf", 4),  # Unidad de Fomento
        ("uyw", 4),
    ],
)
def test_currency_exponent_follows_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("code", "iso", "cldr"),
    [("iqd", 3, 0), ("rsd", 2, 0), ("all", 2, 0), ("irr", 2, 0), ("lbp", 2, 0), ("mga", 2, 0), ("yer", 2, 0)],
)
def test_overrides_win_where_cldr_deviates_from_iso(code: str, iso: int, cldr: int) -> None:
    from babel.numbers import get_currency_precision

    assert get_currency_precision(code.upper()) == cldr  # CLDR's practical precision...
    assert currency_exponent(code) == iso  # ...is overridden by the ISO 4217 minor unit


def test_every_override_still_deviates_from_cldr() -> None:
    """If a Babel upgrade fixes a code, its override becomes dead weight: this test says so."""
    from babel.numbers import get_currency_precision

    for code, iso in _ISO_EXPONENT_OVERRIDES.items():
        assert get_currency_precision(code) != iso, code


def test_additions_and_exclusions() -> None:
    assert currency_exponent("svc") == 2  # on ISO list one, out of use in CLDR
    assert currency_exponent("xad") == 2  # ISO 2025 addition, unknown to CLDR 48
    for code in _NOT_BILLABLE:
        assert code.lower() not in known_currencies()
    assert set(_ISO_ADDITIONS) <= {c.upper() for c in known_currencies()}


def test_known_currencies_are_the_165_iso_codes_with_a_minor_unit() -> None:
    # ISO 4217 list one of 2026-01-01: 178 codes, 13 of them without a minor unit ("N.A.")
    assert len(known_currencies()) == 178 - 13  # = 165
    assert {"usd", "eur", "jpy", "chf", "xcg", "zwg", "sle", "ved", "ves"} <= known_currencies()


@pytest.mark.parametrize("code", ["USD", "usd", "Usd"])
def test_codes_normalise_to_lowercase(code: str) -> None:
    assert normalize_currency(code) == "usd"
    assert Money(1, code).currency == "usd"


@pytest.mark.parametrize(
    "code",
    ["xyz", "dem", "frf", "hrk", "bgn", "xau", "xxx", "cnh", "us", "usdd", "", " usd", 840, None],
)
def test_unknown_or_unbillable_codes_are_refused(code: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalize_currency(code)
    assert (info.value.code, info.value.param) == ("unknown_currency", "currency")


def test_currency_exponent_refuses_unknown_code() -> None:
    with pytest.raises(ValidationFailed) as info:
        currency_exponent("abc")
    assert (info.value.code, info.value.param) == ("unknown_currency", "currency")


# --------------------------------------------------------------------------- Money


def test_money_adds_and_subtracts_in_one_currency() -> None:
    assert Money(1999, "usd") + Money(1, "USD") == Money(2000, "usd")  # 1999 + 1
    assert Money(500, "eur") - Money(750, "eur") == Money(-250, "eur")  # 500 − 750
    assert -Money(5, "jpy") == Money(-5, "jpy")
    assert Money(1, "usd") < Money(2, "usd")


@pytest.mark.parametrize("op", ["add", "sub", "lt"])
def test_money_refuses_to_mix_currencies(op: str) -> None:
    a, b = Money(100, "usd"), Money(100, "eur")
    with pytest.raises(CurrencyMismatch) as info:
        if op == "add":
            a + b
        elif op == "sub":
            a - b
        else:
            a < b  # noqa: B015
    assert info.value.code == "currency_mismatch"


def test_money_equality_includes_currency() -> None:
    assert Money(100, "usd") != Money(100, "eur")


@pytest.mark.parametrize("amount", [Decimal("1.00"), 1.0, "100", True, None])
def test_money_refuses_non_int_amounts(amount: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        Money(amount, "usd")  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_amount", "amount")


def test_money_is_frozen() -> None:
    money = Money(1, "usd")
    with pytest.raises(AttributeError):
        money.amount = 2  # type: ignore[misc]


# --------------------------------------------------------------------------- conversions


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("12.34", "usd", 1234),  # 12.34 × 10²
        (Decimal("12.3"), "usd", 1230),  # 12.30 × 10²
        ("1235", "jpy", 1235),  # × 10⁰
        ("1.234", "kwd", 1234),  # 1.234 × 10³
        (7, "eur", 700),  # 7 × 10²
        ("-0.01", "usd", -1),
        ("12.3400", "usd", 1234),  # trailing zeros are not precision
    ],
)
def test_major_to_minor_exact(value: Decimal | str | int, currency: str, minor: int) -> None:
    assert major_to_minor(value, currency) == minor


def test_major_to_minor_refuses_to_round_silently() -> None:
    with pytest.raises(ValidationFailed) as info:
        major_to_minor("12.345", "usd")
    assert (info.value.code, info.value.param) == ("amount_precision_exceeded", "amount")
    with pytest.raises(ValidationFailed):
        major_to_minor("0.5", "jpy")


def test_major_to_minor_rounds_half_up_when_asked() -> None:
    assert major_to_minor("12.345", "usd", rounding=True) == 1235  # 1234.5 → 1235 (tie away from zero)
    assert major_to_minor("-12.345", "usd", rounding=True) == -1235
    assert major_to_minor("0.5", "jpy", rounding=True) == 1


def test_major_to_minor_refuses_float() -> None:
    with pytest.raises(ValidationFailed) as info:
        major_to_minor(12.34, "usd")  # type: ignore[arg-type]
    assert info.value.code == "invalid_decimal"


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (1234, "usd", "12.34"),
        (100, "usd", "1.00"),
        (5, "jpy", "5"),
        (1, "kwd", "0.001"),
        (-250, "eur", "-2.50"),
    ],
)
def test_minor_to_major(minor: int, currency: str, major: str) -> None:
    result = minor_to_major(minor, currency)
    assert result == Decimal(major)
    assert str(result) == major  # exactly the currency's decimal places


# --------------------------------------------------------------------------- formatting (CLDR via Babel 2.18)

NBSP = "\u00a0"  # no-break space
NNBSP = "\u202f"  # narrow no-break space


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123456, "sek", "sv_SE", f"1{NBSP}234,56{NBSP}kr"),  # Swedish: NBSP groups, comma decimals
        (1235, "jpy", "ja_JP", "￥1,235"),  # fullwidth yen sign U+FFE5, no decimals
        (123456, "eur", "de_DE", f"1.234,56{NBSP}€"),
        (123456, "eur", "fr_FR", f"1{NNBSP}234,56{NBSP}€"),  # French groups with a *narrow* NBSP
        (-123456, "usd", "en_US", "-$1,234.56"),
        (100, "usd", "en_US", "$1.00"),  # always the currency's decimals
        (123450, "chf", "de_CH", f"CHF{NBSP}1’234.50"),
        (12345678, "inr", "en_IN", "₹1,23,456.78"),  # Indian grouping
        (1234567, "iqd", "en_US", "IQD1,234.567"),  # ISO exponent 3 wins over CLDR's 0
        (1234, "kwd", "en_US", "KWD1.234"),
    ],
)
def test_format_money_exact_strings(minor: int, currency: str, locale: str, text: str) -> None:
    assert format_money(minor, currency, locale) == text


def test_format_money_accepts_bcp47_dash_and_money_method() -> None:
    assert format_money(100, "usd", "en-US") == "$1.00"
    assert Money(123456, "SEK").format("sv_SE") == f"1{NBSP}234,56{NBSP}kr"


@pytest.mark.parametrize("locale", ["xx_YY_ZZ", "not a locale", "", 12])
def test_format_money_refuses_unknown_locale(locale: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        format_money(100, "usd", locale)  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_locale", "locale")


def test_format_money_refuses_unknown_currency() -> None:
    with pytest.raises(ValidationFailed) as info:
        format_money(100, "zzz", "en_US")
    assert info.value.code == "unknown_currency"


# --------------------------------------------------------------------------- allocate


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # 33⅓ each; the one unit left goes to the first tie
        (-100, [1, 1, 1], [-34, -33, -33]),  # mirror of the positive split
        (10, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")], [5, 3, 2]),  # 5, 2.5, 2.5 → tie to index 1
        (7, [0, 1, 0, 1], [0, 4, 0, 3]),  # zero weights get nothing; 3.5/3.5 → first gets the unit
        (0, [1, 2], [0, 0]),
        (0, [0, 0], [0, 0]),  # nothing to split over nothing
        (1000, [333, 333, 334], [333, 333, 334]),  # exact shares stay exact
        (5, [Decimal("1.999"), Decimal("0.001")], [5, 0]),  # 4.9975 and 0.0025 → remainders .9975 vs .0025
        (3, [2, 1, 1], [1, 1, 1]),  # 1.5, .75, .75 → floors 1,0,0; 2 left → remainders .75 (idx 1, 2)
    ],
)
def test_allocate(total: int, weights: list[Decimal | int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts
    assert sum(parts) == total


def test_allocate_is_deterministic_on_ties() -> None:
    assert allocate(2, [1, 1, 1, 1]) == [1, 1, 0, 0]  # 0.5 each: the first two ties win


@pytest.mark.parametrize(
    ("total", "weights", "code"),
    [
        (5, [0, 0], "invalid_weight"),
        (5, [], "invalid_weight"),
        (5, [1, -1], "invalid_weight"),
        (5, [1.5], "invalid_weight"),
        (5, [True], "invalid_weight"),
        (5, [Decimal("NaN")], "invalid_weight"),
        (Decimal(5), [1], "invalid_amount"),
    ],
)
def test_allocate_refuses_bad_input(total: object, weights: list[object], code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        allocate(total, weights)  # type: ignore[arg-type]
    assert info.value.code == code


# --------------------------------------------------------------------------- apportion


def test_apportion_rounds_each_value_to_floor_or_ceiling() -> None:
    values = [Decimal("1.5"), Decimal("2.25"), Decimal("3.25")]  # sum 7.0
    assert apportion(7, values) == [2, 2, 3]  # floors 1,2,3 = 6; one unit → largest remainder .5 (idx 0)
    assert apportion(-2, [Decimal("-0.5"), Decimal("-1.5")]) == [0, -2]  # floors -1,-2 = -3; +1 → tie → idx 0


def test_apportion_refuses_an_unreachable_total() -> None:
    with pytest.raises(ValidationFailed) as info:
        apportion(9, [Decimal("1.5"), Decimal("2.5")])  # floors 3, ceilings 5: 9 is out of reach
    assert info.value.code == "allocation_out_of_range"
