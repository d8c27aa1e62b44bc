"""The seller's settings: read them (saved values over the deploy-time defaults), change them.

Every document the customers get prints the seller from here (frozen on each invoice at
finalization). An invoice is not issued while the seller has no legal name or address: the
pre-send checks hold it (``missing_seller_identity``), so nothing goes out without saying who bills.

Deploy-time defaults (template parameters) fill what was never saved: ``SellerLegalName``
(``BILLING_SELLER_LEGAL_NAME``) for the legal name, ``SellerCountry`` (``BILLING_SELLER_COUNTRY``)
for the tax country. The tax country decides which taxes apply to every invoice, so it is not
changed here: an address in another country is refused (redeploy with that ``SellerCountry``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from billing import clock, i18n
from billing.errors import ValidationFailed
from billing.models.account import DEFAULT_BRAND_COLOR, SETTING_FIELDS, AccountChange, AccountSettings
from billing.repositories.account import AccountRepository
from billing.services.customers import normalize_address, normalize_email, normalize_tax_ids

MAX_TEXT = 1000
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{3,30}[0-9]$")
CLEARED_TO = {"brand_color": DEFAULT_BRAND_COLOR, "default_locale": "en", "tax_ids": []}
"""What ``null`` resets a field to when it cannot be empty."""

AccountReader = Callable[[], AccountSettings]
"""What other services take to know the seller (``account_reader`` builds one)."""


@dataclass(frozen=True, kw_only=True)
class AccountDefaults:
    """Deploy-time values for what was never saved."""

    legal_name: str | None = None
    country: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> AccountDefaults:
        """From ``billing.settings.Settings``."""
        return cls(legal_name=settings.seller_legal_name or None, country=settings.seller_country)


def get_account(repo: AccountRepository, defaults: AccountDefaults) -> AccountSettings:
    """The seller as documents print it: the saved settings, the deploy-time defaults for the rest."""
    saved = repo.get() or AccountSettings()
    return saved.model_copy(
        update={"legal_name": saved.legal_name or defaults.legal_name, "country": defaults.country}
    )


def account_reader(repo: AccountRepository, defaults: AccountDefaults) -> AccountReader:
    return lambda: get_account(repo, defaults)


def update_account(
    repo: AccountRepository, defaults: AccountDefaults, changes: Mapping[str, Any], *, actor: str
) -> AccountSettings:
    """Apply the given fields (absent: unchanged; ``null``: cleared, or reset to its default) and
    record who changed what; a concurrent change fails (409 ``concurrent_update``)."""
    saved = repo.get() or AccountSettings()
    values = {key: _normalize(key, value, defaults) for key, value in changes.items()}
    candidate = AccountSettings.model_validate({**saved.model_dump(), **values})
    diff = {
        key: {"from": _json(getattr(saved, key)), "to": _json(getattr(candidate, key))}
        for key in SETTING_FIELDS
        if getattr(saved, key) != getattr(candidate, key)
    }
    if not diff:
        return get_account(repo, defaults)
    now = clock.now()
    new = candidate.model_copy(update={"version": saved.version + 1, "updated_at": now, "updated_by": actor})
    repo.save(
        new,
        previous_version=saved.version,
        change=AccountChange(version=new.version, at=now, actor=actor, changes=diff),
    )
    return get_account(repo, defaults)


def list_changes(
    repo: AccountRepository, *, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[AccountChange], dict[str, Any] | None]:
    return repo.changes(limit=limit, cursor=cursor)


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# --------------------------------------------------------------------------- rules


def _normalize(key: str, value: Any, defaults: AccountDefaults) -> Any:
    if key not in SETTING_FIELDS:
        raise ValidationFailed(f"unknown field {key!r}", code="unknown_field", param=key)
    if value is None:
        if key == "legal_name" and not defaults.legal_name:
            raise ValidationFailed(
                "legal_name cannot be cleared: every document names the seller",
                code="invalid_value",
                param=key,
            )
        return CLEARED_TO.get(key)
    return _RULES[key](value, defaults)


def _text(param: str, *, max_length: int = MAX_TEXT) -> Callable[[str, AccountDefaults], str | None]:
    def rule(value: str, _defaults: AccountDefaults) -> str | None:
        text = value.strip()
        if len(text) > max_length:
            raise ValidationFailed(
                f"{param} is at most {max_length} characters", code="too_long", param=param
            )
        return text or None

    return rule


def _legal_name(value: str, _defaults: AccountDefaults) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValidationFailed("legal_name must not be blank", code="too_short", param="legal_name")
    if len(name) > 200:
        raise ValidationFailed("legal_name is at most 200 characters", code="too_long", param="legal_name")
    return name


def _address(value: Mapping[str, Any], defaults: AccountDefaults) -> Any:
    address = normalize_address(value)
    if defaults.country and address.country != defaults.country:
        raise ValidationFailed(
            f"the seller's tax country is {defaults.country} (the SellerCountry template parameter, "
            f"which decides the taxes of every invoice); an address in {address.country} needs a "
            f"deployment with SellerCountry={address.country}",
            code="seller_country_mismatch",
            param="address.country",
        )
    for part in ("line1", "city"):
        if not getattr(address, part):
            raise ValidationFailed(
                f"the seller's address needs {part}: it is printed on every invoice",
                code="missing_field",
                param=f"address.{part}",
            )
    return address


def _email(value: str, _defaults: AccountDefaults) -> str:
    return normalize_email(value, param="support_email")


def _phone(value: str, _defaults: AccountDefaults) -> str | None:
    phone = " ".join(value.split())
    if phone and not _PHONE_RE.match(phone):
        raise ValidationFailed(
            "support_phone: digits, spaces, + ( ) . / - (e.g. +44 20 7946 0000)",
            code="invalid_phone",
            param="support_phone",
        )
    return phone or None


def _logo_url(value: str, _defaults: AccountDefaults) -> str | None:
    url = value.strip()
    if not url:
        return None
    if not url.startswith("https://") or len(url) > 2048 or any(c.isspace() for c in url) or len(url) < 12:
        raise ValidationFailed(
            "logo_url must be an https:// URL (at most 2,048 characters): documents are served over "
            "HTTPS and would not show an insecure image",
            code="invalid_url",
            param="logo_url",
        )
    return url


def _color(value: str, _defaults: AccountDefaults) -> str:
    if not _COLOR_RE.match(value.strip()):
        raise ValidationFailed(
            "brand_color is a hex colour #RRGGBB", code="invalid_color", param="brand_color"
        )
    return value.strip().upper()


def _locale(value: str, _defaults: AccountDefaults) -> str:
    locale = i18n.normalize_locale(value)
    if locale is None or not i18n.is_supported(locale):
        raise ValidationFailed(
            f"{value!r}: documents can be written in {', '.join(i18n.SUPPORTED_LANGUAGES)} "
            "(a region may follow: de_CH, en_GB)",
            code="unknown_locale",
            param="default_locale",
        )
    return locale


def _tax_ids(values: list[Mapping[str, Any]], _defaults: AccountDefaults) -> Any:
    return normalize_tax_ids(values)


_RULES: dict[str, Callable[[Any, AccountDefaults], Any]] = {
    "legal_name": _legal_name,
    "address": _address,
    "tax_ids": _tax_ids,
    "support_email": _email,
    "support_phone": _phone,
    "logo_url": _logo_url,
    "brand_color": _color,
    "invoice_footer": _text("invoice_footer"),
    "payment_instructions": _text("payment_instructions"),
    "default_locale": _locale,
}
