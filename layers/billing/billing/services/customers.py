"""Customers: create, read, list, update (optimistic locking), delete (soft).

The route has already checked shapes and types (pydantic, unknown fields refused); this
module applies every rule that needs more than a type: tax id formats, currency, time zone,
locale, country, uniqueness, limits. Every refusal names its field (``param``).
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from billing import clock
from billing.countries import normalize_country
from billing.errors import Conflict, NotFound, ValidationFailed
from billing.models.customers import (
    CUSTOMER_ID_PREFIX,
    Address,
    ChangeSource,
    Customer,
    CustomerChange,
    TaxId,
)
from billing.money import normalize_currency
from billing.periods import zone
from billing.repositories.customers import CustomerRepository
from billing.tax_ids import normalize_tax_id

MAX_EMAILS = 10
MAX_SEGMENTS = 20
MAX_TAX_IDS = 5
MAX_PREFERRED_LOCALES = 5
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
PREFIX_ATTEMPTS = 5

_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,127}$")
_OUR_ID_RE = re.compile(rf"^{CUSTOMER_ID_PREFIX}[0-9a-f]{{16}}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PREFIX_RE = re.compile(r"^[A-Z0-9]{3,8}$")
_STATE_RE = re.compile(r"^[A-Z0-9]{1,3}$")
_CANADIAN_REGIONS = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})
_REVERSE_CHARGE_ID_TYPES = frozenset({"eu_vat", "gb_vat", "ch_vat", "no_vat"})

FIELDS = frozenset(
    {
        "external_id", "name", "emails", "address", "tax_ids", "tax_status", "currency", "time_zone", "locale",
        "preferred_locales", "invoice_prefix", "segments", "metadata",
    }
)  # fmt: skip

NOT_NULL = ("name", "currency", "invoice_prefix", "tax_status", "time_zone")


# --------------------------------------------------------------------------- reads


def get_customer(repo: CustomerRepository, customer_ref: str) -> Customer:
    """By our id or the external id; deleted customers are returned (flagged) by our id only."""
    customer = repo.resolve(customer_ref)
    if customer is None:
        raise NotFound(f"no customer {customer_ref!r}", code="customer_not_found", param="customer_id")
    return customer


def list_customers(
    repo: CustomerRepository,
    *,
    limit: int,
    cursor: dict[str, Any] | None,
    email: str | None = None,
    segment: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> tuple[list[Customer], dict[str, Any] | None]:
    for name, value in (("created_gte", created_gte), ("created_lt", created_lt)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a time zone (e.g. Z)", code="invalid_datetime", param=name)
    if created_gte is not None and created_lt is not None and created_gte >= created_lt:
        raise ValidationFailed(
            "created_lt must be after created_gte", code="invalid_range", param="created_lt"
        )
    return repo.list(
        limit=limit,
        cursor=cursor,
        email=_email(email, param="email") if email is not None else None,
        segment=_segment(segment, param="segment") if segment is not None else None,
        created_gte=created_gte,
        created_lt=created_lt,
    )


# --------------------------------------------------------------------------- writes


def create_customer(repo: CustomerRepository, fields: Mapping[str, Any]) -> Customer:
    """``fields``: the request's fields (shape already checked). ``name`` and ``currency`` are required."""
    values = _normalize(fields)
    for required in ("name", "currency"):
        if values.get(required) is None:
            raise ValidationFailed(f"{required} is required", code="missing_field", param=required)
    now = clock.now()
    generated = values.get("invoice_prefix") is None
    for attempt in range(PREFIX_ATTEMPTS):
        prefix = _generate_prefix(values["name"]) if generated else values["invoice_prefix"]
        customer = Customer(
            **{**values, "invoice_prefix": prefix},
            id=CUSTOMER_ID_PREFIX + secrets.token_hex(8),
            created_at=now,
            updated_at=now,
        )
        _check_consistency(customer)
        try:
            repo.create(customer)
            return customer
        except Conflict as exc:
            if not (generated and exc.code == "invoice_prefix_taken" and attempt < PREFIX_ATTEMPTS - 1):
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


TaxCheck = Callable[[Customer, Customer], "dict[str, str] | None"]
"""``check(before, after)``: raises ``ValidationFailed`` when ``after`` cannot be taxed, else returns
``{"from": ..., "to": ...}`` when the change moves the customer to another tax treatment (or None)."""


