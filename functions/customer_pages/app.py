"""The `customer_pages` function: what the business's customers open from their emails, without an
API key (the unguessable token in the link is the secret): the hosted invoice page (/i/{token}), its
Pay button (POST /i/{token}/pay → the provider's Checkout), the receipt (/i/{token}/receipt),
questions about the invoice (POST /i/{token}/questions), the PDFs of the invoice and its credit
notes (/i/{token}/pdf, /i/{token}/credit-notes/{id}/pdf), and the customer portal (/p/{token}/...,
opened from a session the API creates).

It is its own function so that the API keeps no access to documents or the payment provider's
customer-facing calls, and the pages import only what they need (jinja2 and Babel, never the API's
routers). Every page is server-rendered HTML with a strict Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from customer_pages_routes import documents, invoice_page, payment, portal, questions

from billing.http.app import make_resolver, resolve
from billing.http.auth import PUBLIC
from billing.observability import logger, metrics, tracer
from billing.settings import get_settings

settings = get_settings()
app = make_resolver(title="Customer pages", idempotency_table=None)
app.include_router(invoice_page.router)
app.include_router(documents.router)
app.include_router(payment.router)
app.include_router(questions.router)
app.include_router(portal.router)

# Every route here is public: the token in the path is checked by the page itself.
PERMISSIONS = {
    "GET /i/{token}": PUBLIC,
    "GET /i/{token}/pdf": PUBLIC,
    "GET /i/{token}/credit-notes/{credit_note_id}/pdf": PUBLIC,
    "GET /i/{token}/receipt": PUBLIC,
    "POST /i/{token}/pay": PUBLIC,
    "POST /i/{token}/questions": PUBLIC,
    # The customer portal: the session's token in the path is checked by each page.
    "GET /p/{token}": PUBLIC,
    "GET /p/{token}/invoices": PUBLIC,
    "GET /p/{token}/invoices/{invoice_id}": PUBLIC,
    "GET /p/{token}/invoices/{invoice_id}/pdf": PUBLIC,
    "GET /p/{token}/credit-notes": PUBLIC,
    "GET /p/{token}/credit-notes/{credit_note_id}/pdf": PUBLIC,
    "GET /p/{token}/billing-details": PUBLIC,
    "POST /p/{token}/billing-details": PUBLIC,
    "POST /p/{token}/payment-method": PUBLIC,
    "GET /p/{token}/payment-method/done": PUBLIC,
}


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, permissions=PERMISSIONS, max_body_bytes=settings.max_body_bytes)
