"""GET /i/{token}/pdf and /i/{token}/credit-notes/{credit_note_id}/pdf: the PDFs of a hosted
invoice and of its credit notes (no API key; the invoice's token is the secret).

Served from the documents bucket (the issued PDF the notifier stored), rendered from the frozen
documents when not stored yet. The body is binary: Powertools base64-encodes it and sets
``isBase64Encoded`` as API Gateway HTTP APIs require. Anything unknown gets the plain 404 page.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.gateways.aws import DocumentStore
from billing.services import hosted as service
from billing.settings import get_settings
from customer_pages_routes.common import HTML, headers, pages

router = Router()

PDF_CSP = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""Chrome shows a PDF through an <embed> in a page of its own, which object-src / default-src 'none'
would block: a PDF runs no page scripts, so it keeps only the directives that matter."""


@cache
def store() -> DocumentStore:
    return DocumentStore(bucket=get_settings().require("documents_bucket"))


def _pdf(found: service.PdfFile | None) -> Response[Any]:
    if found is None:  # unknown, malformed or foreign token or id: the page's plain 404
        return Response(status_code=404, content_type=HTML, body=service.NOT_FOUND_PAGE, headers=headers())
    pdf_headers = {
        **headers(),
        "Content-Security-Policy": PDF_CSP,
        "Content-Disposition": f'inline; filename="{found.filename}"',
    }
    return Response(status_code=200, content_type="application/pdf", body=found.body, headers=pdf_headers)


# The PDF routes have no return annotation on purpose: with one, Powertools' response validation would
# serialize the binary body as JSON text (and fail); without one, a non-JSON response passes as is.


@router.get("/i/<token>/pdf", include_in_schema=False)
def invoice_pdf(token: str):
    deps = pages()
    return _pdf(service.hosted_invoice_pdf(deps.invoices, store(), token, seller=deps.seller))


@router.get("/i/<token>/credit-notes/<credit_note_id>/pdf", include_in_schema=False)
def credit_note_pdf(token: str, credit_note_id: str):
    deps = pages()
    return _pdf(
        service.hosted_credit_note_pdf(
            deps.invoices, deps.credit_notes, store(), token, credit_note_id, seller=deps.seller
        )
    )
