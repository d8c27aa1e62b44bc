"""The hosted invoice page: token -> invoice -> HTML, rendered from the frozen invoice."""

from __future__ import annotations

from billing.models.branding import Branding
from billing.observability import logger
from billing.repositories.invoices import InvoiceRepository
from billing.services import documents

NOT_FOUND_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invoice not found</title>'
    '<meta name="robots" content="noindex"></head><body><h1>Invoice not found</h1>'
    "<p>This link is not valid. Please use the link in your invoice email.</p></body></html>"
)


def hosted_invoice_page(
    invoices: InvoiceRepository, token: str, *, branding: Branding, templates_dir: str | None = None
) -> str | None:
    """The page for ``token``, or None when no finalized invoice has it."""
    invoice_id = invoices.invoice_id_for_token(token)
    invoice = invoices.get(invoice_id) if invoice_id else None
    if invoice is None or invoice.hosted_token != token or invoice.status == "draft":
        return None
    logger.info("hosted invoice viewed", invoice_id=invoice.id, number=invoice.number)
    return documents.render_invoice(invoice, branding=branding, templates_dir=templates_dir, hosted=True)
