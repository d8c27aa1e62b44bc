"""The shipped tax rates: data only, read by ``billing.tax.rates.default_rates()``.

Standard rates in force on 2026-11-23 (when this table was last reviewed), one
row per rate: ``(id, country, region, name, percentage, effective_from,
source)``. ``country`` is ISO 3166-1 alpha-2; ``region`` is the ISO 3166-2
subdivision suffix (``ON`` for CA-ON) or None for a national rate.
``effective_from`` is the date the current percentage took effect.

Canada: the HST rows replace the federal GST in their province
(``replaces_national``); elsewhere GST applies, plus PST/QST where a
province levies one. Rates are the standard rate for the mainland of each
country (special territories such as the Canary Islands, the Azores and
Madeira, or Northern Ireland's goods regime are not covered).
Review this table whenever a rate changes; callers override or extend it with
``billing.tax.tax_rates(overrides)``.
"""

from __future__ import annotations

from typing import Final

from billing.i18n import N_

EU_SOURCE: Final = (
    "European Commission, VAT rates applied in the Member States (taxation-customs.ec.europa.eu)"
)

# (id, country, region, name, percentage, effective_from, source)
RATES: Final[tuple[tuple[str, str, str | None, str, str, str, str], ...]] = (
    # --- European Union: the 27 member states' standard VAT rates
    ("eu_at_vat_standard", "AT", None, "USt", "20", "1984-01-01", EU_SOURCE),
    ("eu_be_vat_standard", "BE", None, "BTW/TVA", "21", "1996-01-01", EU_SOURCE),
    ("eu_bg_vat_standard", "BG", None, "ДДС", "20", "1999-01-01", EU_SOURCE),
    ("eu_hr_vat_standard", "HR", None, "PDV", "25", "2012-03-01", EU_SOURCE),
    ("eu_cy_vat_standard", "CY", None, "ΦΠΑ", "19", "2014-01-13", EU_SOURCE),
    ("eu_cz_vat_standard", "CZ", None, "DPH", "21", "2013-01-01", EU_SOURCE),
    ("eu_dk_vat_standard", "DK", None, "moms", "25", "1992-01-01", EU_SOURCE),
    ("eu_ee_vat_standard", "EE", None, "km", "24", "2025-07-01", EU_SOURCE),
    ("eu_fi_vat_standard", "FI", None, "ALV", "25.5", "2024-09-01", EU_SOURCE),
    ("eu_fr_vat_standard", "FR", None, "TVA", "20", "2014-01-01", EU_SOURCE),
    ("eu_de_vat_standard", "DE", None, "USt", "19", "2021-01-01", EU_SOURCE),
    ("eu_gr_vat_standard", "GR", None, "ΦΠΑ", "24", "2016-06-01", EU_SOURCE),
    ("eu_hu_vat_standard", "HU", None, "ÁFA", "27", "2012-01-01", EU_SOURCE),
    ("eu_ie_vat_standard", "IE", None, "VAT", "23", "2021-03-01", EU_SOURCE),
    ("eu_it_vat_standard", "IT", None, "IVA", "22", "2013-10-01", EU_SOURCE),
    ("eu_lv_vat_standard", "LV", None, "PVN", "21", "2012-07-01", EU_SOURCE),
    ("eu_lt_vat_standard", "LT", None, "PVM", "21", "2009-09-01", EU_SOURCE),
    ("eu_lu_vat_standard", "LU", None, "TVA", "17", "2024-01-01", EU_SOURCE),
    ("eu_mt_vat_standard", "MT", None, "VAT", "18", "2004-01-01", EU_SOURCE),
    ("eu_nl_vat_standard", "NL", None, "btw", "21", "2012-10-01", EU_SOURCE),
    ("eu_pl_vat_standard", "PL", None, "VAT", "23", "2011-01-01", EU_SOURCE),
    ("eu_pt_vat_standard", "PT", None, "IVA", "23", "2011-01-01", EU_SOURCE),
    ("eu_ro_vat_standard", "RO", None, "TVA", "21", "2025-08-01", EU_SOURCE),
    ("eu_sk_vat_standard", "SK", None, "DPH", "23", "2025-01-01", EU_SOURCE),
    ("eu_si_vat_standard", "SI", None, "DDV", "22", "2013-07-01", EU_SOURCE),
    ("eu_es_vat_standard", "ES", None, "IVA", "21", "2012-09-01", EU_SOURCE),
    ("eu_se_vat_standard", "SE", None, "moms", "25", "1990-07-01", EU_SOURCE),
    # --- rest of Europe
    ("gb_vat_standard", "GB", None, "VAT", "20", "2011-01-04", "HMRC, VAT rates (gov.uk)"),
    ("no_vat_standard", "NO", None, "MVA", "25", "2005-01-01", "Skatteetaten, VAT rates"),
    ("ch_vat_standard", "CH", None, "MWST/TVA/IVA", "8.1", "2024-01-01", "Swiss Federal Tax Administration"),
    # --- Asia-Pacific
    ("au_gst", "AU", None, "GST", "10", "2000-07-01", "Australian Taxation Office"),
    ("nz_gst", "NZ", None, "GST", "15", "2010-10-01", "Inland Revenue (NZ)"),
    ("jp_consumption_tax_standard", "JP", None, "消費税", "10", "2019-10-01", "National Tax Agency (Japan)"),
    (
        "in_gst_standard",
        "IN",
        None,
        "GST",
        "18",
        "2017-07-01",
        "CBIC, GST rate schedule (18% slab kept by the 2025 reform)",
    ),
    ("sg_gst", "SG", None, "GST", "9", "2024-01-01", "IRAS (Singapore)"),
    # --- Canada: federal GST, HST provinces, and provincial PST/RST/QST
    ("ca_gst", "CA", None, "GST", "5", "2008-01-01", "Canada Revenue Agency, GST/HST rates"),
    ("ca_on_hst", "CA", "ON", "HST", "13", "2010-07-01", "Canada Revenue Agency, GST/HST rates"),
    ("ca_ns_hst", "CA", "NS", "HST", "14", "2025-04-01", "Canada Revenue Agency, GST/HST Notice 342"),
    ("ca_nb_hst", "CA", "NB", "HST", "15", "2016-07-01", "Canada Revenue Agency, GST/HST rates"),
    ("ca_nl_hst", "CA", "NL", "HST", "15", "2016-07-01", "Canada Revenue Agency, GST/HST rates"),
    ("ca_pe_hst", "CA", "PE", "HST", "15", "2016-10-01", "Canada Revenue Agency, GST/HST rates"),
    ("ca_bc_pst", "CA", "BC", "PST", "7", "2013-04-01", "Government of British Columbia, PST"),
    ("ca_mb_pst", "CA", "MB", "RST", "7", "2019-07-01", "Manitoba Finance, retail sales tax"),
    ("ca_sk_pst", "CA", "SK", "PST", "6", "2017-03-23", "Government of Saskatchewan, PST"),
    ("ca_qc_qst", "CA", "QC", "QST", "9.975", "2013-01-01", "Revenu Québec, QST"),
)

HST_REGIONS: Final = frozenset({"ON", "NS", "NB", "NL", "PE"})
"""Canadian provinces whose HST replaces the federal GST."""

CANADIAN_REGIONS: Final = frozenset(
    {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
)
"""Every Canadian province and territory: a Canadian customer must name one."""

EU_MEMBER_STATES: Final = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip

VAT_ID_PREFIXES: Final = {"EL": "GR"}
"""VAT identification numbers whose prefix is not the country's ISO code (Greece uses EL)."""

REVERSE_CHARGE_RATE_ID: Final = "eu_reverse_charge"
REVERSE_CHARGE_MENTION: Final = N_(
    "Reverse charge – VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)"
)
