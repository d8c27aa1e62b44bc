"""How invoice lines read for customers: currency, not minor units; one period; a unit price."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from billing import i18n
from billing.formatting import Formatter, zone_named
from billing.invoicing import wording
from billing.models.invoices import InvoiceLine
from billing.rating import parse_charge, rate

EN = i18n.gettext_for("en")
USD = Formatter(locale="en", currency="usd", zone=zone_named("UTC"))
JAN = datetime(2027, 1, 1, tzinfo=UTC)
FEB = datetime(2027, 2, 1, tzinfo=UTC)


def usage_line(definition: dict[str, object], quantity: int | str, **fields: object) -> InvoiceLine:
    """A usage line as the invoice worker stores it: the aggregation first, then the model's entries."""
    result = rate(parse_charge(definition), quantity=Decimal(quantity))
    breakdown = [
        {"kind": "aggregation", "quantity": str(quantity), "explanation": "sum of calls over 2 events"}
    ]
    breakdown += [dict(e.to_dict()) for e in result.breakdown]
    values: dict[str, object] = {
        "id": "il_1", "kind": "usage", "description": "Requests", "quantity": str(quantity),
        "amount": result.amount_minor, "amount_exact": str(result.amount), "period_start": JAN,
        "period_end": FEB, "breakdown": breakdown,
    }  # fmt: skip
    values.update(fields)
    return InvoiceLine.model_validate(values)


def test_the_issue_example_a_graduated_charge_with_free_units():
    # 4,000 requests: the first 1,000 free, then 3,000 × 0.5¢ = 1,500¢ = $15.00
    line = usage_line(
        {"model": "graduated", "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": None, "unit_amount_decimal": "0.5"}]},
        4000,
    )  # fmt: skip
    assert line.amount == 1500
    assert wording.line_details(line, USD, EN) == ["First 1,000 free, then 3,000 × $0.005"]
    assert wording.unit_price(line, USD) == "$0.005"  # one paid rate: the unit price column says it
    assert all("sum of" not in d and "1500" not in d for d in wording.line_details(line, USD, EN))


def test_a_fixed_fee_reads_quantity_times_price_per_interval():
    line = InvoiceLine(
        id="il_1", kind="fixed_fee", description="Pro", quantity="2", unit_amount_decimal="75000",
        amount=150_000, amount_exact="150000", period_start=JAN, period_end=FEB,
        breakdown=[{"kind": "fixed_fee", "unit_amount": 75000, "quantity": 2, "interval": "month",
                    "in_advance": True, "explanation": "2 × 75000 per month, billed in advance"}],
    )  # fmt: skip
    assert wording.line_details(line, USD, EN) == ["2 × $750.00 per month, billed in advance"]
    assert wording.unit_price(line, USD) == "$750.00"
    assert wording.line_title(line, EN) == "Pro"


def test_an_old_fee_line_loses_its_repeated_period_and_a_proration_says_what_it_is():
    old = InvoiceLine(
        id="il_1", kind="fixed_fee", description="Pro × 1 (2027-01-01 – 2027-02-01)", quantity="1",
        amount=100, amount_exact="100", period_start=JAN, period_end=FEB,
    )  # fmt: skip
    assert wording.line_title(old, EN) == "Pro × 1"
    credit = InvoiceLine(
        id="il_2", kind="proration", description="Unused time on Pro", quantity="1", amount=-5000,
        amount_exact="-5000", period_start=JAN, period_end=FEB,
        breakdown=[{"kind": "proration", "proration_kind": "credit", "plan_name": "Pro", "label": "unused",
                    "days": 15, "days_in_period": 31, "explanation": "15 of 31 days"}],
    )  # fmt: skip
    assert wording.line_title(credit, EN) == "Unused time on Pro"
    assert wording.line_details(credit, USD, EN) == ["15 of 31 days"]


def test_several_tiers_say_which_units_each_prices():
    # graduated: 1-100 at $1.00, 101-1,000 at $0.50 (+ $5.00 flat), above at $0.10; 1,500 units
    line = usage_line(
        {"model": "graduated", "tiers": [
            {"up_to": 100, "unit_amount": 100},
            {"up_to": 1000, "unit_amount": 50, "flat_amount": 500},
            {"up_to": None, "unit_amount": 10}]},
        1500,
    )  # fmt: skip
    assert wording.line_details(line, USD, EN) == [
        "Up to 100: 100 × $1.00",
        "Above 100, up to 1,000: 900 × $0.50 + $5.00 flat",
        "Above 1,000, up to 1,500: 500 × $0.10",
    ]
    assert wording.unit_price(line, USD) is None  # several prices: the details carry them


def test_package_percentage_and_volume_lines():
    package = usage_line(
        {"model": "package", "unit_amount": 500, "package_size": 1000, "free_units": 100}, 2500
    )
    assert wording.line_details(package, USD, EN) == ["100 free", "2,400 in 3 packages × $5.00"]
    # 2.9% of $1,234.00 (123,400¢) = 3,578.6¢
    percentage = usage_line({"model": "percentage", "rate": "2.9"}, 123_400)
    assert wording.line_details(percentage, USD, EN) == ["2.9% of $1,234.00"]
    volume = usage_line(
        {"model": "volume", "tiers": [{"up_to": 1000, "unit_amount": 2}, {"up_to": None, "unit_amount": 1}]},
        5000,
    )
    assert wording.line_details(volume, USD, EN) == ["5,000 × $0.01"]
    assert wording.unit_price(volume, USD) == "$0.01"


def test_details_follow_the_customers_language_and_formats():
    line = usage_line(
        {"model": "graduated", "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": None, "unit_amount_decimal": "0.5"}]},
        4000,
    )  # fmt: skip
    euros = Formatter(locale="de_DE", currency="eur", zone=zone_named("Europe/Berlin"))
    (text,) = wording.line_details(line, euros, i18n.gettext_for("de_DE"))
    assert "1.000" in text and "3.000" in text and "0,005\xa0€" in text
