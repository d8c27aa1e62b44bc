"""Invoice documents: the frozen invoice rendered with jinja2 into print-ready HTML.

* **What is printed** comes only from the invoice as finalized (lines worded for the customer by
  ``billing.invoicing.wording``, discounts, taxes per rate with their legal mentions, totals,
  credit applied, amount due, due date, the customer snapshot) and the seller as frozen at
  finalization (``Invoice.seller_snapshot``; the current ``/v1/account`` settings for drafts).
  Amounts, numbers and dates go through ``billing.formatting`` and every word through
  ``billing.i18n``, in the customer's language (``locale_of``) and time zone.
* **The issued document** is rendered once (by the notifier, right after finalization) and stored
  in the documents bucket under ``invoices/{customer_id}/{invoice_id}.html`` (SSE-KMS by the
  bucket's default): the record of what was sent.
* **The hosted page** (``GET /i/{token}``) is rendered from the frozen invoice on each view, so
  it also shows what happened since (paid, void, credit notes, amount remaining) with the same
  template (``hosted`` is true).
* **PDF**: the same view, laid out by ``billing.pdf`` (fpdf2), stored beside the HTML
  (``invoices/{customer_id}/{invoice_id}.pdf``) by the same notifier step; the hosted page links it
  (``/i/{token}/pdf``).
* **Credit notes** get the same pair (``credit_notes/{customer_id}/{credit_note_id}.html|.pdf``),
  from ``credit_note_view``, which builds on the credited invoice's view (same customer, seller,
  locale and paper).
* **Templates** live in the package (``billing/templates``); a directory named by
  ``BILLING_TEMPLATES_DIR`` is consulted first (jinja2 ``ChoiceLoader``), so a deployment overrides
  any template by shipping a file of the same name. Autoescape is on for HTML; undefined variables
  fail the render (``StrictUndefined``) instead of printing blanks.

jinja2 and babel are imported lazily: cold starts count.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from billing import clock, i18n
from billing.formatting import Formatter, zone_named
from billing.invoicing import wording
from billing.models.account import AccountSettings
from billing.models.invoices import CreditNote, Invoice, InvoiceLine

if TYPE_CHECKING:
    import jinja2

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INVOICE_TEMPLATE = "invoice.html.j2"
CREDIT_NOTE_TEMPLATE = "credit_note.html.j2"
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PA", "DO", "PR"})
"""Countries whose paper is Letter; everyone else prints A4."""


class DocumentStore(Protocol):
    def put_html(self, key: str, html: str, *, metadata: dict[str, str] | None = None) -> None: ...

    def put_pdf(self, key: str, pdf: bytes, *, metadata: dict[str, str] | None = None) -> None: ...


class DocumentKeys(Protocol):
    def set_document_key(self, invoice_id: str, document_key: str, *, pdf_key: str | None = None) -> None: ...


class CreditNoteDocumentKeys(Protocol):
    def set_document_keys(self, credit_note_id: str, *, document_key: str, pdf_key: str) -> None: ...


def template_environment(templates_dir: str | None = None, *, locale: str = "en") -> jinja2.Environment:
    """The jinja2 environment of ``locale``'s language: the override directory first, then the
    package's templates; ``_()`` translates (billing.i18n)."""
    return _environment(templates_dir, i18n.language_of(locale))


@lru_cache(maxsize=16)
def _environment(templates_dir: str | None, language: str) -> jinja2.Environment:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def document_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.customer_id}/{invoice.id}.html"


def pdf_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.customer_id}/{invoice.id}.pdf"


def credit_note_keys(note: CreditNote) -> tuple[str, str]:
    """Where a credit note's issued HTML and PDF are stored."""
    base = f"credit_notes/{note.customer_id}/{note.id}"
    return f"{base}.html", f"{base}.pdf"


# --------------------------------------------------------------------------- who, in which language


