"""GET /i/{token}: the hosted invoice page, for the customer (no API key; the token is the secret).

The page is rendered from the frozen invoice on each view (documents.render_invoice with
``hosted=True``), so it shows the invoice's current state (paid, void, credit notes). An unknown
token gets a plain 404 page, never a hint whether such an invoice exists.
"""

from __future__ import annotations

import re
from functools import cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.repositories.invoices import InvoiceRepository
from billing.services import hosted as service
from billing.settings import get_settings

router = Router()


@cache
def invoices() -> InvoiceRepository:
    """Built on the first request (never at import)."""
    return InvoiceRepository(table_name=get_settings().require("billing_table"))


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
HTML = "text/html; charset=utf-8"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


@router.get("/i/<token>", include_in_schema=False)
def hosted_invoice(token: str) -> Response[str]:
    settings = get_settings()
    html = None
    if _TOKEN.match(token):
        html = service.hosted_invoice_page(
            invoices(), token, branding=settings.branding, templates_dir=settings.templates_dir
        )
    if html is None:
        return Response(status_code=404, content_type=HTML, body=service.NOT_FOUND_PAGE, headers=HEADERS)
    return Response(status_code=200, content_type=HTML, body=html, headers=HEADERS)
