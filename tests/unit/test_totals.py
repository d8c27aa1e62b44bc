"""billing.invoicing.totals: lines → discounts → tax → credits → amount due, in one function."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.discounts import AppliedCoupon, parse_coupon
from billing.errors import CurrencyMismatch, ValidationFailed
from billing.invoicing.totals import InvoiceTotals, PricedLine, compute_totals
from billing.tax import REVERSE_CHARGE_MENTION

FR_VAT = ("eu_fr_vat_standard",)


def worked_example(credit_balance: int = 1000) -> InvoiceTotals:
    """The worked example of docs/pricing-money-tax.md (a French consumer, EUR, VAT 20 % exclusive)."""
    lines = [
        PricedLine.priced(
            id="fee", description="Pro plan, March 2026", currency="eur", quantity=1, amount=4900,
            tax_rate_ids=FR_VAT, plan_code="pro",
        ),
        PricedLine.priced(
            id="calls", description="API calls: 123456 × €0.0004", currency="eur", quantity=123456,
            amount=Decimal(123456) * Decimal("0.04"),  # 4938.24 cents, unrounded
            tax_rate_ids=FR_VAT, plan_code="pro", metric_code="api_calls",
        ),
        PricedLine.priced(
            id="credit", description="Unused Basic plan, 12 of 31 days", currency="eur", quantity=1,
            amount=Decimal(-1900) * 12 / 31,  # −735.48… cents, unrounded
            tax_rate_ids=FR_VAT, plan_code="basic",
        ),
    ]  # fmt: skip
    coupons = [
        AppliedCoupon(parse_coupon({"id": "WELCOME15", "percent_off": "15", "duration": "forever"})),
        AppliedCoupon(
            parse_coupon(
                {
                    "id": "API20",
                    "percent_off": "20",
                    "duration": "forever",
                    "applies_to": {"metrics": ["api_calls"]},
                }
            )
        ),
    ]
    return compute_totals(currency="EUR", lines=lines, coupons=coupons, credit_balance=credit_balance)


def test_worked_example_invoice() -> None:
    t = worked_example()
    # 1. lines, each rounded once: 4900; 4938.24 → 4938; −735.48 → −735
    assert [line.amount for line in t.lines] == [4900, 4938, -735]
    assert t.subtotal == 9103  # 4900 + 4938 − 735
    # 2. discounts: scoped API20 first: 20 % of 4938 = 987.6 → 988, all on "calls" (4938 → 3950 left)
    #    then WELCOME15 on what is left: 4900 + 3950 − 735 = 8115; 15 % = 1217.25 → 1217,
    #    allocated 4900 : 3950 → 673.82 / 543.18 → 674 / 543 (the unit to the larger remainder)
    assert [(c.coupon_id, c.base, c.amount) for c in t.coupons] == [
        ("API20", 4938, 988),
        ("WELCOME15", 8115, 1217),
    ]
    assert t.coupons[1].lines == {"fee": 674, "calls": 543}
    assert [line.discount for line in t.lines] == [674, 1531, 0]  # 988 + 543 = 1531
    assert t.discount == 2205  # 988 + 1217
    # 3. tax on amounts after discounts: 4226, 3407, −735 → 845.2 + 681.4 − 147 = 1379.6 → 1380
    assert [line.taxable_amount for line in t.lines] == [4226, 3407, -735]
    (vat,) = t.taxes
    assert (vat.rate_id, vat.taxable_amount, vat.exact, vat.amount) == (
        "eu_fr_vat_standard",
        6898,
        Decimal("1379.6"),
        1380,
    )
    # apportioned: floors 845 + 681 − 147 = 1379; one unit to the largest remainder (.4, "calls")
    assert [line.tax_exclusive for line in t.lines] == [845, 682, -147]
    # 4. total = subtotal − discount + exclusive tax
    assert t.total == 8278  # 9103 − 2205 + 1380
    # 5. credits: 1000 of balance, all usable
    assert (t.credit_balance, t.credit_applied, t.credit_created, t.credit_remaining) == (1000, 1000, 0, 0)
    # 6. amount due
    assert t.amount_due == 7278  # 8278 − 1000
    # every line total adds up to the invoice total
    assert [line.total for line in t.lines] == [5071, 4089, -882]  # 4226 + 845, 3407 + 682, −735 − 147
    assert sum(line.total for line in t.lines) == t.total


def test_credit_larger_than_the_total() -> None:
    t = worked_example(credit_balance=10000)
    assert (t.credit_applied, t.credit_remaining, t.amount_due) == (8278, 1722, 0)  # 10000 − 8278


def test_no_credit() -> None:
    t = worked_example(credit_balance=0)
    assert (t.credit_applied, t.amount_due) == (0, 8278)


def line(
    line_id: str,
    amount: int | str | Decimal,
    *,
    currency: str = "usd",
    tax_rate_ids: tuple[str, ...] = (),
    tax_inclusive: bool = False,
) -> PricedLine:
    return PricedLine.priced(
        id=line_id,
        description=line_id,
        currency=currency,
        quantity=1,
        amount=amount,
        tax_rate_ids=tax_rate_ids,
        tax_inclusive=tax_inclusive,
    )


def test_negative_total_becomes_customer_credit() -> None:
    lines = [line("new", 1000), line("unused_old", -2500)]
    t = compute_totals(currency="usd", lines=lines, credit_balance=300)
    assert t.total == -1500  # 1000 − 2500
    # nothing to pay; the 1500 owed to the customer joins the balance
    assert (t.credit_applied, t.credit_created, t.credit_remaining, t.amount_due) == (0, 1500, 1800, 0)


def test_inclusive_tax_is_not_added_to_the_total() -> None:
    lines = [line("a", 12000, tax_rate_ids=FR_VAT, tax_inclusive=True, currency="eur")]
    t = compute_totals(currency="eur", lines=lines)
    assert (t.subtotal, t.tax_inclusive, t.tax_exclusive, t.total) == (
        12000,
        2000,
        0,
        12000,
    )  # 12000 × 20/120 inside


def test_inclusive_tax_follows_the_discount() -> None:
    lines = [line("a", 12000, tax_rate_ids=FR_VAT, tax_inclusive=True, currency="eur")]
    coupon = AppliedCoupon(parse_coupon({"id": "half", "percent_off": "50", "duration": "once"}))
    t = compute_totals(currency="eur", lines=lines, coupons=[coupon])
    assert (t.discount, t.tax_inclusive, t.total) == (6000, 1000, 6000)  # (12000 − 6000) × 20 / 120 = 1000


def test_reverse_charge_invoice_carries_the_mention() -> None:
    t = compute_totals(
        currency="eur", lines=[line("a", 50000, tax_rate_ids=("eu_reverse_charge",), currency="eur")]
    )
    assert (t.tax_exclusive, t.total) == (0, 50000)
    assert t.lines[0].legal_mentions == (REVERSE_CHARGE_MENTION,)
    assert t.legal_mentions == (REVERSE_CHARGE_MENTION,)


def test_two_rates_and_rounding_per_rate() -> None:
    lines = [
        line("a", "3333.5", tax_rate_ids=("ca_gst", "ca_qc_qst"), currency="cad"),  # 3333.5 → 3334
        line("b", 1, tax_rate_ids=("ca_gst", "ca_qc_qst"), currency="cad"),
    ]
    t = compute_totals(currency="cad", lines=lines)
    # GST: 3334 × 5 % + 1 × 5 % = 166.7 + 0.05 = 166.75 → 167
    # QST: 3334 × 9.975 % + 1 × 9.975 % = 332.5665 + 0.09975 = 332.66625 → 333
    assert [(r.rate_id, r.amount) for r in t.taxes] == [("ca_gst", 167), ("ca_qc_qst", 333)]
    assert t.total == 3335 + 167 + 333  # = 3835


def test_empty_invoice() -> None:
    t = compute_totals(currency="jpy", lines=[], credit_balance=5)
    assert (t.subtotal, t.total, t.amount_due, t.credit_remaining) == (0, 0, 0, 5)


def test_lines_in_another_currency_are_refused() -> None:
    with pytest.raises(CurrencyMismatch) as info:
        compute_totals(currency="usd", lines=[line("a", 100), line("b", 100, currency="eur")])
    assert (info.value.code, info.value.param) == ("currency_mismatch", "lines.1.currency")


def test_a_line_rounded_twice_or_wrongly_is_refused() -> None:
    bad = PricedLine(
        id="a", description="a", currency="usd", quantity=Decimal(1), amount=Decimal("2.5"), amount_minor=2
    )
    with pytest.raises(ValidationFailed) as info:
        compute_totals(currency="usd", lines=[bad])
    # 2.5 rounds half-up to 3, not 2 (banker's rounding)
    assert (info.value.code, info.value.param) == ("line_amount_mismatch", "lines.0.amount_minor")


@pytest.mark.parametrize("balance", [-1, Decimal(5), True])
def test_invalid_credit_balance(balance: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        compute_totals(currency="usd", lines=[], credit_balance=balance)  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == ("invalid_credit_balance", "credit_balance")


def test_duplicate_line_ids_are_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        compute_totals(currency="usd", lines=[line("a", 1), line("a", 2)])
    assert (info.value.code, info.value.param) == ("duplicate_line_id", "lines.1.id")


def test_unknown_invoice_currency() -> None:
    with pytest.raises(ValidationFailed) as info:
        compute_totals(currency="abc", lines=[])
    assert (info.value.code, info.value.param) == ("unknown_currency", "currency")