def update_customer(
    repo: CustomerRepository,
    customer_ref: str,
    changes: Mapping[str, Any],
    *,
    actor: str,
    source: ChangeSource = "api",
    expected_version: int | None = None,
    tax_check: TaxCheck | None = None,
) -> Customer:
    """Apply the given fields (absent: unchanged; ``null``: cleared where a field may be empty), with
    an audit entry (who: ``source`` and ``actor``; the fields' values before and after) written in the
    same transaction. A change to nothing writes nothing.

    ``metadata`` merges (a key set to ``""`` is removed), as Stripe; lists are replaced.
    ``expected_version``: the version the caller's form was read from; a real change on top of a
    newer version is refused (409 ``concurrent_update``), while re-sending the values already stored
    (a double submit) is a no-op."""
    current = get_customer(repo, customer_ref)
    if current.deleted:
        raise Conflict(f"customer {current.id} is deleted", code="customer_deleted", param="customer_id")
    values = _normalize(changes)
    for required in NOT_NULL:
        if required in values and values[required] is None:
            raise ValidationFailed(f"{required} cannot be null", code="invalid_value", param=required)
    if "metadata" in changes:
        merged = {} if changes["metadata"] is None else dict(current.metadata)
        for key, value in (changes["metadata"] or {}).items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        values["metadata"] = _metadata(merged)
    updates = {k: v for k, v in values.items() if k in FIELDS}
    for key in ("emails", "segments", "tax_ids", "preferred_locales"):
        if key in updates and updates[key] is None:
            updates[key] = []
    candidate = current.model_copy(update=updates)
    candidate = Customer.model_validate(candidate.model_dump())
    if candidate == current:
        return current
    if expected_version is not None and expected_version != current.version:
        raise Conflict(
            f"customer {current.id} changed since version {expected_version}; read it again",
            code="concurrent_update",
            param="version",
        )
    now = clock.now()
    new = candidate.model_copy(update={"version": current.version + 1, "updated_at": now})
    _check_consistency(new)
    treatment = tax_check(current, new) if tax_check is not None else None
    change = CustomerChange(
        customer_id=new.id,
        version=new.version,
        at=now,
        source=source,
        actor=actor,
        changes=changed_fields(current, new),
        tax_treatment=treatment,
    )
    repo.update(current, new, change=change)
    return new


AUDITED = (*sorted(FIELDS), "provider_customer_id", "default_payment_method", "payment_method_brand",
           "payment_method_last4")  # fmt: skip
"""The fields an audit entry compares (bookkeeping such as ``version`` and ``updated_at`` aside)."""


