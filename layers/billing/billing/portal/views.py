"""What the portal's pages show, already formatted and translated (templates stay logic-free), and
how its billing-details form reads. Pure: domain objects in, dictionaries out, no I/O.

Every amount, number and date goes through ``billing.formatting`` for the page's locale and the
customer's time zone; every word through ``billing.i18n`` (``_`` here is the page's gettext).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from billing import i18n
from billing.errors import BillingError, ValidationFailed
from billing.formatting import Formatter
from billing.invoicing import wording
from billing.models.account import AccountSettings
from billing.models.customers import Customer, TaxIdType
from billing.models.invoices import CreditNote, Invoice
from billing.services import documents

PAGE_SIZE = 20
"""Invoices or credit notes per page (newest first, a link to the next page)."""
OVERVIEW_ROWS = 5
"""Invoices and credit notes the overview shows before "All invoices"."""
MAX_FIELD = {"line1": 200, "line2": 200, "city": 100, "postal_code": 20, "state": 10}
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "state", "country")
MAX_TAX_ID_ROWS = 5
_SPLIT_EMAILS = re.compile(r"[\s,;]+")

BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
}


def page_locale(customer: Customer, seller: AccountSettings, override: str | None) -> str:
    """The portal's language: the session's ``locale``, else the customer's documents' language."""
    if override:
        return override
    return i18n.document_locale(
        customer.preferred_locales, customer_locale=customer.locale, default_locale=seller.default_locale
    )


def frame(
    *,
    seller: AccountSettings,
    customer: Customer,
    locale: str,
    base: str,
    csrf_token: str,
    return_url: str | None,
    _: i18n.Gettext,
) -> dict[str, Any]:
    """What every portal page prints around its content: who bills, who is signed in, the navigation."""
    seller_name = seller.legal_name or ""
    return {
        "locale": locale,
        "language": i18n.language_of(locale),
        "seller": documents.seller_view(seller, _, locale=locale),
        "customer_name": customer.name,
        "base": base,
        "csrf_token": csrf_token,
        "back": {"url": return_url, "label": _("Back to %(seller)s", seller=seller_name)}
        if return_url and seller_name
        else ({"url": return_url, "label": _("Back")} if return_url else None),
        "nav": [
            {"url": base, "label": _("Overview")},
            {"url": f"{base}/invoices", "label": _("Invoices")},
            {"url": f"{base}/credit-notes", "label": _("Credit notes")},
            {"url": f"{base}/billing-details", "label": _("Billing details")},
        ],
    }


# --------------------------------------------------------------------------- rows


def invoice_row(
    invoice: Invoice, *, base: str, now: datetime, locale: str, zone: Any, _: i18n.Gettext
) -> dict[str, Any]:
    fmt = Formatter(locale=locale, currency=invoice.currency, zone=zone)
    overdue = (
        invoice.status == "open"
        and invoice.amount_remaining > 0
        and invoice.due_date is not None
        and invoice.due_date < now
    )
    payable = invoice.status in ("open", "uncollectible") and invoice.amount_remaining > 0
    return {
        "number": invoice.number or "",
        "issued": fmt.date(invoice.finalized_at or invoice.created_at, format="medium"),
        "due": fmt.date(invoice.due_date, format="medium") if invoice.status == "open" else None,
        "status": "overdue" if overdue else invoice.status,
        "status_label": _("Overdue") if overdue else documents.status_label(invoice.status, _),
        "total": fmt.money(invoice.total),
        "remaining": fmt.money(invoice.amount_remaining) if payable else None,
        "view_url": f"{base}/invoices/{invoice.id}",
        "view_label": _("View and pay") if payable else _("View"),
        "pdf_url": f"{base}/invoices/{invoice.id}/pdf",
    }


def credit_note_row(note: CreditNote, *, base: str, locale: str, zone: Any) -> dict[str, Any]:
    fmt = Formatter(locale=locale, currency=note.currency, zone=zone)
    # A credit note is numbered after its invoice: ``{invoice number}-CN-{n:02d}``.
    invoice_number = note.number.rsplit("-CN-", 1)[0] if "-CN-" in note.number else None
    return {
        "number": note.number,
        "invoice_number": invoice_number,
        "issued": fmt.date(note.created_at, format="medium"),
        "total": fmt.money(note.total),
        "pdf_url": f"{base}/credit-notes/{note.id}/pdf",
    }


def payment_method(customer: Customer, _: i18n.Gettext) -> dict[str, Any] | None:
    """ "Visa •••• 4242", or None without a default payment method."""
    if not customer.default_payment_method:
        return None
    brand = customer.payment_method_brand
    label = BRANDS.get(brand or "", (brand or "").replace("_", " ").title()) or _("Card")
    last4 = customer.payment_method_last4
    return {"label": f"{label} •••• {last4}" if last4 else label}


def billing_details(customer: Customer, *, locale: str, _: i18n.Gettext) -> dict[str, Any]:
    return {
        "name": customer.name,
        "emails": list(customer.emails),
        "address_lines": documents.address_lines(
            customer.address.model_dump() if customer.address else {}, locale=locale
        ),
        "tax_ids": [f"{documents.tax_id_label(t.type, _)} {t.value}" for t in customer.tax_ids],
    }


def usage_rows(usage: Any, *, locale: str, zone: Any) -> dict[str, Any] | None:
    """The current period's usage per metric (``billing.services.usage.CustomerUsage``), or None."""
    if usage is None:
        return None
    fmt = Formatter(locale=locale, currency="usd", zone=zone)
    return {
        "period": fmt.date_range(usage.start, usage.end),
        "metrics": [
            {
                "name": m.metric.name,
                "quantity": fmt.number(m.quantity),
                "groups": [
                    {"group": g or "–", "quantity": fmt.number(q)} for g, q in (m.groups or {}).items()
                ],
            }
            for m in usage.metrics
        ],
    }


