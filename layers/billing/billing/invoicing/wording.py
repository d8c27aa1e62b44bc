"""How an invoice line reads for the customer: a title, one period, a unit price, and short details
in the customer's currency and language ("2 × $750.00 per month", "First 1,000 free, then 3,000 ×
$0.005"), never minor units or the developer's explanation.

The full breakdown (every tier, the aggregation, the exact unrounded amounts, the English
``explanation`` strings) stays on the line and in the API (``GET /v1/invoices/{id}/lines``) for
finance; this module only chooses what a customer needs to check the amount. It is pure: it reads a
line's structured breakdown entries (``kind``, ``units``, ``unit_amount``, ``rate``...) and writes
through a ``Formatter`` and a ``gettext``, so every document (HTML, PDF, emails, portal) words a
line the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from billing.formatting import Formatter
from billing.i18n import Gettext
from billing.models.invoices import InvoiceLine

Entry = Mapping[str, Any]
_TRAILING_PARENTHESIS = re.compile(r"\s+\([^()]*\)$")


def line_title(line: InvoiceLine, _: Gettext) -> str:
    """The line's name: the plan, metric or product as the seller named it, without the period
    (printed once, on its own) and, for prorations, what the proration is."""
    entry = _first(line.breakdown, "proration")
    if line.kind == "proration" and entry is not None and entry.get("plan_name"):
        plan = str(entry["plan_name"])
        label = entry.get("label")
        if label == "used":
            return _("Used time on %(plan)s", plan=plan)
        if label == "unused":
            return _("Unused time on %(plan)s", plan=plan)
        if label == "remaining":
            return _("Remaining time on %(plan)s", plan=plan)
    title = line.description
    if line.period_start is not None and line.kind in ("fixed_fee", "proration"):
        # Invoices issued before the period moved out of the description: drop its copy.
        title = _TRAILING_PARENTHESIS.sub("", title)
    return title


def unit_price(line: InvoiceLine, fmt: Formatter) -> str | None:
    """The price of one unit when one price applies to the line (a fee, a one-off line, a usage
    line priced at a single rate), else None: the details then say how the amount was reached."""
    if line.unit_amount_decimal is not None:
        return fmt.unit_price(line.unit_amount_decimal)
    priced = [
        e
        for e in line.breakdown
        if e.get("kind") in ("units", "tier")
        and _dec(e.get("units")) > 0
        and _dec(e.get("unit_amount")) > 0
        and e.get("rate") is None
    ]
    if len(priced) == 1 and not _dec(priced[0].get("flat_amount")):
        return fmt.unit_price(str(priced[0]["unit_amount"]))
    return None


def line_details(line: InvoiceLine, fmt: Formatter, _: Gettext) -> list[str]:
    """Short sentences that explain the amount to the customer, in order."""
    entries = list(line.breakdown)
    money_units = any(e.get("rate") is not None for e in entries)
    """Percentage charges count money (the amounts they take a share of), not units."""
    summary = _free_then_paid(entries, fmt, _)
    out: list[str] = []
    if summary is not None:
        out.append(summary)
        entries = [e for e in entries if e.get("kind") != "tier"]
    tiered = sum(1 for e in entries if e.get("kind") == "tier") > 1
    for raw in entries:
        entry = {**raw, "tiered": True} if tiered and raw.get("kind") == "tier" else raw
        word = _WORDS.get(str(entry.get("kind")))
        text = word(entry, fmt, _, money_units) if word is not None else None
        if text:
            out.append(text)
    return out


# --------------------------------------------------------------------------- per kind of entry


def _dec(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


def _first(entries: Sequence[Entry], kind: str) -> Entry | None:
    return next((e for e in entries if e.get("kind") == kind), None)


def _quantity(value: Any, fmt: Formatter, money_units: bool) -> str:
    return fmt.unit_price(str(_dec(value))) if money_units else fmt.number(_dec(value))


def _exact(value: Any, fmt: Formatter) -> str:
    """An unrounded amount of minor units (a tier's share), with the decimals it has."""
    return fmt.unit_price(str(_dec(value)))


def _free_then_paid(entries: Sequence[Entry], fmt: Formatter, _: Gettext) -> str | None:
    """A graduated charge whose first tier is free and one paid tier is reached: one sentence."""
    tiers = [e for e in entries if e.get("kind") == "tier"]
    if len(tiers) != 2 or any(e.get("rate") is not None for e in tiers):
        return None
    free, paid = tiers
    if _dec(free.get("unit_amount")) or _dec(free.get("flat_amount")) or _dec(paid.get("flat_amount")):
        return None
    if _dec(paid.get("units")) <= 0 or _dec(paid.get("unit_amount")) <= 0:
        return None
    return _(
        "First %(free)s free, then %(units)s × %(price)s",
        free=fmt.number(_dec(free.get("units"))),
        units=fmt.number(_dec(paid.get("units"))),
        price=fmt.unit_price(str(paid["unit_amount"])),
    )


def _fixed_fee(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    if entry.get("count") is not None:  # a percentage charge's fee per transaction
        return _(
            "%(count)s transactions × %(price)s",
            count=fmt.number(entry["count"]),
            price=fmt.unit_price(str(entry.get("unit_amount") or 0)),
        )
    price = fmt.unit_price(str(entry.get("unit_amount") or 0))
    quantity = fmt.number(_dec(entry.get("quantity") or 1))
    interval = entry.get("interval")
    per = {
        "day": _("%(quantity)s × %(price)s per day", quantity=quantity, price=price),
        "week": _("%(quantity)s × %(price)s per week", quantity=quantity, price=price),
        "month": _("%(quantity)s × %(price)s per month", quantity=quantity, price=price),
        "quarter": _("%(quantity)s × %(price)s per quarter", quantity=quantity, price=price),
        "year": _("%(quantity)s × %(price)s per year", quantity=quantity, price=price),
    }.get(str(interval), _("%(quantity)s × %(price)s", quantity=quantity, price=price))
    if entry.get("in_advance") is True:
        return _("%(fee)s, billed in advance", fee=per)
    return per


def _proration(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    return _(
        "%(days)s of %(total)s days",
        days=fmt.number(entry.get("days") or 0),
        total=fmt.number(entry.get("days_in_period") or 0),
    )


def _units(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    return _(
        "%(units)s × %(price)s",
        units=fmt.number(_dec(entry.get("units"))),
        price=fmt.unit_price(str(entry.get("unit_amount") or 0)),
    )


def _free(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    units = _dec(entry.get("units"))
    count = entry.get("count")
    if money_units:
        if count:
            return _(
                "%(count)s free transactions, %(amount)s free",
                count=fmt.number(count),
                amount=_quantity(units, fmt, True),
            )
        return _("%(amount)s free", amount=_quantity(units, fmt, True)) if units else None
    return _("%(units)s free", units=fmt.number(units)) if units else None


def _package(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    packages = entry.get("count") or 0
    if not packages:
        return None
    return _(
        "%(units)s in %(packages)s packages × %(price)s",
        units=fmt.number(_dec(entry.get("units"))),
        packages=fmt.number(packages),
        price=fmt.unit_price(str(entry.get("unit_amount") or 0)),
    )


def _tier(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    """One tier's share; ``tiered`` entries (set by ``line_details`` when a line reached several
    tiers) also say which units the tier covers."""
    units = _dec(entry.get("units"))
    flat = _dec(entry.get("flat_amount"))
    if units <= 0 and not flat:
        return None
    price = _dec(entry.get("unit_amount"))
    if entry.get("rate") is not None:
        share = _(
            "%(rate)s of %(amount)s",
            rate=fmt.percentage(str(entry["rate"])),
            amount=_quantity(units, fmt, True),
        )
    elif price:
        share = _("%(units)s × %(price)s", units=fmt.number(units), price=fmt.unit_price(str(price)))
    elif units > 0:
        share = _("%(units)s free", units=fmt.number(units))
    else:
        share = ""
    if flat:
        share = (
            _("%(share)s + %(flat)s flat", share=share, flat=_exact(flat, fmt))
            if share
            else _("%(flat)s flat", flat=_exact(flat, fmt))
        )
    if not entry.get("tiered") or entry.get("from_units") is None:
        return share
    low, high = _dec(entry.get("from_units")), _dec(entry.get("to_units"))
    if low == 0:
        return _("Up to %(last)s: %(share)s", last=_quantity(high, fmt, money_units), share=share)
    return _(
        "Above %(first)s, up to %(last)s: %(share)s",
        first=_quantity(low, fmt, money_units),
        last=_quantity(high, fmt, money_units),
        share=share,
    )


def _percentage(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    return _(
        "%(rate)s of %(amount)s",
        rate=fmt.percentage(str(entry.get("rate") or 0)),
        amount=_quantity(entry.get("units"), fmt, True),
    )


def _clamp(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    count = fmt.number(entry.get("count") or 0)
    limit = fmt.unit_price(str(entry.get("unit_amount") or 0))
    if entry.get("kind") == "transaction_minimum":
        return _("%(count)s transactions raised to the minimum of %(limit)s", count=count, limit=limit)
    return _("%(count)s transactions capped at the maximum of %(limit)s", count=count, limit=limit)


def _minimum_shortfall(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    return _("Difference to the minimum charge for the period")


def _minimum_commitment(entry: Entry, fmt: Formatter, _: Gettext, money_units: bool) -> str | None:
    return _(
        "Minimum commitment %(minimum)s; charges this period %(spend)s",
        minimum=fmt.unit_price(str(entry.get("minimum") or 0)),
        spend=_exact(entry.get("spend"), fmt),
    )


_WORDS: dict[str, Callable[[Entry, Formatter, Gettext, bool], str | None]] = {
    "fixed_fee": _fixed_fee,
    "proration": _proration,
    "units": _units,
    "free": _free,
    "package": _package,
    "tier": _tier,
    "percentage": _percentage,
    "transaction_minimum": _clamp,
    "transaction_maximum": _clamp,
    "minimum_shortfall": _minimum_shortfall,
    "minimum_commitment": _minimum_commitment,
}
"""``aggregation`` (how the quantity was counted) and entries without a kind (one-off lines, credit
note lines) add nothing the quantity and unit price columns do not already say."""
