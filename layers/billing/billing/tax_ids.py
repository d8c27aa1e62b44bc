"""Tax identification numbers: format (and, where the scheme has one, checksum) per type.

``normalize_tax_id(type, value)`` returns ``(value, country)``: the number in its canonical
form and the ISO 3166-1 country that issued it, or raises ``ValidationFailed`` with code
``invalid_tax_id``. Spaces, dots and hyphens typed by people are ignored (``DE 123 456 789``,
``CHE-123.456.789 MWST``); letters are upper-cased. Formats checked here say a number *can*
exist; whether it is registered is a question for VIES / the tax authorities, not asked here.

Types (Stripe's names):

======== ================================================= =================================
type     canonical form                                     check
======== ================================================= =================================
eu_vat   country prefix + national part (``DE123456789``)  per-country regex (``EU_VAT_FORMATS``)
gb_vat   ``GB`` + 9 or 12 digits, or ``GBGD``/``GBHA`` + 3  regex
ch_vat   ``CHE-123.456.789 MWST`` (or TVA, IVA)             regex + UID mod-11 check digit
no_vat   ``123456789MVA``                                   regex + organisation number mod-11
au_abn   11 digits                                          ABN mod-89 checksum
nz_gst   8 or 9 digits (IRD number)                         regex
ca_bn    9 digits, or ``123456789RT0001`` (program account) regex
in_gst   15 characters (GSTIN)                              regex + mod-36 check character
jp_cn    13 digits (corporate number)                       regex + mod-9 check digit
jp_trn   ``T`` + 13 digits (invoice registration number)    regex
sg_gst   ``M`` + 8 characters + letter, or a UEN            regex
sg_uen   8-10 character UEN                                 regex
us_ein   ``12-3456789``                                     regex
======== ================================================= =================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from billing.errors import ValidationFailed

EU_VAT_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "AT": r"U\d{8}",
        "BE": r"[01]\d{9}",
        "BG": r"\d{9,10}",
        "CY": r"\d{8}[A-Z]",
        "CZ": r"\d{8,10}",
        "DE": r"\d{9}",
        "DK": r"\d{8}",
        "EE": r"\d{9}",
        "EL": r"\d{9}",
        "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
        "FI": r"\d{8}",
        "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
        "HR": r"\d{11}",
        "HU": r"\d{8}",
        "IE": r"\d{7}[A-WY][A-IW]?|\d[A-Z+*]\d{5}[A-W]",
        "IT": r"\d{11}",
        "LT": r"\d{9}|\d{12}",
        "LU": r"\d{8}",
        "LV": r"\d{11}",
        "MT": r"\d{8}",
        "NL": r"\d{9}B\d{2}",
        "PL": r"\d{10}",
        "PT": r"\d{9}",
        "RO": r"[1-9]\d{1,9}",
        "SE": r"\d{10}01",
        "SI": r"\d{8}",
        "SK": r"\d{10}",
        "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    }
)
"""National part of an EU VAT number (after its prefix), per prefix. Greece is ``EL``;
``XI`` is Northern Ireland (VAT on goods under the Windsor Framework)."""

_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}
_EU_VAT_RE = {prefix: re.compile(rf"^(?:{pattern})$") for prefix, pattern in EU_VAT_FORMATS.items()}
_SEPARATORS = re.compile(r"[\s.\-/]")
_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    """11 - (Σ digit×weight mod 11); 11 means 0 and 10 means no valid number."""
    rest = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest == 11 else None if rest == 10 else rest


def _eu_vat(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    prefix, national = compact[:2], compact[2:]
    if prefix == "GR":  # the ISO code, commonly typed: the VAT prefix of Greece is EL
        prefix = "EL"
    pattern = _EU_VAT_RE.get(prefix)
    if pattern is None or not pattern.match(national):
        return None
    return prefix + national, _VAT_PREFIX_COUNTRY.get(prefix, prefix)


def _gb_vat(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    if not compact.startswith("GB"):
        compact = "GB" + compact
    if re.match(r"^GB(\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2})$", compact):
        return compact, "GB"
    return None


def _ch_vat(value: str) -> tuple[str, str] | None:
    match = re.match(r"^CHE(\d{9})(MWST|TVA|IVA)$", _compact(value))
    if not match:
        return None
    digits, suffix = match.groups()
    if _mod11(digits[:8], (5, 4, 3, 2, 7, 6, 5, 4)) != int(digits[8]):
        return None
    return f"CHE-{digits[:3]}.{digits[3:6]}.{digits[6:]} {suffix}", "CH"


def _no_vat(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    compact = compact.removeprefix("NO")
    match = re.match(r"^(\d{9})MVA$", compact)
    if not match:
        return None
    digits = match.group(1)
    if _mod11(digits[:8], (3, 2, 7, 6, 5, 4, 3, 2)) != int(digits[8]):
        return None
    return f"{digits}MVA", "NO"


def _au_abn(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    if not re.match(r"^\d{11}$", compact):
        return None
    digits = [int(c) for c in compact]
    digits[0] -= 1
    weights = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
    if sum(d * w for d, w in zip(digits, weights, strict=True)) % 89 != 0:
        return None
    return compact, "AU"


def _in_gst(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    if not re.match(r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$", compact):
        return None
    total = 0
    for i, char in enumerate(compact[:14]):
        product = _ALNUM36.index(char) * (1 if i % 2 == 0 else 2)
        total += product // 36 + product % 36
    if _ALNUM36[(36 - total % 36) % 36] != compact[14]:
        return None
    return compact, "IN"


def _jp_cn(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    if not re.match(r"^\d{13}$", compact):
        return None
    weighted = sum(int(d) * (1 if n % 2 == 1 else 2) for n, d in enumerate(reversed(compact[1:]), start=1))
    if 9 - weighted % 9 != int(compact[0]):
        return None
    return compact, "JP"


def _regex(pattern: str, country: str) -> Callable[[str], tuple[str, str] | None]:
    compiled = re.compile(pattern)

    def check(value: str) -> tuple[str, str] | None:
        compact = _compact(value)
        return (compact, country) if compiled.match(compact) else None

    return check


def _us_ein(value: str) -> tuple[str, str] | None:
    compact = _compact(value)
    if not re.match(r"^\d{9}$", compact):
        return None
    return f"{compact[:2]}-{compact[2:]}", "US"


_UEN = r"\d{8}[A-Z]|\d{9}[A-Z]|[TSR]\d{2}[A-Z]{2}\d{4}[A-Z]"

VALIDATORS: Mapping[str, Callable[[str], tuple[str, str] | None]] = MappingProxyType(
    {
        "eu_vat": _eu_vat,
        "gb_vat": _gb_vat,
        "ch_vat": _ch_vat,
        "no_vat": _no_vat,
        "au_abn": _au_abn,
        "nz_gst": _regex(r"^\d{8,9}$", "NZ"),
        "ca_bn": _regex(r"^\d{9}(RT\d{4})?$", "CA"),
        "in_gst": _in_gst,
        "jp_cn": _jp_cn,
        "jp_trn": _regex(r"^T\d{13}$", "JP"),
        "sg_gst": _regex(rf"^(M[0-9A-Z]\d{{7}}[A-Z]|{_UEN})$", "SG"),
        "sg_uen": _regex(rf"^({_UEN})$", "SG"),
        "us_ein": _us_ein,
    }
)

EXAMPLES: Mapping[str, str] = MappingProxyType(
    {
        "eu_vat": "DE123456789",
        "gb_vat": "GB123456789",
        "ch_vat": "CHE-116.281.710 MWST",
        "no_vat": "923609016MVA",
        "au_abn": "51824753556",
        "nz_gst": "123456789",
        "ca_bn": "123456789",
        "in_gst": "27AAPFU0939F1ZV",
        "jp_cn": "1180301018771",
        "jp_trn": "T1180301018771",
        "sg_gst": "M12345678X",
        "sg_uen": "201912345K",
        "us_ein": "12-3456789",
    }
)
"""A well-formed value per type, for error messages and documentation."""


def normalize_tax_id(type_: str, value: str, *, param: str = "value") -> tuple[str, str]:
    """The canonical value and issuing country of a tax id, or ``invalid_tax_id`` at ``param``."""
    validator = VALIDATORS.get(type_)
    if validator is None:
        raise ValidationFailed(
            f"unknown tax id type {type_!r}; expected one of {', '.join(VALIDATORS)}",
            code="invalid_tax_id_type",
            param=param.rsplit(".", 1)[0] + ".type" if "." in param else "type",
        )
    result = validator(value) if isinstance(value, str) and len(value) <= 40 else None
    if result is None:
        raise ValidationFailed(
            f"{value!r} is not a valid {type_} number (expected a value like {EXAMPLES[type_]})",
            code="invalid_tax_id",
            param=param,
        )
    return result