def upcoming(invoice: Invoice | None, *, locale: str, zone: Any, _: i18n.Gettext) -> dict[str, Any] | None:
    """The invoice the next billing date will draft, from the usage so far (a preview), or None."""
    if invoice is None:
        return None
    fmt = Formatter(locale=locale, currency=invoice.currency, zone=zone)
    return {
        "date": fmt.date(invoice.billing_date),
        "period": fmt.date_range(invoice.period_start, invoice.period_end),
        "lines": [
            {"title": wording.line_title(line, _), "amount": fmt.money(line.amount)} for line in invoice.lines
        ],
        "subtotal": fmt.money(invoice.subtotal),
        "discount": fmt.money(-invoice.discount) if invoice.discount else None,
        "tax": fmt.money(invoice.tax) if invoice.tax else None,
        "credit_applied": fmt.money(-invoice.credit_applied) if invoice.credit_applied else None,
        "amount_due": fmt.money(invoice.amount_due),
        "charged": invoice.collection_method == "charge_automatically",
    }


def notice(code: str | None, _: i18n.Gettext) -> str | None:
    """The one-line message shown after an action (``?notice=...`` of the redirect)."""
    return {
        "details_saved": _("Your billing details were saved."),
        "card_saved": _("Your new card is saved. It will be used for your next payments."),
        "card_pending": _("Your card is being saved. It will show here in a moment."),
        "card_canceled": _("Your payment method was not changed."),
        "card_superseded": _("Another payment method was saved after this one; it stays your default."),
    }.get(code or "")


# --------------------------------------------------------------------------- billing details form


def details_values(customer: Customer) -> dict[str, Any]:
    """The form's values as stored."""
    address = customer.address.model_dump() if customer.address else {}
    return {
        "emails": "\n".join(customer.emails),
        **{f"address.{k}": address.get(k) or "" for k in ADDRESS_FIELDS},
        "tax_ids": [{"type": t.type, "value": t.value} for t in customer.tax_ids],
        "version": str(customer.version),
    }


def details_form(
    values: Mapping[str, Any], errors: Mapping[str, str], *, locale: str, _: i18n.Gettext
) -> dict[str, Any]:
    """The billing-details form: fields with their values and errors, the countries in the reader's
    language, one empty tax id row to add one."""
    tax_rows = list(values.get("tax_ids") or [])
    if len(tax_rows) < MAX_TAX_ID_ROWS:
        tax_rows.append({"type": "", "value": ""})
    return {
        "fields": values,
        "errors": dict(errors),
        "form_error": errors.get(""),
        "countries": countries(locale),
        "tax_id_types": [{"value": t, "label": tax_id_type_label(t, _)} for t in get_args(TaxIdType)],
        "tax_rows": [
            {**row, "index": i, "error": errors.get(f"tax_ids.{i}")} for i, row in enumerate(tax_rows)
        ],
    }


def countries(locale: str) -> list[dict[str, str]]:
    """ISO 3166-1 countries named in the reader's language, in its alphabetical order."""
    from babel.core import Locale

    from billing.countries import countries as codes

    names = Locale.parse(locale).territories
    return sorted(
        ({"code": code, "name": str(names.get(code, code))} for code in codes()),
        key=lambda c: c["name"].casefold(),
    )


def tax_id_type_label(kind: str, _: i18n.Gettext) -> str:
    return {
        "eu_vat": _("EU VAT number"),
        "gb_vat": _("UK VAT number"),
        "ch_vat": _("Swiss VAT number"),
        "no_vat": _("Norwegian VAT number"),
        "au_abn": _("Australian Business Number (ABN)"),
        "nz_gst": _("New Zealand GST number"),
        "ca_bn": _("Canadian Business Number (BN)"),
        "in_gst": _("Indian GST number"),
        "jp_cn": _("Japanese Corporate Number"),
        "jp_trn": _("Japanese Registration Number"),
        "sg_gst": _("Singapore GST number"),
        "sg_uen": _("Singapore UEN"),
        "us_ein": _("US Employer Identification Number (EIN)"),
    }.get(kind, kind)