def seller_of(invoice: Invoice, current: AccountSettings) -> AccountSettings:
    """The seller printed on ``invoice``: as frozen at its finalization, else (drafts, invoices
    issued before the snapshot existed) the current settings."""
    if invoice.seller_snapshot:
        return AccountSettings.from_snapshot(invoice.seller_snapshot)
    return current


def locale_of(invoice: Invoice, seller: AccountSettings | None = None) -> str:
    """The locale the invoice's documents are written in (``billing.i18n.document_locale``): the
    customer's preferred locales, its locale, the seller's default, English."""
    snapshot = invoice.customer_snapshot
    default = (seller or AccountSettings.model_validate(invoice.seller_snapshot or {})).default_locale
    return i18n.document_locale(
        snapshot.get("preferred_locales") or (),
        customer_locale=snapshot.get("locale"),
        default_locale=default,
    )


def customer_zone(invoice: Invoice) -> tzinfo:
    """The time zone the invoice's dates are printed in (the customer's, else UTC)."""
    return zone_named(invoice.customer_snapshot.get("time_zone"))


def formatter(invoice: Invoice, locale: str) -> Formatter:
    return Formatter(locale=locale, currency=invoice.currency, zone=customer_zone(invoice))


def format_date(value: datetime | None, *, locale: str, zone: tzinfo) -> str | None:
    return Formatter(locale=locale, currency="usd", zone=zone).date(value)


def status_label(status: str, _: i18n.Gettext) -> str:
    return {
        "draft": _("Draft"),
        "open": _("Open"),
        "paid": _("Paid"),
        "void": _("Void"),
        "uncollectible": _("Uncollectible"),
    }[status]


def tax_id_label(tax_id_type: str | None, _: i18n.Gettext) -> str:
    """How a tax registration is named on a document (``VAT``, ``GST``, ``ABN`` ...)."""
    kind = str(tax_id_type or "").split("_", 1)[-1]
    return {
        "vat": _("VAT"),
        "gst": _("GST"),
        "abn": _("ABN"),
        "bn": _("BN"),
        "cn": _("Corporate number"),
        "trn": _("Registration number"),
        "uen": _("UEN"),
        "ein": _("EIN"),
    }.get(kind, _("Tax ID"))


# --------------------------------------------------------------------------- the view


def seller_view(seller: AccountSettings, _: i18n.Gettext, *, locale: str = "en") -> dict[str, Any]:
    """What documents print about the seller."""
    return {
        "legal_name": seller.legal_name or "",
        "address_lines": address_lines(seller.address.model_dump() if seller.address else {}, locale=locale),
        "tax_ids": [f"{tax_id_label(t.type, _)} {t.value}" for t in seller.tax_ids],
        "support_email": seller.support_email,
        "support_phone": seller.support_phone,
        "logo_url": seller.logo_url,
        "brand_color": seller.brand_color,
        "invoice_footer": seller.invoice_footer,
        "payment_instructions": seller.payment_instructions,
    }


def invoice_view(
    invoice: Invoice, *, seller: AccountSettings, hosted: bool, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the invoice template prints, already formatted and translated (templates stay
    logic-free). ``seller`` is the current seller, used when the invoice has no frozen one."""
    issuer = seller_of(invoice, seller)
    locale = locale_of(invoice, issuer)
    _ = i18n.gettext_for(locale)
    fmt = formatter(invoice, locale)
    money = fmt.money

    snapshot = invoice.customer_snapshot
    address = snapshot.get("address") or {}
    country = str(address.get("country") or "")
    rate_names = {t.rate_id: t.display_name for t in invoice.taxes}
    moment = now or clock.now()
    overdue = (
        invoice.status == "open"
        and invoice.amount_remaining > 0
        and invoice.due_date is not None
        and invoice.due_date < moment
    )
    return {
        "locale": locale,
        "language": i18n.language_of(locale),
        "paper": "letter" if country in LETTER_COUNTRIES else "A4",
        "hosted": hosted,
        "seller": seller_view(issuer, _, locale=locale),
        "invoice": {
            "id": invoice.id,
            "number": invoice.number or _("DRAFT"),
            "status": invoice.status,
            "status_label": status_label(invoice.status, _),
            "overdue": overdue,
            "currency": invoice.currency.upper(),
            "collection_method": invoice.collection_method,
            "issued": fmt.date(invoice.finalized_at or invoice.created_at),
            "due": fmt.date(invoice.due_date),
            "paid": fmt.date(invoice.paid_at),
            "voided": fmt.date(invoice.voided_at),
            "period_start": fmt.date(invoice.period_start),
            "period_end": fmt.date(invoice.period_end),
            "period": fmt.date_range(invoice.period_start, invoice.period_end)
            if invoice.period_start and invoice.period_end
            else None,
        },
        "customer": {
            "name": snapshot.get("name") or "",
            "emails": list(snapshot.get("emails") or []),
            "address_lines": address_lines(address, locale=locale),
            "tax_ids": [
                f"{tax_id_label(t.get('type'), _)} {t.get('value')}" for t in snapshot.get("tax_ids") or []
            ],
        },
        "lines": [_line_view(line, fmt=fmt, _=_, rate_names=rate_names) for line in invoice.lines],
        "coupons": [{"code": c.coupon_code, "amount": money(-c.amount)} for c in invoice.coupons],
        "taxes": [
            {
                "name": t.display_name,
                "percentage": fmt.percentage(t.percentage),
                "inclusive": t.inclusive,
                "taxable_amount": money(t.taxable_amount),
                "amount": money(t.amount),
                "legal_mention": _(t.legal_mention) if t.legal_mention else None,
            }
            for t in invoice.taxes
        ],
        "legal_mentions": [_(m) for m in invoice.legal_mentions],
        "totals": {
            "subtotal": money(invoice.subtotal),
            "discount": money(-invoice.discount) if invoice.discount else None,
            "tax": money(invoice.tax),
            "total": money(invoice.total),
            "credit_applied": money(-invoice.credit_applied) if invoice.credit_applied else None,
            "amount_due": money(invoice.amount_due),
            "credit_notes": money(-invoice.credit_notes_total) if invoice.credit_notes_total else None,
            "amount_paid": money(invoice.amount_paid) if invoice.amount_paid else None,
            "amount_remaining": money(invoice.amount_remaining),
        },
    }


def address_lines(address: dict[str, Any], *, locale: str = "en") -> list[str]:
    """A postal address as printed: street lines, postal code and city (and state), the country's
    name in the reader's language."""
    if not address:
        return []
    code = str(address.get("country") or "").upper()
    postal, city, state = (address.get(k) or "" for k in ("postal_code", "city", "state"))
    if code in _CITY_STATE_POSTAL:  # New York, NY 10118
        city_line = " ".join(p for p in (", ".join(p for p in (city, state) if p), postal) if p)
        lines = [city_line]
    elif code in _CITY_THEN_POSTAL:  # London / EC1A 1BB
        lines = [", ".join(p for p in (city, state) if p), postal]
    else:  # 75002 Paris
        lines = [", ".join(p for p in (" ".join(p for p in (postal, city) if p), state) if p)]
    country = country_name(code, locale) if code else None
    return [str(p) for p in (address.get("line1"), address.get("line2"), *lines, country) if p]


_CITY_STATE_POSTAL = frozenset({"US", "CA", "AU", "PR"})
_CITY_THEN_POSTAL = frozenset({"GB", "IE"})


def country_name(code: str, locale: str) -> str:
    """``FR`` → ``France`` (``Frankreich`` in German), from CLDR; the code itself if unknown."""
    from babel.core import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(locale).territories.get(code.upper(), code))
    except (UnknownLocaleError, ValueError):
        return code


def _line_view(
    line: InvoiceLine, *, fmt: Formatter, _: i18n.Gettext, rate_names: dict[str, str]
) -> dict[str, Any]:
    title = wording.line_title(line, _)
    return {
        "title": title,
        "description": title,
        "quantity": fmt.number(line.quantity),
        "unit_price": wording.unit_price(line, fmt),
        "amount": fmt.money(line.amount),
        "discount": fmt.money(-line.discount) if line.discount else None,
        "taxes": [
            f"{rate_names.get(t.rate_id, t.rate_id)} {fmt.percentage(t.percentage)}" for t in line.taxes
        ],
        "period": fmt.date_range(line.period_start, line.period_end),
        "details": wording.line_details(line, fmt, _),
    }


# --------------------------------------------------------------------------- rendering and storing


def render_invoice(
    invoice: Invoice,
    *,
    seller: AccountSettings,
    templates_dir: str | None = None,
    hosted: bool = False,
    now: datetime | None = None,
) -> str:
    view = invoice_view(invoice, seller=seller, hosted=hosted, now=now)
    template = template_environment(templates_dir, locale=view["locale"]).get_template(INVOICE_TEMPLATE)
    return str(template.render(**view))


def render(name: str, *, templates_dir: str | None = None, **context: Any) -> str:
    """Render any template of the package (or its override) with ``context``, in the language of
    ``context["locale"]`` (English without one)."""
    env = template_environment(templates_dir, locale=str(context.get("locale") or "en"))
    return str(env.get_template(name).render(**context))


def render_invoice_pdf(invoice: Invoice, *, seller: AccountSettings, now: datetime | None = None) -> bytes:
    """The invoice as a PDF, from the same view as the HTML document."""
    from billing import pdf

    view = invoice_view(invoice, seller=seller, hosted=False, now=now)
    return pdf.render_invoice_pdf(view, gettext=i18n.gettext_for(view["locale"]))


def ensure_document(
    invoice: Invoice,
    *,
    store: DocumentStore,
    invoices: DocumentKeys,
    seller: AccountSettings,
    templates_dir: str | None = None,
) -> str:
    """Store the issued documents (HTML and PDF) once, rendered by the first call after
    finalization; the HTML's key. Each is rendered only while its key is not on the invoice, so a
    redelivery reuses them (and an invoice issued before PDFs existed gets its PDF once)."""
    key = document_key(invoice)
    pdf = pdf_key(invoice)
    if invoice.document_key == key and invoice.pdf_key == pdf:  # issued already (a redelivery)
        return key
    # A crash between a put and the bookkeeping renders and puts it again: the same content, a new
    # object version (the bucket is versioned), so no reader ever sees a missing document.
    metadata = {
        "invoice-id": invoice.id,
        "invoice-number": invoice.number or "",
        "version": str(invoice.version),
    }
    if invoice.document_key != key:
        html = render_invoice(invoice, seller=seller, templates_dir=templates_dir, hosted=False)
        store.put_html(key, html, metadata=metadata)
    store.put_pdf(pdf, render_invoice_pdf(invoice, seller=seller), metadata=metadata)
    invoices.set_document_key(invoice.id, key, pdf_key=pdf)
    return key


def hosted_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/i/{token}"


def invoice_pdf_url(public_url: str, token: str) -> str:
    """The invoice's PDF, served by the customer pages (``invoice_pdf`` in the API)."""
    return f"{hosted_url(public_url, token)}/pdf"


def credit_note_pdf_url(public_url: str, token: str, credit_note_id: str) -> str:
    """A credit note's PDF, under its invoice's hosted page."""
    return f"{hosted_url(public_url, token)}/credit-notes/{credit_note_id}/pdf"


# --------------------------------------------------------------------------- credit notes


