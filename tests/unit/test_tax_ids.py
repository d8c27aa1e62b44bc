"""Tax id formats and checksums (billing.tax_ids), and country codes (billing.countries)."""

from __future__ import annotations

import pytest

from billing.countries import normalize_country
from billing.errors import ValidationFailed
from billing.tax_ids import EU_VAT_FORMATS, EXAMPLES, VALIDATORS, normalize_tax_id

# (national part of a well-formed number, malformed one) per EU VAT prefix
EU_VAT = {
    "AT": ("U12345678", "12345678"),  # U + 8 digits
    "BE": ("0123456789", "2123456789"),  # 10 digits starting 0 or 1
    "BG": ("1234567890", "12345678"),  # 9 or 10 digits
    "CY": ("12345678L", "123456789"),  # 8 digits + letter
    "CZ": ("12345678", "1234567"),  # 8 to 10 digits
    "DE": ("123456789", "12345678"),  # 9 digits
    "DK": ("12345678", "1234567A"),  # 8 digits
    "EE": ("123456789", "1234567890"),  # 9 digits
    "EL": ("123456789", "12345678"),  # 9 digits (Greece)
    "ES": ("X1234567X", "X123456"),  # letter/digit + 7 digits + letter/digit
    "FI": ("12345678", "123456789"),  # 8 digits
    "FR": ("AB123456789", "I0123456789"),  # 2 characters (no I/O) + 9 digits
    "HR": ("12345678901", "1234567890"),  # 11 digits
    "HU": ("12345678", "123456789"),  # 8 digits
    "IE": ("1234567WA", "1234567"),  # 7 digits + 1-2 letters, or the old 8-character form
    "IT": ("12345678901", "1234567890A"),  # 11 digits
    "LT": ("123456789012", "1234567890"),  # 9 or 12 digits
    "LU": ("12345678", "1234567"),  # 8 digits
    "LV": ("12345678901", "123456789"),  # 11 digits
    "MT": ("12345678", "1234567"),  # 8 digits
    "NL": ("123456789B01", "123456789A01"),  # 9 digits + B + 2 digits
    "PL": ("1234567890", "123456789"),  # 10 digits
    "PT": ("123456789", "12345678"),  # 9 digits
    "RO": ("12", "0123"),  # 2 to 10 digits, no leading zero
    "SE": ("123456789001", "123456789012"),  # 10 digits + 01
    "SI": ("12345678", "123456789"),  # 8 digits
    "SK": ("1234567890", "123456789"),  # 10 digits
    "XI": ("123456789", "12345678"),  # Northern Ireland: as GB
}


def test_every_eu_prefix_is_covered_here():
    assert set(EU_VAT) == set(EU_VAT_FORMATS)


@pytest.mark.parametrize(("prefix", "good", "bad"), [(p, g, b) for p, (g, b) in EU_VAT.items()])
def test_eu_vat_formats(prefix, good, bad):
    value, country = normalize_tax_id("eu_vat", f"{prefix}{good}")
    assert value == f"{prefix}{good}"
    assert country == {"EL": "GR", "XI": "GB"}.get(prefix, prefix)
    with pytest.raises(ValidationFailed) as err:
        normalize_tax_id("eu_vat", f"{prefix}{bad}", param="tax_ids.3.value")
    assert (err.value.code, err.value.param) == ("invalid_tax_id", "tax_ids.3.value")


