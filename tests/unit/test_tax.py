"""billing.tax: shipped rates, overrides, jurisdiction and reverse charge, inclusive/exclusive, rounding per rate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import ValidationFailed
from billing.tax import (
    REVERSE_CHARGE_MENTION,
    TaxableLine,
    TaxCustomer,
    TaxRate,
    TaxStatus,
    Treatment,
    compute_taxes,
    default_rates,
    determine_tax,
    parse_tax_rate,
    tax_rates,
)
from billing.tax.rate_data import EU_MEMBER_STATES

# --------------------------------------------------------------------------- shipped rates


@pytest.mark.parametrize(
    ("rate_id", "percentage"),
    [
        ("eu_de_vat_standard", "19"),
        ("eu_fr_vat_standard", "20"),
        ("eu_fi_vat_standard", "25.5"),  # since 2024-09-01
        ("eu_ee_vat_standard", "24"),  # since 2025-07-01
        ("eu_ro_vat_standard", "21"),  # since 2025-08-01
        ("eu_sk_vat_standard", "23"),  # since 2025-01-01
        ("eu_lu_vat_standard", "17"),
        ("eu_hu_vat_standard", "27"),
        ("eu_gr_vat_standard", "24"),
        ("gb_vat_standard", "20"),
        ("no_vat_standard", "25"),
        ("ch_vat_standard", "8.1"),  # since 2024-01-01
        ("au_gst", "10"),
        ("nz_gst", "15"),
        ("jp_consumption_tax_standard", "10"),
        ("in_gst_standard", "18"),
        ("sg_gst", "9"),  # since 2024-01-01
        ("ca_gst", "5"),
        ("ca_on_hst", "13"),
        ("ca_ns_hst", "14"),  # since 2025-04-01
        ("ca_nb_hst", "15"),
        ("ca_nl_hst", "15"),
        ("ca_pe_hst", "15"),
        ("ca_bc_pst", "7"),
        ("ca_mb_pst", "7"),
        ("ca_sk_pst", "6"),
        ("ca_qc_qst", "9.975"),
        ("eu_reverse_charge", "0"),
    ],
)
def test_shipped_rates(rate_id: str, percentage: str) -> None:
    assert default_rates()[rate_id].percentage == Decimal(percentage)


def test_every_eu_member_state_has_a_standard_rate() -> None:
    rates = default_rates()
    assert len(EU_MEMBER_STATES) == 27
    for country in EU_MEMBER_STATES:
        rate = rates[f"eu_{country.lower()}_vat_standard"]
        assert rate.country == country
        assert Decimal(15) <= rate.percentage <= Decimal(28)  # the directive's floor; Hungary's 27 is the top
        assert rate.effective_from is not None


def test_default_rates_are_read_only() -> None:
    with pytest.raises(TypeError):
        default_rates()["eu_de_vat_standard"] = default_rates()["eu_fr_vat_standard"]  # type: ignore[index]


# --------------------------------------------------------------------------- overrides


def test_overrides_replace_and_extend() -> None:
    table = tax_rates(
        [
            {
                "id": "eu_de_vat_standard",
                "country": "DE",
                "name": "USt",
                "percentage": "16",
                "effective_from": "2020-07-01",
            },
            TaxRate(
                id="us_ny_sales_tax", country="US", region="NY", name="Sales tax", percentage=Decimal("8.875")
            ),
        ]
    )
    assert table["eu_de_vat_standard"].percentage == Decimal(16)
    assert table["us_ny_sales_tax"].region == "NY"
    assert default_rates()["eu_de_vat_standard"].percentage == Decimal(19)  # defaults untouched
    assert set(tax_rates([], include_defaults=False)) == set()


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "100.5"}, "tax_rate_out_of_range", "rates.0.percentage"),
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "-1"}, "tax_rate_out_of_range", "rates.0.percentage"),
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": 19.0}, "invalid_decimal", "rates.0.percentage"),
        ({"id": "X-VAT", "country": "DE", "name": "VAT", "percentage": "19"}, "invalid_tax_rate_id", "rates.0.id"),
        ({"id": "x_vat", "country": "DEU", "name": "VAT", "percentage": "19"}, "invalid_country", "rates.0.country"),
        ({"id": "x_vat", "country": "DE", "name": "", "percentage": "19"}, "invalid_tax_rate_name", "rates.0.name"),
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "19", "effective_from": "soon"}, "invalid_date", "rates.0.effective_from"),
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "19", "compound": True}, "unknown_field", "rates.0.compound"),
        ({"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "19", "replaces_national": True}, "invalid_replaces_national", "rates.0.region"),
    ],
)  # fmt: skip
def test_invalid_rate_definitions_name_the_field(raw: dict[str, object], code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        tax_rates([raw])
    assert (info.value.code, info.value.param) == (code, param)


def test_duplicate_override_is_refused() -> None:
    rate = {"id": "x_vat", "country": "DE", "name": "VAT", "percentage": "19"}
    with pytest.raises(ValidationFailed) as info:
        tax_rates([rate, rate])
    assert (info.value.code, info.value.param) == ("duplicate_tax_rate", "rates.1.id")


def test_parse_tax_rate_normalises() -> None:
    rate = parse_tax_rate(
        {"id": "ca_yt_none", "country": "ca", "region": "yt", "name": "none", "percentage": 0}
    )
    assert (rate.country, rate.region, rate.percentage) == ("CA", "YT", Decimal(0))


# --------------------------------------------------------------------------- jurisdiction


def treatment(seller: str = "DE", **customer: object) -> tuple[Treatment, tuple[str, ...], str | None]:
    result = determine_tax(seller_country=seller, customer=TaxCustomer(**customer))  # type: ignore[arg-type]
    return result.treatment, result.rate_ids, result.legal_mention


def test_eu_consumer_pays_the_vat_of_their_country() -> None:
    assert treatment(country="FR") == (Treatment.TAXABLE, ("eu_fr_vat_standard",), None)


def test_eu_business_in_another_member_state_is_reverse_charged() -> None:
    assert treatment(country="FR", vat_id="FR 12 345678901") == (
        Treatment.REVERSE_CHARGE,
        ("eu_reverse_charge",),
        "Reverse charge – VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)",
    )


def test_greek_vat_ids_start_with_el() -> None:
    assert treatment(country="GR", vat_id="EL123456789")[0] is Treatment.REVERSE_CHARGE


def test_domestic_business_pays_vat() -> None:
    assert treatment(country="DE", vat_id="DE123456789") == (Treatment.TAXABLE, ("eu_de_vat_standard",), None)


def test_non_eu_vat_id_is_not_reverse_charged_in_the_eu_sense() -> None:
    assert treatment(country="NO", vat_id="NO123456789MVA")[:2] == (Treatment.TAXABLE, ("no_vat_standard",))


def test_seller_outside_the_eu_does_not_reverse_charge() -> None:
    assert treatment(seller="US", country="FR", vat_id="FR12345678901")[:2] == (
        Treatment.TAXABLE,
        ("eu_fr_vat_standard",),
    )


def test_exempt_customer_pays_no_tax() -> None:
    assert treatment(country="FR", tax_status="exempt") == (Treatment.EXEMPT, (), None)
    assert TaxCustomer(country="FR", tax_status="exempt").tax_status is TaxStatus.EXEMPT  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("region", "rate_ids"),
    [
        ("ON", ("ca_on_hst",)),  # HST replaces GST
        ("NS", ("ca_ns_hst",)),
        ("BC", ("ca_gst", "ca_bc_pst")),
        ("QC", ("ca_gst", "ca_qc_qst")),
        ("MB", ("ca_gst", "ca_mb_pst")),
        ("AB", ("ca_gst",)),  # no provincial sales tax
        ("yt", ("ca_gst",)),
    ],
)
def test_canada_by_province(region: str, rate_ids: tuple[str, ...]) -> None:
    assert treatment(seller="CA", country="CA", region=region)[:2] == (Treatment.TAXABLE, rate_ids)


def test_canada_needs_a_province() -> None:
    with pytest.raises(ValidationFailed) as info:
        treatment(seller="CA", country="CA")
    assert (info.value.code, info.value.param) == ("tax_region_required", "customer.region")
    with pytest.raises(ValidationFailed) as info:
        treatment(seller="CA", country="CA", region="ZZ")
    assert (info.value.code, info.value.param) == ("invalid_region", "customer.region")


def test_jurisdiction_without_a_rate_is_explicitly_not_collected() -> None:
    assert treatment(seller="US", country="US", region="TX") == (Treatment.NOT_COLLECTED, (), None)


@pytest.mark.parametrize(
    ("customer", "code", "param"),
    [
        ({"country": "FRA"}, "invalid_country", "customer.country"),
        ({"country": "FR", "vat_id": "123"}, "invalid_vat_id", "customer.vat_id"),
        ({"country": "FR", "tax_status": "reverse"}, "invalid_tax_status", "customer.tax_status"),
    ],
)
def test_invalid_customers(customer: dict[str, object], code: str, param: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        TaxCustomer(**customer)  # type: ignore[arg-type]
    assert (info.value.code, info.value.param) == (code, param)


# --------------------------------------------------------------------------- computing


def test_exclusive_tax_rounds_once_per_rate_and_apportions_to_lines() -> None:
    lines = [TaxableLine(f"l{i}", 333, ("eu_fr_vat_standard",)) for i in range(3)]
    result = compute_taxes(lines)
    # each line: 333 × 20 % = 66.6; sum 199.8 → 200 (rounding each line first would give 67 × 3 = 201)
    (rate,) = result.rates
    assert (rate.taxable_amount, rate.exact, rate.amount) == (999, Decimal("199.8"), 200)
    # floors 66 × 3 = 198; 2 units to the largest remainders (.6 each, ties to the earlier lines)
    assert [t.amount for t in result.lines] == [67, 67, 66]
    assert result.exclusive_total == 200
    assert result.inclusive_total == 0


def test_inclusive_price_contains_the_tax() -> None:
    result = compute_taxes([TaxableLine("l", 12000, ("eu_fr_vat_standard",), inclusive=True)])
    assert result.inclusive_total == 2000  # 12000 × 20 / 120
    assert result.exclusive_total == 0
    result = compute_taxes([TaxableLine("l", 1000, ("eu_de_vat_standard",), inclusive=True)])
    assert result.inclusive_total == 160  # 1000 × 19 / 119 = 159.66 → 160


def test_two_rates_on_one_exclusive_line() -> None:
    result = compute_taxes([TaxableLine("l", 10000, ("ca_gst", "ca_qc_qst"))])
    # GST 10000 × 5 % = 500; QST 10000 × 9.975 % = 997.5 → 998 (half-up)
    assert [(t.rate_id, t.amount) for t in result.lines] == [("ca_gst", 500), ("ca_qc_qst", 998)]
    assert result.exclusive_total == 1498


def test_two_rates_on_one_inclusive_line_share_the_divisor() -> None:
    result = compute_taxes([TaxableLine("l", 11200, ("ca_gst", "ca_bc_pst"), inclusive=True)])
    # net = 11200 × 100 / 112 = 10000; GST 11200 × 5 / 112 = 500; PST 11200 × 7 / 112 = 700
    assert [t.amount for t in result.lines] == [500, 700]


def test_rounding_uses_exact_fractions() -> None:
    lines = [TaxableLine(f"l{i}", 1, ("eu_fr_vat_standard",), inclusive=True) for i in range(3)]
    result = compute_taxes(lines)
    # each 1 × 20 / 120 = 1/6 (never exact in decimal); 3/6 = 0.5 exactly → half-up → 1
    assert result.inclusive_total == 1
    assert sum(t.amount for t in result.lines) == 1


def test_reverse_charge_line_is_zero_with_its_legal_mention() -> None:
    result = compute_taxes([TaxableLine("l", 50000, ("eu_reverse_charge",))])
    (line,) = result.lines
    assert (line.amount, line.legal_mention) == (0, REVERSE_CHARGE_MENTION)
    assert result.rates[0].legal_mention == REVERSE_CHARGE_MENTION


def test_same_rate_inclusive_and_exclusive_are_totalled_apart() -> None:
    lines = [
        TaxableLine("a", 1000, ("eu_fr_vat_standard",)),
        TaxableLine("b", 1200, ("eu_fr_vat_standard",), inclusive=True),
    ]
    result = compute_taxes(lines)
    assert [(r.inclusive, r.amount) for r in result.rates] == [
        (False, 200),
        (True, 200),
    ]  # 1000 × 20 %; 1200 × 20/120


def test_credit_lines_have_negative_tax() -> None:
    lines = [
        TaxableLine("charge", 1161, ("eu_fr_vat_standard",)),
        TaxableLine("credit", -387, ("eu_fr_vat_standard",)),
    ]
    result = compute_taxes(lines)
    # 232.2 + (−77.4) = 154.8 → 155; lines: floors 232, −78 = 154, one unit → larger remainder .6 (credit)
    assert result.exclusive_total == 155
    assert [t.amount for t in result.lines] == [232, -77]


def test_lines_without_rates_have_no_tax() -> None:
    result = compute_taxes([TaxableLine("l", 1000)])
    assert (result.lines, result.rates, result.exclusive_total) == ((), (), 0)


def test_unknown_rate_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        compute_taxes([TaxableLine("l", 1000, ("eu_xx_vat_standard",))])
    assert (info.value.code, info.value.param) == ("unknown_tax_rate", "lines.0.tax_rate_ids.0")


def test_same_rate_twice_on_a_line_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        compute_taxes([TaxableLine("l", 1000, ("ca_gst", "ca_gst"))])
    assert (info.value.code, info.value.param) == ("duplicate_tax_rate", "lines.0.tax_rate_ids.1")


def test_override_table_is_used() -> None:
    table = tax_rates([{"id": "eu_de_vat_standard", "country": "DE", "name": "USt", "percentage": "16"}])
    result = compute_taxes([TaxableLine("l", 1000, ("eu_de_vat_standard",))], rates=table)
    assert result.exclusive_total == 160  # 1000 × 16 %
