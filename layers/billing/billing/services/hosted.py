"""The customers' pages behind an invoice's hosted token: the page itself (HTML rendered from the
frozen invoice on each view) and the PDFs of the invoice and its credit notes.

A PDF is served from the documents bucket, where the notifier stored the issued one; until it has
(the notification is queued, or failed for a while), the same document is rendered from the frozen
invoice on the fly and served without being stored: the customer never waits for the queue, and this
function needs no write access to the bucket.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from billing.models.account import AccountSettings
from billing.models.invoices import Invoice
from billing.observability import logger
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.invoices import InvoiceRepository
from billing.services import documents

NOT_FOUND_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invoice not found</title>'
    '<meta name="robots" content="noindex"></head><body><h1>Invoice not found</h1>'
    "<p>This link is not valid. Please use the link in your invoice email.</p></body></html>"
)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_CREDIT_NOTE_ID = re.compile(r"^cn_[0-9a-f]{16}$")


class DocumentReader(Protocol):
    def get(self, key: str) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class PdfFile:
    filename: str
    """``{number}.pdf``, safe in a ``Content-Disposition`` header."""
    body: bytes


def hosted_invoice(invoices: InvoiceRepository, token: str) -> Invoice | None:
    """The finalized invoice whose hosted token is ``token`` (None for anything else)."""
    if not _TOKEN.match(token):
        return None
    invoice_id = invoices.invoice_id_for_token(token)
    invoice = invoices.get(invoice_id) if invoice_id else None
    if invoice is None or invoice.hosted_token != token or invoice.status == "draft":
        return None
    return invoice


def hosted_invoice_page(
    invoices: InvoiceRepository,
    token: str,
    *,
    seller: Callable[[], AccountSettings],
    templates_dir: str | None = None,
) -> str | None:
    """The page for ``token``, or None when no finalized invoice has it. ``seller`` reads the current
    seller, printed only on invoices finalized before their seller was frozen on them."""
    invoice = hosted_invoice(invoices, token)
    if invoice is None:
        return None
    logger.info("hosted invoice viewed", invoice_id=invoice.id, number=invoice.number)
    view = documents.invoice_view(invoice, seller=_current(invoice, seller), hosted=True)
    # The "Download PDF" link, relative to /i/{token} (page-only: the issued document has none).
    return documents.render(
        documents.INVOICE_TEMPLATE, templates_dir=templates_dir, **view, pdf_href=f"{token}/pdf"
    )


def hosted_invoice_pdf(
    invoices: InvoiceRepository, store: DocumentReader, token: str, *, seller: Callable[[], AccountSettings]
) -> PdfFile | None:
    """The issued PDF of the invoice behind ``token`` (rendered if not stored yet), or None."""
    invoice = hosted_invoice(invoices, token)
    if invoice is None:
        return None
    body = store.get(invoice.pdf_key) if invoice.pdf_key else None
    if body is None:
        logger.info("invoice PDF not stored yet: rendered", invoice_id=invoice.id)
        body = documents.render_invoice_pdf(invoice, seller=_current(invoice, seller))
    logger.info("invoice PDF downloaded", invoice_id=invoice.id, number=invoice.number)
    return PdfFile(filename=_filename(invoice.number or invoice.id), body=body)


def hosted_credit_note_pdf(
    invoices: InvoiceRepository,
    credit_notes: CreditNoteRepository,
    store: DocumentReader,
    token: str,
    credit_note_id: str,
    *,
    seller: Callable[[], AccountSettings],
) -> PdfFile | None:
    """The PDF of a credit note of the invoice behind ``token``, or None (unknown token, unknown
    credit note, or one of another invoice: the same answer for all three)."""
    invoice = hosted_invoice(invoices, token)
    if invoice is None or not _CREDIT_NOTE_ID.match(credit_note_id):
        return None
    note = credit_notes.get(credit_note_id)
    if note is None or note.invoice_id != invoice.id:
        return None
    body = store.get(note.pdf_key) if note.pdf_key else None
    if body is None:
        logger.info("credit note PDF not stored yet: rendered", credit_note_id=note.id)
        body = documents.render_credit_note_pdf(note, invoice, seller=_current(invoice, seller))
    logger.info("credit note PDF downloaded", credit_note_id=note.id, number=note.number)
    return PdfFile(filename=_filename(note.number), body=body)


def _filename(number: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", number) + ".pdf"


def _current(invoice: Invoice, seller: Callable[[], AccountSettings]) -> AccountSettings:
    """The current seller, read only for an invoice that has no frozen one."""
    return AccountSettings() if invoice.seller_snapshot else seller()
