"""How numbers, money and dates read for one customer: one formatter per (locale, currency, zone).

Every document, email and page a customer sees formats through this module (Babel's CLDR data), so
a ``de_DE`` customer reads ``1.234,56 €`` and ``4. Mai 2026`` everywhere, a ``fr_FR`` one
``1 234,56 €`` (with the narrow no-break spaces CLDR puts there) and ``ja`` ``￥1,235``. Money keeps
its ISO 4217 number of decimals; unit prices may have more (``$0.005``) and are shown in full.

Babel is imported lazily: cold starts count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.money import currency_exponent, format_money


def zone_named(name: str | None) -> tzinfo:
    """An IANA zone, UTC when unknown (documents never fail on a zone)."""
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Formatter:
    locale: str
    currency: str
    zone: tzinfo

    def money(self, amount: int) -> str:
        """Minor units in the currency, e.g. ``750000`` usd → ``$7,500.00``."""
        return format_money(amount, self.currency, self.locale)

    def money_or_none(self, amount: int) -> str | None:
        return self.money(amount) if amount else None

    def unit_price(self, minor: str | Decimal | int) -> str:
        """A unit price in minor units that may have decimals: ``"0.5"`` usd cents → ``$0.005``."""
        from babel.numbers import format_currency

        value = Decimal(minor)
        if value == value.to_integral_value():
            return self.money(int(value))
        major = value.scaleb(-currency_exponent(self.currency))
        return str(
            format_currency(
                major,
                self.currency.upper(),
                locale=self.locale,
                currency_digits=True,
                decimal_quantization=False,
            )
        )

    def number(self, value: str | Decimal | int) -> str:
        """A quantity with grouping, all its decimals and none added: ``4000`` → ``4,000``."""
        from babel.numbers import format_decimal

        return str(format_decimal(Decimal(value), locale=self.locale, decimal_quantization=False))

    def percentage(self, value: str | Decimal) -> str:
        """A rate given in percent: ``"20"`` → ``20%`` (``20 %`` in French)."""
        from babel.numbers import format_percent

        return str(format_percent(Decimal(value) / 100, format="#,##0.####%", locale=self.locale))

    def date(self, value: datetime | None, *, format: str = "long") -> str | None:
        """The calendar day of an instant in the customer's zone: ``4. Mai 2026``."""
        from babel.dates import format_date

        if value is None:
            return None
        return str(format_date(value.astimezone(self.zone).date(), format=format, locale=self.locale))

    def date_range(self, start: datetime | None, end: datetime | None) -> str | None:
        """A billing period as the days it covers: the end instant is exclusive, so a period
        ``[Jan 1, Feb 1)`` reads "January 1 – 31, 2027" (Babel's interval format for the locale)."""
        from datetime import timedelta

        from babel.dates import format_interval

        if start is None or end is None:
            return self.date(start or end)
        first = start.astimezone(self.zone).date()
        last = (end.astimezone(self.zone) - timedelta(microseconds=1)).date()
        last = max(last, first)
        if first == last:
            return self.date(start)
        return str(format_interval(first, last, skeleton="yMMMd", locale=self.locale))
