"""Money: integer minor units per ISO 4217 exponent, Decimal for unit prices.

The one rounding rule of the product: an amount is rounded **once**, half-up
(ties away from zero), to the minor unit of its currency, at the line level.
Intermediate results stay Decimal and unrounded.

Currencies
----------
Codes are ISO 4217 alphabetic codes, lowercase in the API (``usd``); upper
case is accepted and normalised to lower case. The known codes and their
exponents come from Babel's CLDR data (``territory_currencies``: every code
still in use in some territory) corrected to ISO 4217 where CLDR differs:

* ``_ISO_EXPONENT_OVERRIDES``: CLDR's ``digits`` is the precision used *in
  practice*, ISO 4217 is the legal minor unit. For the codes below they
  differ and ISO wins (amounts in minor units must match what payment
  providers and accounting systems expect).
* ``_ISO_ADDITIONS``: active ISO codes CLDR does not list as in use.
* ``_NOT_BILLABLE``: codes CLDR lists as in use that are not active ISO 4217
  currencies with a minor unit (precious metals, bond units, testing codes,
  the offshore yuan, the withdrawn Bulgarian lev).

Babel is imported lazily (inside functions): Lambda cold starts count.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from typing import Any

from billing.errors import CurrencyMismatch, ValidationFailed

ROUNDING = ROUND_HALF_UP


def round_minor(amount: Decimal) -> int:
    """Round a Decimal amount in minor units to an int: half-up, ties away from zero."""
    return int(amount.quantize(Decimal(1), rounding=ROUNDING))


def to_decimal(value: object, *, param: str) -> Decimal:
    """Parse an int, Decimal or decimal string; never accept a float, NaN or infinity."""
    if isinstance(value, bool | float):
        raise ValidationFailed(
            f"{param} must be an integer or a decimal string", code="invalid_decimal", param=param
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationFailed(
                f"{param} is not a decimal number", code="invalid_decimal", param=param
            ) from None
    else:
        raise ValidationFailed(
            f"{param} must be an integer or a decimal string", code="invalid_decimal", param=param
        )
    if not result.is_finite():
        raise ValidationFailed(f"{param} must be finite", code="invalid_decimal", param=param)
    return result


# --------------------------------------------------------------------------- currencies

_ISO_EXPONENT_OVERRIDES: dict[str, int] = {
    # code: ISO 4217 minor unit (CLDR 48 / Babel 2.18 "digits" in the comment)
    "AFN": 2,  # CLDR 0
    "ALL": 2,  # CLDR 0
    "IQD": 3,  # CLDR 0
    "IRR": 2,  # CLDR 0
    "KPW": 2,  # CLDR 0
    "LAK": 2,  # CLDR 0
    "LBP": 2,  # CLDR 0
    "MGA": 2,  # CLDR 0
    "MMK": 2,  # CLDR 0
    "RSD": 2,  # CLDR 0
    "SOS": 2,  # CLDR 0
    "SYP": 2,  # CLDR 0
    "YER": 2,  # CLDR 0
}
"""Active codes whose CLDR precision differs from the ISO 4217 minor unit (ISO list one, 2026-01-01)."""

_ISO_ADDITIONS: dict[str, int] = {
    "SVC": 2,  # El Salvador colón: still on ISO list one; CLDR marks it out of use since 2001
    "XAD": 2,  # Arab Accounting Dinar: added to ISO 4217 in 2025, not yet in CLDR 48
}
"""Active ISO 4217 codes that CLDR does not list as in use, with their ISO minor unit."""

_NOT_BILLABLE: frozenset[str] = frozenset(
    {
        "BGN",  # Bulgaria adopted the euro on 2026-01-01; withdrawn from ISO list one
        "CNH",  # offshore yuan: a market convention, not an ISO 4217 code
        # ISO 4217 codes with no minor unit ("N.A."): metals, bond-market units, SDR, testing
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XDR",
        "XPD",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
    }
)
"""Codes CLDR lists as in use that cannot be billed in."""

_CODE_RE = re.compile(r"^[A-Za-z]{3}$")


@cache
def _exponents() -> dict[str, int]:
    """Every billable code (lowercase) → its ISO 4217 exponent. Built once, on first use."""
    from babel.core import get_global  # lazy: cold starts count
    from babel.numbers import get_currency_precision

    in_use: set[str] = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, end, _tender in entries:
            if end is None:
                in_use.add(code)
    table: dict[str, int] = {}
    for code in sorted(in_use - _NOT_BILLABLE):
        table[code.lower()] = _ISO_EXPONENT_OVERRIDES.get(code, get_currency_precision(code))
    for code, exponent in _ISO_ADDITIONS.items():
        table[code.lower()] = exponent
    return table


def known_currencies() -> frozenset[str]:
    """The lowercase codes ``currency_exponent`` accepts."""
    return frozenset(_exponents())


def normalize_currency(code: object, *, param: str = "currency") -> str:
    """``"USD"`` or ``"usd"`` → ``"usd"``; an unknown or unbillable code is refused."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ValidationFailed(
            f"{param} must be a three-letter ISO 4217 currency code", code="unknown_currency", param=param
        )
    lower = code.lower()
    if lower not in _exponents():
        raise ValidationFailed(f"unknown currency {code!r}", code="unknown_currency", param=param)
    return lower


def currency_exponent(code: str, *, param: str = "currency") -> int:
    """Number of decimal places of the currency's minor unit (``jpy`` 0, ``usd`` 2, ``kwd`` 3)."""
    return _exponents()[normalize_currency(code, param=param)]


