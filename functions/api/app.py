"""The `api` function: customers, catalog, subscriptions, invoices, reports, API keys (/v1/...)."""

from __future__ import annotations

from typing import Any

from api_routes import api_keys, meta
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing.http.app import make_resolver, resolve
from billing.http.auth import ADMINS, PUBLIC
from billing.observability import logger, metrics, tracer
from billing.settings import get_settings

settings = get_settings()
app = make_resolver(title="Billing API", idempotency_table=settings.idempotency_table)
app.include_router(meta.router)
app.include_router(api_keys.router)
meta.openapi_route(app)

# Who may call what: HTTP API route key -> roles. A route missing here is refused.
PERMISSIONS = {
    "GET /v1/health": PUBLIC,
    "GET /v1/openapi.json": PUBLIC,
    "GET /v1/api-keys": ADMINS,
    "POST /v1/api-keys": ADMINS,
    "GET /v1/api-keys/{key_id}": ADMINS,
    "DELETE /v1/api-keys/{key_id}": ADMINS,
}


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, permissions=PERMISSIONS, max_body_bytes=settings.max_body_bytes)
