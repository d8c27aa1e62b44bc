"""The hosted invoice page: token -> invoice -> HTML, rendered from the frozen invoice."""

from __future__ import annotations

from collections.abc import Callable

from billing.models.account import AccountSettings
from billing.observability import logger
from billing.repositories.invoices import InvoiceRepository
from billing.services import documents

NOT_FOUND_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invoice not found</title>'
    '<meta name="robots" content="noindex"></head><body><h1>Invoice not found</h1>'
    "<p>This link is not valid. Please use the link in your invoice email.</p></body></html>"
)


def hosted_invoice_page(
    invoices: InvoiceRepository,
    token: str,
    *,
    seller: Callable[[], AccountSettings],
    templates_dir: str | None = None,
) -> str | None:
    """The page for ``token``, or None when no finalized invoice has it. ``seller`` reads the current
    seller, printed only on invoices finalized before their seller was frozen on them."""
    invoice_id = invoices.invoice_id_for_token(token)
    invoice = invoices.get(invoice_id) if invoice_id else None
    if invoice is None or invoice.hosted_token != token or invoice.status == "draft":
        return None
    logger.info("hosted invoice viewed", invoice_id=invoice.id, number=invoice.number)
    current = AccountSettings() if invoice.seller_snapshot else seller()
    return documents.render_invoice(invoice, seller=current, templates_dir=templates_dir, hosted=True)