# --------------------------------------------------------------------------- Money


def _require_int(value: object, *, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{param} must be an integer number of minor units", code="invalid_amount", param=param
        )
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An integer amount of minor units of one currency (``Money(1999, "usd")`` is $19.99)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _require_int(self.amount, param="amount")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                code="currency_mismatch",
                param="currency",
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount >= other.amount

    def to_major(self) -> Decimal:
        return minor_to_major(self.amount, self.currency)

    def format(self, locale: str) -> str:
        return format_money(self.amount, self.currency, locale)


# --------------------------------------------------------------------------- conversions


def major_to_minor(
    value: Decimal | str | int, currency: str, *, rounding: bool = False, param: str = "amount"
) -> int:
    """``"12.34"`` usd → ``1234``. Exact: refused with ``amount_precision_exceeded`` when the
    value has more decimals than the currency's minor unit, unless ``rounding=True`` (half-up, once)."""
    exponent = currency_exponent(currency)
    minor = to_decimal(value, param=param).scaleb(exponent)
    if minor == minor.to_integral_value():
        return int(minor)
    if not rounding:
        raise ValidationFailed(
            f"{param} has more than {exponent} decimal places for {currency.lower()}",
            code="amount_precision_exceeded",
            param=param,
        )
    return round_minor(minor)


def minor_to_major(amount: int, currency: str, *, param: str = "amount") -> Decimal:
    """``1234`` usd → ``Decimal("12.34")`` (always with exactly the currency's decimal places)."""
    exponent = currency_exponent(currency)
    return Decimal(_require_int(amount, param=param)).scaleb(-exponent)


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """Locale-aware text for an invoice, from CLDR via Babel, always with the ISO number of decimals.

    ``format_money(123456, "sek", "sv_SE")`` → ``"1\\xa0234,56\\xa0kr"`` (no-break spaces, U+00A0),
    ``format_money(1235, "jpy", "ja_JP")`` → ``"￥1,235"`` (fullwidth yen sign, U+FFE5).
    """
    from babel.core import Locale, UnknownLocaleError  # lazy: cold starts count

    code = normalize_currency(currency)
    value = minor_to_major(amount_minor, code)
    if not isinstance(locale, str):
        raise ValidationFailed(
            "locale must be a string such as 'en_US'", code="invalid_locale", param="locale"
        )
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationFailed(f"unknown locale {locale!r}", code="invalid_locale", param="locale") from None
    pattern: Any = copy.copy(parsed.currency_formats["standard"])
    exponent = _exponents()[code]
    pattern.frac_prec = (exponent, exponent)
    text: str = pattern.apply(value, parsed, currency=code.upper(), currency_digits=False)
    return text


# --------------------------------------------------------------------------- splitting amounts


def _weight(value: object, index: int) -> Fraction:
    param = f"weights.{index}"
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationFailed(f"{param} must be an integer or a Decimal", code="invalid_weight", param=param)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationFailed(f"{param} must be finite", code="invalid_weight", param=param)
    if value < 0:
        raise ValidationFailed(f"{param} must not be negative", code="invalid_weight", param=param)
    return Fraction(value)


def allocate(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts add up to it exactly.

    Largest-remainder method, computed exactly (fractions): each part gets the floor of its exact
    share of ``abs(total)``; the units left over go one each to the largest remainders, ties to
    the earlier index. A negative total is split as its absolute value, then negated, so
    ``allocate(-t, w) == [-x for x in allocate(t, w)]``. A zero weight gets nothing. All weights
    zero is refused unless the total is zero too.
    """
    _require_int(total, param="total")
    exact = [_weight(w, i) for i, w in enumerate(weights)]
    if not exact:
        raise ValidationFailed("weights must not be empty", code="invalid_weight", param="weights")
    weight_sum = sum(exact, Fraction(0))
    if weight_sum == 0:
        if total == 0:
            return [0] * len(exact)
        raise ValidationFailed(
            "cannot allocate a non-zero total over zero weights", code="invalid_weight", param="weights"
        )
    magnitude = abs(total)
    shares = [magnitude * w / weight_sum for w in exact]
    parts = [s.numerator // s.denominator for s in shares]
    left = magnitude - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts if total >= 0 else [-p for p in parts]


def round_exact(value: Fraction) -> int:
    """A ``Fraction`` of minor units rounded by the one rule: half-up, ties away from zero."""
    magnitude = abs(value) + Fraction(1, 2)
    rounded = magnitude.numerator // magnitude.denominator
    return rounded if value >= 0 else -rounded


def apportion(total: int, exact: Sequence[Decimal | Fraction]) -> list[int]:
    """Round each exact amount to an int so the results add up to ``total`` exactly.

    ``total`` must be an integer between the sum of the floors and the sum of the ceilings of
    ``exact`` (for example the half-up rounding of their sum). Every value first takes its floor;
    the units left go one each to the largest fractional parts, ties to the earlier index. Each
    result is thus the floor or the ceiling of its exact value.
    """
    _require_int(total, param="total")
    values = [Fraction(v) for v in exact]
    floors = [v.numerator // v.denominator for v in values]
    left = total - sum(floors)
    fractional = [i for i, v in enumerate(values) if v != floors[i]]
    if left < 0 or left > len(fractional):
        raise ValidationFailed(
            "total is not a rounding of the sum of the amounts", code="allocation_out_of_range", param="total"
        )
    by_remainder = sorted(fractional, key=lambda i: (-(values[i] - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors
