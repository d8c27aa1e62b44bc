"""Invoice documents: the frozen invoice rendered with jinja2 into print-ready HTML.

* **What is printed** comes only from the invoice as finalized (lines with their explanations,
  discounts, taxes per rate with their legal mentions, totals, credit applied, amount due, due
  date, the customer snapshot) and the seller's ``Branding`` settings. Amounts are formatted with
  ``billing.money.format_money`` and dates with ``babel.dates`` in the customer's locale and time
  zone.
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

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from billing import clock, i18n
from billing.models.branding import Branding
from billing.models.invoices import Invoice, InvoiceLine
from billing.money import currency_exponent, format_money

if TYPE_CHECKING:
    import jinja2

    from billing.models.invoices import CreditNote

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INVOICE_TEMPLATE = "invoice.html.j2"
CREDIT_NOTE_TEMPLATE = "credit_note.html.j2"
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PA", "DO", "PR"})
"""Countries whose paper is Letter; everyone else prints A4."""
STATUS_LABELS = {
    "draft": "Draft",
    "open": "Open",
    "paid": "Paid",
    "void": "Void",
    "uncollectible": "Uncollectible",
}


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


# --------------------------------------------------------------------------- formatting


def locale_of(invoice: Invoice) -> str:
    """The customer's locale at finalization (``en`` if unknown to babel)."""
    from babel.core import Locale, UnknownLocaleError

    value = str(invoice.customer_snapshot.get("locale") or "en").replace("-", "_")
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError, TypeError):
        return "en"
    return value


