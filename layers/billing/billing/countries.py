"""ISO 3166-1 alpha-2 country codes (from Babel's CLDR territories, imported lazily)."""

from __future__ import annotations

import re
from functools import cache

from billing.errors import ValidationFailed

_CODE_RE = re.compile(r"^[A-Za-z]{2}$")

# Two-letter CLDR territories that are not ISO 3166-1 countries (reserved or grouping codes).
# Kosovo (XK) stays: it is the user-assigned code every payment provider uses.
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@cache
def countries() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code, upper case."""
    from babel.core import Locale

    territories = Locale("en").territories
    return frozenset(
        k for k in territories if isinstance(k, str) and _CODE_RE.match(k) and k not in _NOT_COUNTRIES
    )


def normalize_country(code: object, *, param: str = "country") -> str:
    """``"de"`` or ``"DE"`` -> ``"DE"``; anything else is ``invalid_country``."""
    if not isinstance(code, str) or not _CODE_RE.match(code) or code.upper() not in countries():
        raise ValidationFailed(
            f"{param} must be an ISO 3166-1 alpha-2 country code (e.g. DE, US)",
            code="invalid_country",
            param=param,
        )
    return code.upper()
