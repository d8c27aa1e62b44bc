"""The `api` function: customers, catalog, subscriptions, invoices, reports, API keys (/v1/...)."""

from __future__ import annotations

from typing import Any

from api_routes import (
    account,
    api_keys,
    billing_runs,
    coupons,
    credit_notes,
    customers,
    exports,
    invoice_queries,
    invoices,
    meta,
    payment_methods,
    plans,
    portal_sessions,
    reconciliations,
    subscriptions,
    tax_rates,
    upcoming,
    usage,
)
from api_routes import metrics as metric_routes
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing.http.app import make_resolver, resolve
from billing.http.auth import ADMINS, PUBLIC, READERS, WRITERS
from billing.observability import logger, metrics, tracer
from billing.settings import get_settings

settings = get_settings()
app = make_resolver(title="Billing API", idempotency_table=settings.idempotency_table)
app.include_router(meta.router)
app.include_router(api_keys.router)
app.include_router(account.router)
app.include_router(customers.router)
app.include_router(payment_methods.router)
app.include_router(portal_sessions.router)
app.include_router(metric_routes.router)
app.include_router(plans.router)
app.include_router(coupons.router)
app.include_router(tax_rates.router)
app.include_router(usage.router)
app.include_router(subscriptions.router)
app.include_router(upcoming.router)
app.include_router(billing_runs.router)
app.include_router(invoices.router)
app.include_router(credit_notes.router)
app.include_router(exports.router)
app.include_router(reconciliations.router)
app.include_router(invoice_queries.router)
meta.openapi_route(app)

# Who may call what: HTTP API route key -> roles. A route missing here is refused.
PERMISSIONS = {
    "GET /v1/health": PUBLIC,
    "GET /v1/openapi.json": PUBLIC,
    "GET /v1/api-keys": ADMINS,
    "POST /v1/api-keys": ADMINS,
    "GET /v1/api-keys/{key_id}": ADMINS,
    "DELETE /v1/api-keys/{key_id}": ADMINS,
    "GET /v1/account": ADMINS,
    "PATCH /v1/account": ADMINS,
    "GET /v1/account/changes": ADMINS,
    "GET /v1/customers": READERS,
    "POST /v1/customers": WRITERS,
    "GET /v1/customers/{customer_id}": READERS,
    "PATCH /v1/customers/{customer_id}": WRITERS,
    "DELETE /v1/customers/{customer_id}": WRITERS,
    "POST /v1/customers/{customer_id}/payment-methods": WRITERS,
    "POST /v1/customers/{customer_id}/setup-intents": WRITERS,
    "POST /v1/customers/{customer_id}/portal-sessions": WRITERS,
    "GET /v1/customers/{customer_id}/changes": READERS,
    "GET /v1/metrics": READERS,
    "POST /v1/metrics": WRITERS,
    "GET /v1/metrics/{code}": READERS,
    "PATCH /v1/metrics/{code}": WRITERS,
    "DELETE /v1/metrics/{code}": WRITERS,
    "GET /v1/plans": READERS,
    "POST /v1/plans": WRITERS,
    "GET /v1/plans/{code}": READERS,
    "PATCH /v1/plans/{code}": WRITERS,
    "DELETE /v1/plans/{code}": WRITERS,
    "GET /v1/plans/{code}/versions": READERS,
    "GET /v1/coupons": READERS,
    "POST /v1/coupons": WRITERS,
    "GET /v1/coupons/{code}": READERS,
    "PATCH /v1/coupons/{code}": WRITERS,
    "DELETE /v1/coupons/{code}": WRITERS,
    "GET /v1/tax-rates": READERS,
    "POST /v1/tax-rates": WRITERS,
    "GET /v1/tax-rates/{tax_rate_id}": READERS,
    "PATCH /v1/tax-rates/{tax_rate_id}": WRITERS,
    "DELETE /v1/tax-rates/{tax_rate_id}": WRITERS,
    "GET /v1/customers/{customer_id}/usage": READERS,
    "GET /v1/subscriptions": READERS,
    "POST /v1/subscriptions": WRITERS,
    "GET /v1/subscriptions/{subscription_id}": READERS,
    "PATCH /v1/subscriptions/{subscription_id}": WRITERS,
    "POST /v1/subscriptions/{subscription_id}/cancel": WRITERS,
    "POST /v1/subscriptions/{subscription_id}/pause": WRITERS,
    "POST /v1/subscriptions/{subscription_id}/resume": WRITERS,
    "GET /v1/subscriptions/{subscription_id}/changes": READERS,
    "GET /v1/invoices/upcoming": READERS,
    "GET /v1/billing-runs": READERS,
    "POST /v1/billing-runs": WRITERS,
    "GET /v1/billing-runs/{run_id}": READERS,
    "GET /v1/invoices": READERS,
    "POST /v1/invoices": WRITERS,
    "GET /v1/invoices/{invoice_id}": READERS,
    "DELETE /v1/invoices/{invoice_id}": WRITERS,
    "GET /v1/invoices/{invoice_id}/lines": READERS,
    "POST /v1/invoices/{invoice_id}/finalize": WRITERS,
    "POST /v1/invoices/{invoice_id}/void": WRITERS,
    "POST /v1/invoices/{invoice_id}/mark-uncollectible": WRITERS,
    "POST /v1/invoices/{invoice_id}/pay": WRITERS,
    "GET /v1/credit-notes": READERS,
    "POST /v1/credit-notes": WRITERS,
    "GET /v1/credit-notes/{credit_note_id}": READERS,
    "GET /v1/exports/journal": READERS,
    "POST /v1/reconciliations": WRITERS,
    "GET /v1/reconciliations": READERS,
    "GET /v1/reconciliations/{reconciliation_id}": READERS,
    "GET /v1/invoice-queries": READERS,
    "GET /v1/invoice-queries/{query_id}": READERS,
    "POST /v1/invoice-queries/{query_id}/resolve": WRITERS,
}


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, permissions=PERMISSIONS, max_body_bytes=settings.max_body_bytes)