def read_details_form(form: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The posted form -> (the values to show again, the changes for ``update_customer``).

    Raises ``ValidationFailed`` (with the form's field as ``param``) for what the form itself can
    tell: a field too long, a tax id without a type."""

    def one(name: str) -> str:
        given = form.get(name) or [""]
        return str(given[0]).strip()

    emails_text = one("emails")
    emails = [e for e in _SPLIT_EMAILS.split(emails_text) if e]
    address = {k: one(f"address.{k}") for k in ADDRESS_FIELDS}
    rows: list[dict[str, str]] = []
    for i in range(MAX_TAX_ID_ROWS):
        kind, value = one(f"tax_ids.{i}.type"), one(f"tax_ids.{i}.value")
        if kind or value:
            rows.append({"type": kind, "value": value})
    values: dict[str, Any] = {
        "emails": emails_text,
        **{f"address.{k}": v for k, v in address.items()},
        "tax_ids": [{"type": r["type"], "value": r["value"]} for r in rows],
        "version": one("version"),
    }
    for key, limit in MAX_FIELD.items():
        if len(address[key]) > limit:
            raise ValidationFailed(f"{key} is too long", code="too_long", param=f"address.{key}")
    tax_ids = []
    for position, row in enumerate(rows):
        if row["type"] not in get_args(TaxIdType):
            raise ValidationFailed(
                "choose the tax id's type", code="invalid_tax_id_type", param=f"tax_ids.{position}.type"
            )
        if not row["value"] or len(row["value"]) > 40:
            raise ValidationFailed(
                "enter the tax id", code="invalid_tax_id", param=f"tax_ids.{position}.value"
            )
        tax_ids.append({"type": row["type"], "value": row["value"]})
    changes: dict[str, Any] = {"emails": emails, "tax_ids": tax_ids}
    if any(address.values()):
        changes["address"] = {k: (v or None) for k, v in address.items()}
        if not address["country"]:
            raise ValidationFailed("choose a country", code="invalid_country", param="address.country")
    else:
        changes["address"] = None
    return values, changes


def field_of(param: str | None) -> str:
    """The form field a service error names: ``emails.3`` -> ``emails``, ``tax_ids.0.value`` ->
    ``tax_ids.0``, ``address.state`` as is; anything else belongs to the whole form (``""``)."""
    if not param:
        return ""
    parts = param.split(".")
    if parts[0] == "emails":
        return "emails"
    if parts[0] == "address" and len(parts) == 2 and parts[1] in ADDRESS_FIELDS:
        return param
    if parts[0] == "tax_ids":
        return f"tax_ids.{parts[1]}" if len(parts) > 1 and parts[1].isdigit() else "tax_ids.0"
    return ""


def field_error(exc: BillingError, _: i18n.Gettext) -> tuple[str, str]:
    """(form field, message in the reader's language) for a refused change: the service's messages
    are written for developers, the customer reads these."""
    field = field_of(exc.param)
    code = exc.code
    if code == "missing_field" and field == "address.state":
        return field, _("Enter the state or province: its sales tax depends on it.")
    messages = {
        "invalid_email": _("Enter valid email addresses, one per line."),
        "duplicate_email": _("An email address is given twice."),
        "too_many_items": _("That is too many: remove some."),
        "invalid_country": _("Choose a country."),
        "invalid_state": _("Enter the state or province code (for example ON, CA or NY)."),
        "invalid_tax_id": _("This tax ID does not look right for its type."),
        "invalid_tax_id_type": _("Choose the type of this tax ID."),
        "duplicate_tax_id": _("This tax ID is given twice."),
        "tax_id_required": _("Your invoices are reverse charged: keep your VAT number."),
        "address_required": _("Your address is needed to calculate the taxes on your invoices."),
        "too_long": _("This is too long."),
        "concurrent_update": _("Your billing details were changed meanwhile. Check them and save again."),
    }
    if code == "tax_id_required":
        field = "tax_ids.0"
    return field, messages.get(code, _("Check this field."))


# --------------------------------------------------------------------------- plain pages


def message_page(
    *, title: str, message: str, locale: str, seller: AccountSettings | None, _: i18n.Gettext
) -> dict[str, Any]:
    """The context of a page that shows one message and no data (expired or unknown link)."""
    return {
        "locale": locale,
        "language": i18n.language_of(locale),
        "title": title,
        "message": message,
        "seller": documents.seller_view(seller, _, locale=locale) if seller is not None else None,
    }