def changed_fields(before: Customer, after: Customer) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` of the audited fields that differ (JSON values)."""
    old = before.model_dump(mode="json", include=set(AUDITED))
    new = after.model_dump(mode="json", include=set(AUDITED))
    return {name: {"from": old[name], "to": new[name]} for name in AUDITED if old[name] != new[name]}


def list_changes(
    repo: CustomerRepository, customer_ref: str, *, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[CustomerChange], dict[str, Any] | None]:
    """A customer's audit trail, newest first (a deleted customer's too, by our id)."""
    customer = get_customer(repo, customer_ref)
    return repo.changes(customer.id, limit=limit, cursor=cursor)


def delete_customer(repo: CustomerRepository, customer_ref: str) -> Customer:
    """Soft delete. Refused while the customer has open invoices (invoicing keeps the count)."""
    current = get_customer(repo, customer_ref)
    if current.deleted:
        raise NotFound(
            f"customer {current.id} is already deleted", code="customer_not_found", param="customer_id"
        )
    for _ in range(2):
        _require_no_open_invoices(current)
        try:
            return repo.delete(current, at=clock.now())
        except Conflict:
            fresh = repo.get(current.id)
            if fresh is None or fresh.deleted:
                raise NotFound(
                    f"customer {current.id} is already deleted",
                    code="customer_not_found",
                    param="customer_id",
                ) from None
            current = fresh
    _require_no_open_invoices(current)
    raise Conflict("the customer changed while it was being deleted; retry", code="concurrent_update")


def _require_no_open_invoices(customer: Customer) -> None:
    if customer.open_invoices > 0:
        raise Conflict(
            f"customer {customer.id} has {customer.open_invoices} open invoice(s); settle or void them first",
            code="customer_has_open_invoices",
            param="customer_id",
        )


# --------------------------------------------------------------------------- rules


def _normalize(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize every given field; return them (absent ones stay absent)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in FIELDS:
            raise ValidationFailed(f"unknown field {key!r}", code="unknown_field", param=key)
        if value is None:
            out[key] = None
            continue
        out[key] = _RULES[key](value)
    return out


def _external_id(value: str) -> str:
    if not _EXTERNAL_ID_RE.match(value):
        raise ValidationFailed(
            "external_id: 1-128 letters, digits and . _ : @ | + - (starting with a letter or digit)",
            code="invalid_external_id",
            param="external_id",
        )
    if _OUR_ID_RE.match(value):
        raise ValidationFailed(
            "external_id cannot look like a customer id (cus_...): it would be ambiguous",
            code="invalid_external_id",
            param="external_id",
        )
    return value


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValidationFailed("name must not be blank", code="too_short", param="name")
    return name


def _email(value: str, *, param: str) -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise ValidationFailed(f"{value!r} is not an email address", code="invalid_email", param=param)
    return email


def _emails(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_EMAILS:
        raise ValidationFailed(f"at most {MAX_EMAILS} emails", code="too_many_items", param="emails")
    out: list[str] = []
    for i, value in enumerate(values):
        email = _email(value, param=f"emails.{i}")
        if email in out:
            raise ValidationFailed(f"{email} is given twice", code="duplicate_email", param=f"emails.{i}")
        out.append(email)
    return out


def _address(value: Mapping[str, Any]) -> Address:
    country = normalize_country(value.get("country"), param="address.country")
    state = value.get("state")
    if state is not None:
        state = state.strip().upper()
        if not _STATE_RE.match(state):
            raise ValidationFailed(
                "state must be the ISO 3166-2 subdivision code without the country (ON, CA, BY)",
                code="invalid_state",
                param="address.state",
            )
    if country == "CA":
        if state is None:
            raise ValidationFailed(
                "a Canadian address needs its province (state): its sales tax depends on it",
                code="missing_field",
                param="address.state",
            )
        if state not in _CANADIAN_REGIONS:
            raise ValidationFailed(
                f"{state} is not a Canadian province", code="invalid_state", param="address.state"
            )
    rest = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in value.items()}
    return Address(**{**rest, "country": country, "state": state})


def _tax_ids(values: Sequence[Mapping[str, Any]]) -> list[TaxId]:
    if len(values) > MAX_TAX_IDS:
        raise ValidationFailed(f"at most {MAX_TAX_IDS} tax ids", code="too_many_items", param="tax_ids")
    out: list[TaxId] = []
    for i, raw in enumerate(values):
        value, country = normalize_tax_id(raw["type"], raw["value"], param=f"tax_ids.{i}.value")
        tax_id = TaxId(type=raw["type"], value=value, country=country)
        if any(t.type == tax_id.type and t.value == tax_id.value for t in out):
            raise ValidationFailed(
                f"{value} is given twice", code="duplicate_tax_id", param=f"tax_ids.{i}.value"
            )
        out.append(tax_id)
    return out


def _time_zone(value: str) -> str:
    zone(value, param="time_zone")
    return value


def _locale(value: str) -> str:
    from babel import Locale, UnknownLocaleError

    wanted = value.strip().replace("-", "_")
    try:
        parsed = Locale.parse(wanted)
    except (UnknownLocaleError, ValueError, TypeError):
        parsed = None
    # Babel falls back silently (en_ZZ -> en_US): accept only what was asked for.
    if parsed is None or str(parsed).lower() != wanted.lower():
        raise ValidationFailed(
            f"{value!r} is not a known locale (e.g. en, en_GB, fr_FR, de_CH)",
            code="invalid_locale",
            param="locale",
        )
    return str(parsed)


def _preferred_locales(values: Sequence[str]) -> list[str]:
    """Locale tags Babel knows (``sv``, ``sv-SE``, ``de_CH``), normalized (``sv_SE``), each once."""
    from billing import i18n

    if len(values) > MAX_PREFERRED_LOCALES:
        raise ValidationFailed(
            f"at most {MAX_PREFERRED_LOCALES} preferred locales",
            code="too_many_items",
            param="preferred_locales",
        )
    out: list[str] = []
    for i, value in enumerate(values):
        locale = i18n.normalize_locale(value)
        if locale is None:
            raise ValidationFailed(
                f"{value!r} is not a known locale (e.g. en, sv, de-CH, fr_FR, ja)",
                code="unknown_locale",
                param=f"preferred_locales.{i}",
            )
        if locale not in out:
            out.append(locale)
    return out


def _invoice_prefix(value: str) -> str:
    prefix = value.strip().upper()
    if not _PREFIX_RE.match(prefix):
        raise ValidationFailed(
            "invoice_prefix must be 3 to 8 letters or digits",
            code="invalid_invoice_prefix",
            param="invoice_prefix",
        )
    return prefix


def _segment(value: str, *, param: str) -> str:
    if not _SEGMENT_RE.match(value):
        raise ValidationFailed(
            "a segment is 1-64 letters, digits and . _ - (starting with a letter or digit)",
            code="invalid_segment",
            param=param,
        )
    return value


def _segments(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_SEGMENTS:
        raise ValidationFailed(f"at most {MAX_SEGMENTS} segments", code="too_many_items", param="segments")
    out: list[str] = []
    for i, value in enumerate(values):
        segment = _segment(value, param=f"segments.{i}")
        if segment not in out:
            out.append(segment)
    return out


def _metadata(values: Mapping[str, str]) -> dict[str, str]:
    return check_metadata({k: v for k, v in values.items() if v != ""})


def check_metadata(values: Mapping[str, str], *, param: str = "metadata") -> dict[str, str]:
    """Stripe's limits: at most 50 keys, keys up to 40 characters, values up to 500."""
    if len(values) > MAX_METADATA_KEYS:
        raise ValidationFailed(
            f"metadata takes at most {MAX_METADATA_KEYS} keys", code="too_many_metadata_keys", param=param
        )
    for key, value in values.items():
        if not key or len(key) > MAX_METADATA_KEY_LENGTH or "[" in key or "]" in key:
            raise ValidationFailed(
                f"metadata keys are 1 to {MAX_METADATA_KEY_LENGTH} characters, without square brackets",
                code="invalid_metadata_key",
                param=f"{param}.{key}",
            )
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ValidationFailed(
                f"metadata values are at most {MAX_METADATA_VALUE_LENGTH} characters",
                code="metadata_value_too_long",
                param=f"{param}.{key}",
            )
    return dict(values)


def normalize_address(value: Mapping[str, Any]) -> Address:
    """An address as customers (and the seller) keep it: ISO country, checked subdivision, trimmed."""
    return _address(value)


def normalize_tax_ids(values: Sequence[Mapping[str, Any]]) -> list[TaxId]:
    """Tax ids checked per format (``billing.tax_ids``), normalized, without duplicates."""
    return _tax_ids(values)


def normalize_email(value: str, *, param: str) -> str:
    return _email(value, param=param)


_RULES: dict[str, Any] = {
    "external_id": _external_id,
    "name": _name,
    "emails": _emails,
    "address": _address,
    "tax_ids": _tax_ids,
    "tax_status": lambda v: v,
    "currency": lambda v: normalize_currency(v, param="currency"),
    "time_zone": _time_zone,
    "locale": _locale,
    "preferred_locales": _preferred_locales,
    "invoice_prefix": _invoice_prefix,
    "segments": _segments,
    "metadata": _metadata,
}


def _check_consistency(customer: Customer) -> None:
    if customer.tax_status == "reverse_charge" and not any(
        t.type in _REVERSE_CHARGE_ID_TYPES for t in customer.tax_ids
    ):
        raise ValidationFailed(
            "reverse_charge needs the customer's VAT number in tax_ids (eu_vat, gb_vat, ch_vat or no_vat)",
            code="tax_id_required",
            param="tax_ids",
        )


def _generate_prefix(name: str) -> str:
    """3 letters from the name (ASCII, upper case; X-padded) + 4 random letters/digits: ``ACM7Q2K``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    letters = "".join(c for c in ascii_name.upper() if c.isalnum())[:3].ljust(3, "X")
    alphabet = string.ascii_uppercase + string.digits
    return letters + "".join(secrets.choice(alphabet) for _ in range(4))