def _zone(invoice: Invoice) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(invoice.customer_snapshot.get("time_zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def customer_zone(invoice: Invoice) -> Any:
    """The time zone the invoice's dates are printed in (the customer's, else UTC)."""
    return _zone(invoice)


def format_date(value: datetime | None, *, locale: str, zone: Any) -> str | None:
    from babel.dates import format_date as babel_format_date

    if value is None:
        return None
    return str(babel_format_date(value.astimezone(zone).date(), format="long", locale=locale))


def format_quantity(value: str, *, locale: str) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(Decimal(value), locale=locale, decimal_quantization=False))


def format_percentage(value: str, *, locale: str) -> str:
    from babel.numbers import format_percent

    return str(format_percent(Decimal(value) / 100, format="#,##0.####%", locale=locale))


def format_unit_price(minor: str, currency: str, *, locale: str) -> str:
    """A unit price in minor units that may have decimals (``"0.5"`` cents), shown in full."""
    from babel.numbers import format_currency

    value = Decimal(minor)
    if value == value.to_integral_value():
        return format_money(int(value), currency, locale)
    major = value.scaleb(-currency_exponent(currency))
    return str(
        format_currency(
            major, currency.upper(), locale=locale, currency_digits=True, decimal_quantization=False
        )
    )


# --------------------------------------------------------------------------- the view


def invoice_view(
    invoice: Invoice, *, branding: Branding, hosted: bool, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the invoice template prints, already formatted (templates stay logic-free)."""
    locale = locale_of(invoice)
    zone = _zone(invoice)
    currency = invoice.currency

    def money(amount: int) -> str:
        return format_money(amount, currency, locale)

    def date(value: datetime | None) -> str | None:
        return format_date(value, locale=locale, zone=zone)

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
        "paper": "letter" if country in LETTER_COUNTRIES else "A4",
        "hosted": hosted,
        "branding": branding,
        "invoice": {
            "id": invoice.id,
            "number": invoice.number or "DRAFT",
            "status": invoice.status,
            "status_label": STATUS_LABELS[invoice.status],
            "overdue": overdue,
            "currency": currency.upper(),
            "collection_method": invoice.collection_method,
            "issued": date(invoice.finalized_at or invoice.created_at),
            "due": date(invoice.due_date),
            "paid": date(invoice.paid_at),
            "voided": date(invoice.voided_at),
            "period_start": date(invoice.period_start),
            "period_end": date(invoice.period_end),
        },
        "customer": {
            "name": snapshot.get("name") or "",
            "emails": list(snapshot.get("emails") or []),
            "address_lines": _address_lines(address),
            "tax_ids": [f"{t.get('value')}" for t in snapshot.get("tax_ids") or []],
        },
        "lines": [
            _line_view(line, money=money, date=date, locale=locale, rate_names=rate_names, currency=currency)
            for line in invoice.lines
        ],
        "coupons": [{"code": c.coupon_code, "amount": money(-c.amount)} for c in invoice.coupons],
        "taxes": [
            {
                "name": t.display_name,
                "percentage": format_percentage(t.percentage, locale=locale),
                "inclusive": t.inclusive,
                "taxable_amount": money(t.taxable_amount),
                "amount": money(t.amount),
                "legal_mention": t.legal_mention,
            }
            for t in invoice.taxes
        ],
        "legal_mentions": list(invoice.legal_mentions),
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


def _address_lines(address: dict[str, Any]) -> list[str]:
    if not address:
        return []
    city = " ".join(str(p) for p in (address.get("postal_code"), address.get("city")) if p)
    region = ", ".join(str(p) for p in (city, address.get("state")) if p)
    return [str(p) for p in (address.get("line1"), address.get("line2"), region, address.get("country")) if p]


def _line_view(
    line: InvoiceLine,
    *,
    money: Any,
    date: Any,
    locale: str,
    rate_names: dict[str, str],
    currency: str,
) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": format_quantity(line.quantity, locale=locale),
        "unit_price": format_unit_price(line.unit_amount_decimal, currency, locale=locale)
        if line.unit_amount_decimal is not None
        else None,
        "amount": money(line.amount),
        "discount": money(-line.discount) if line.discount else None,
        "taxes": [
            f"{rate_names.get(t.rate_id, t.rate_id)} {format_percentage(t.percentage, locale=locale)}"
            for t in line.taxes
        ],
        "period": " – ".join(p for p in (date(line.period_start), date(line.period_end)) if p) or None,
        "explanations": [str(b["explanation"]) for b in line.breakdown if b.get("explanation")],
    }


# --------------------------------------------------------------------------- rendering and storing


def render_invoice(
    invoice: Invoice,
    *,
    branding: Branding,
    templates_dir: str | None = None,
    hosted: bool = False,
    now: datetime | None = None,
) -> str:
    view = invoice_view(invoice, branding=branding, hosted=hosted, now=now)
    template = template_environment(templates_dir, locale=view["locale"]).get_template(INVOICE_TEMPLATE)
    return str(template.render(**view))


def render(name: str, *, templates_dir: str | None = None, **context: Any) -> str:
    """Render any template of the package (or its override) with ``context``, in the language of
    ``context["locale"]`` (English without one)."""
    env = template_environment(templates_dir, locale=str(context.get("locale") or "en"))
    return str(env.get_template(name).render(**context))


def render_invoice_pdf(invoice: Invoice, *, branding: Branding, now: datetime | None = None) -> bytes:
    """The invoice as a PDF, from the same view as the HTML document."""
    from billing import pdf

    view = invoice_view(invoice, branding=branding, hosted=False, now=now)
    return pdf.render_invoice_pdf(view, gettext=i18n.gettext_for(view["locale"]))


def ensure_document(
    invoice: Invoice,
    *,
    store: DocumentStore,
    invoices: DocumentKeys,
    branding: Branding,
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
        html = render_invoice(invoice, branding=branding, templates_dir=templates_dir, hosted=False)
        store.put_html(key, html, metadata=metadata)
    store.put_pdf(pdf, render_invoice_pdf(invoice, branding=branding), metadata=metadata)
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


def credit_note_view(note: CreditNote, invoice: Invoice, *, branding: Branding) -> dict[str, Any]:
    """Everything the credit note's HTML and PDF print, formatted like the credited invoice's view
    (whose customer, seller, locale and paper it takes)."""
    from billing import pdf

    base = invoice_view(invoice, branding=branding, hosted=False)
    locale = str(base["locale"])
    _ = i18n.gettext_for(locale)
    currency = note.currency
    zone = _zone(invoice)

    def money(amount: int) -> str:
        return format_money(amount, currency, locale)

    def date(value: datetime | None) -> str | None:
        return format_date(value, locale=locale, zone=zone)

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
    mentions = [str(e["legal_mention"]) for e in by_rate.values() if e["legal_mention"]]

    return {
        "locale": locale,
        "paper": base["paper"],
        "hosted": False,
        "seller": pdf.adapt_view(base, gettext=_)["seller"],
        "credit_note": {
            "id": note.id,
            "number": note.number,
            "issued": date(note.created_at),
            "reason": note.reason,
            "reason_label": reasons.get(note.reason, note.reason),
            "memo": note.memo,
            "currency": currency.upper(),
        },
        "invoice": {
            "id": invoice.id,
            "number": base["invoice"]["number"],
            "issued": base["invoice"]["issued"],
        },
        "customer": pdf.adapt_view(base, gettext=_)["customer"],
        "lines": [
            _credit_line_view(
                line, money=money, date=date, locale=locale, rate_names=rate_names, currency=currency
            )
            for line in note.lines
        ],
        "taxes": [
            {
                "name": rate_names.get(rate_id, rate_id),
                "percentage": format_percentage(percentage, locale=locale),
                "inclusive": inclusive,
                "taxable_amount": money(entry["taxable"]),
                "amount": money(entry["amount"]),
                "legal_mention": entry["legal_mention"],
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


def _credit_line_view(
    line: InvoiceLine, *, money: Any, date: Any, locale: str, rate_names: dict[str, str], currency: str
) -> dict[str, Any]:
    """A credited line as the invoice's lines read, without the breakdown (a credit line's is for
    the API: "credit of 2500 on invoice line il_...")."""
    view = _line_view(line, money=money, date=date, locale=locale, rate_names=rate_names, currency=currency)
    view.pop("explanations", None)
    view["details"] = []
    return view


def render_credit_note(
    note: CreditNote, invoice: Invoice, *, branding: Branding, templates_dir: str | None = None
) -> str:
    view = credit_note_view(note, invoice, branding=branding)
    template = template_environment(templates_dir, locale=view["locale"]).get_template(CREDIT_NOTE_TEMPLATE)
    return str(template.render(**view))


def render_credit_note_pdf(note: CreditNote, invoice: Invoice, *, branding: Branding) -> bytes:
    from billing import pdf

    view = credit_note_view(note, invoice, branding=branding)
    return pdf.render_credit_note_pdf(view, gettext=i18n.gettext_for(view["locale"]))


def ensure_credit_note_documents(
    note: CreditNote,
    invoice: Invoice,
    *,
    store: DocumentStore,
    credit_notes: CreditNoteDocumentKeys,
    branding: Branding,
    templates_dir: str | None = None,
) -> tuple[str, str]:
    """Store the credit note's HTML and PDF once (a redelivery reuses them); their keys."""
    html_key, pdf_key_ = credit_note_keys(note)
    if note.document_key == html_key and note.pdf_key == pdf_key_:
        return html_key, pdf_key_
    metadata = {"credit-note-id": note.id, "credit-note-number": note.number, "invoice-id": invoice.id}
    html = render_credit_note(note, invoice, branding=branding, templates_dir=templates_dir)
    store.put_html(html_key, html, metadata=metadata)
    store.put_pdf(pdf_key_, render_credit_note_pdf(note, invoice, branding=branding), metadata=metadata)
    credit_notes.set_document_keys(note.id, document_key=html_key, pdf_key=pdf_key_)
    return html_key, pdf_key_