def credit_note_view(note: CreditNote, invoice: Invoice, *, seller: AccountSettings) -> dict[str, Any]:
    """Everything the credit note's HTML and PDF print, formatted like the credited invoice's view
    (whose customer, seller, locale and paper it takes)."""
    base = invoice_view(invoice, seller=seller, hosted=False)
    locale = str(base["locale"])
    _ = i18n.gettext_for(locale)
    fmt = Formatter(locale=locale, currency=note.currency, zone=customer_zone(invoice))
    money = fmt.money
    reasons = {
        "duplicate": _("Duplicate charge"),
        "fraudulent": _("Fraudulent charge"),
        "order_change": _("Order change"),
        "product_unsatisfactory": _("Product unsatisfactory"),
        "other": _("Other"),
    }
    rate_names = {t.rate_id: t.display_name for t in invoice.taxes}
    by_rate: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for line in note.lines:
        for tax in line.taxes:
            entry = by_rate.setdefault(
                (tax.rate_id, tax.percentage, tax.inclusive),
                {"taxable": 0, "amount": 0, "legal_mention": tax.legal_mention},
            )
            entry["taxable"] += line.amount
            entry["amount"] += tax.amount
    mentions = [_(str(e["legal_mention"])) for e in by_rate.values() if e["legal_mention"]]

    return {
        "locale": locale,
        "language": base["language"],
        "paper": base["paper"],
        "hosted": False,
        "seller": base["seller"],
        "credit_note": {
            "id": note.id,
            "number": note.number,
            "issued": fmt.date(note.created_at),
            "reason": note.reason,
            "reason_label": reasons.get(note.reason, note.reason),
            "memo": note.memo,
            "currency": note.currency.upper(),
        },
        "invoice": {
            "id": invoice.id,
            "number": base["invoice"]["number"],
            "issued": base["invoice"]["issued"],
        },
        "customer": base["customer"],
        "lines": [
            {**_line_view(line, fmt=fmt, _=_, rate_names=rate_names), "details": []} for line in note.lines
        ],
        "taxes": [
            {
                "name": rate_names.get(rate_id, rate_id),
                "percentage": fmt.percentage(percentage),
                "inclusive": inclusive,
                "taxable_amount": money(entry["taxable"]),
                "amount": money(entry["amount"]),
                "legal_mention": _(str(entry["legal_mention"])) if entry["legal_mention"] else None,
            }
            for (rate_id, percentage, inclusive), entry in by_rate.items()
        ],
        "legal_mentions": list(dict.fromkeys(mentions)),
        "totals": {
            "subtotal": money(note.subtotal),
            "tax": money(note.tax),
            "total": money(note.total),
            "reduces_amount_due": money(note.reduces_amount_due) if note.reduces_amount_due else None,
            "credit_to_balance": money(note.credit_to_balance) if note.credit_to_balance else None,
            "refund_amount": money(note.refund_amount) if note.refund_amount else None,
        },
    }


def render_credit_note(
    note: CreditNote, invoice: Invoice, *, seller: AccountSettings, templates_dir: str | None = None
) -> str:
    view = credit_note_view(note, invoice, seller=seller)
    template = template_environment(templates_dir, locale=view["locale"]).get_template(CREDIT_NOTE_TEMPLATE)
    return str(template.render(**view))


def render_credit_note_pdf(note: CreditNote, invoice: Invoice, *, seller: AccountSettings) -> bytes:
    from billing import pdf

    view = credit_note_view(note, invoice, seller=seller)
    return pdf.render_credit_note_pdf(view, gettext=i18n.gettext_for(view["locale"]))


def ensure_credit_note_documents(
    note: CreditNote,
    invoice: Invoice,
    *,
    store: DocumentStore,
    credit_notes: CreditNoteDocumentKeys,
    seller: AccountSettings,
    templates_dir: str | None = None,
) -> tuple[str, str]:
    """Store the credit note's HTML and PDF once (a redelivery reuses them); their keys."""
    html_key, pdf_key_ = credit_note_keys(note)
    if note.document_key == html_key and note.pdf_key == pdf_key_:
        return html_key, pdf_key_
    metadata = {"credit-note-id": note.id, "credit-note-number": note.number, "invoice-id": invoice.id}
    html = render_credit_note(note, invoice, seller=seller, templates_dir=templates_dir)
    store.put_html(html_key, html, metadata=metadata)
    store.put_pdf(pdf_key_, render_credit_note_pdf(note, invoice, seller=seller), metadata=metadata)
    credit_notes.set_document_keys(note.id, document_key=html_key, pdf_key=pdf_key_)
    return html_key, pdf_key_