@pytest.mark.parametrize(
    ("type_", "typed", "canonical", "country"),
    [
        ("eu_vat", "de 123.456.789", "DE123456789", "DE"),
        ("eu_vat", "GR123456789", "EL123456789", "GR"),  # the ISO code, commonly typed for Greece
        ("eu_vat", "fr-ab 123456789", "FRAB123456789", "FR"),
        ("gb_vat", "GB 123 4567 89", "GB123456789", "GB"),
        ("gb_vat", "123456789012", "GB123456789012", "GB"),  # prefix added
        ("gb_vat", "GBGD001", "GBGD001", "GB"),
        ("gb_vat", "GBHA599", "GBHA599", "GB"),
        ("ch_vat", "CHE-116.281.710 MWST", "CHE-116.281.710 MWST", "CH"),
        ("ch_vat", "che116281710tva", "CHE-116.281.710 TVA", "CH"),
        ("no_vat", "923 609 016 MVA", "923609016MVA", "NO"),
        ("no_vat", "NO923609016MVA", "923609016MVA", "NO"),
        ("au_abn", "51 824 753 556", "51824753556", "AU"),
        ("nz_gst", "123-456-789", "123456789", "NZ"),
        ("nz_gst", "49091850", "49091850", "NZ"),
        ("ca_bn", "123456789", "123456789", "CA"),
        ("ca_bn", "123456789 RT 0001", "123456789RT0001", "CA"),
        ("in_gst", "27aapfu0939f1zv", "27AAPFU0939F1ZV", "IN"),
        ("jp_cn", "1180301018771", "1180301018771", "JP"),
        ("jp_trn", "T1180301018771", "T1180301018771", "JP"),
        ("sg_gst", "M12345678X", "M12345678X", "SG"),
        ("sg_gst", "201912345K", "201912345K", "SG"),
        ("sg_uen", "T09LL0001B", "T09LL0001B", "SG"),
        ("us_ein", "123456789", "12-3456789", "US"),
    ],
)
def test_valid_ids_are_normalized(type_, typed, canonical, country):
    assert normalize_tax_id(type_, typed) == (canonical, country)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("eu_vat", "US123456789"),  # not an EU prefix
        ("eu_vat", "DE"),
        ("eu_vat", ""),
        ("gb_vat", "GB12345678"),  # 8 digits
        ("gb_vat", "GBGD600"),  # government departments are 000-499
        ("ch_vat", "CHE-116.281.711 MWST"),  # wrong check digit
        ("ch_vat", "CHE-116.281.710"),  # the MWST/TVA/IVA suffix is part of the number
        ("no_vat", "923609017MVA"),  # wrong check digit
        ("no_vat", "923609016"),  # MVA suffix missing
        ("au_abn", "51824753557"),  # checksum
        ("au_abn", "5182475355"),  # 10 digits
        ("nz_gst", "1234567"),
        ("ca_bn", "12345678"),
        ("ca_bn", "123456789XX0001"),
        ("in_gst", "27AAPFU0939F1ZX"),  # wrong check character
        ("in_gst", "27AAPFU0939F1Z"),  # 14 characters
        ("jp_cn", "1180301018772"),  # wrong check digit
        ("jp_trn", "1180301018771"),  # T missing
        ("sg_gst", "X12345678X"),
        ("sg_uen", "1234"),
        ("us_ein", "12-345678"),
        ("eu_vat", "DE" + "1" * 60),  # absurdly long
    ],
)
def test_malformed_ids_are_refused(type_, value):
    with pytest.raises(ValidationFailed) as err:
        normalize_tax_id(type_, value, param="tax_ids.0.value")
    assert err.value.code == "invalid_tax_id"
    assert err.value.param == "tax_ids.0.value"
    assert EXAMPLES[type_] in err.value.message  # says what a good one looks like


@pytest.mark.parametrize("type_", sorted(VALIDATORS))
def test_every_example_is_valid(type_):
    normalize_tax_id(type_, EXAMPLES[type_])


def test_unknown_type_names_the_type_field():
    with pytest.raises(ValidationFailed) as err:
        normalize_tax_id("xx_vat", "1", param="tax_ids.2.value")
    assert (err.value.code, err.value.param) == ("invalid_tax_id_type", "tax_ids.2.type")


@pytest.mark.parametrize(("given", "expected"), [("de", "DE"), ("US", "US"), ("xk", "XK"), ("gb", "GB")])
def test_countries(given, expected):
    assert normalize_country(given) == expected


@pytest.mark.parametrize("given", ["EU", "ZZ", "UN", "XX", "DEU", "", 49, None])
def test_not_countries(given):
    with pytest.raises(ValidationFailed) as err:
        normalize_country(given, param="address.country")
    assert (err.value.code, err.value.param) == ("invalid_country", "address.country")
