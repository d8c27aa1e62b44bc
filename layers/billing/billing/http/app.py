"""The resolver every HTTP function uses: validation, error envelope, auth, idempotency, OpenAPI."""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from billing.errors import BillingError, PayloadTooLarge
from billing.http import errors as http_errors
from billing.http.auth import Principal, check_access
from billing.models.api_keys import Role
from billing.observability import logger, metrics

API_VERSION = "2026-11-01"


def make_resolver(*, title: str, idempotency_table: str | None) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    app.configure_openapi(
        title=title,
        version=API_VERSION,
        description="Serverless billing API. Amounts are integers in minor units; errors use one envelope.",
    )
    if idempotency_table:
        from billing.http.idempotency import middleware

        app.use(middlewares=[middleware(idempotency_table)])

    @app.exception_handler(BillingError)
    def billing_error(exc: BillingError) -> Response[Any]:
        status = http_errors.status_for(exc)
        request_id = _request_id(app)
        if status >= 500:
            logger.exception("request failed", code=exc.code)
        else:
            logger.info("request refused", code=exc.code, param=exc.param, status=int(status))
        return _json(
            status,
            http_errors.envelope(
                type_=exc.type,
                code=exc.code,
                message=exc.message,
                param=exc.param,
                request_id=request_id if status >= 500 else None,
            ),
        )

    @app.exception_handler(RequestValidationError)
    def validation_error(exc: RequestValidationError) -> Response[Any]:
        status, body = http_errors.from_validation_errors(list(exc.errors()))
        logger.info("request invalid", code=body["error"]["code"], param=body["error"]["param"])
        return _json(status, body)

    @app.not_found
    def not_found(_exc: Exception) -> Response[Any]:
        return _json(
            HTTPStatus.NOT_FOUND,
            http_errors.envelope(
                type_="invalid_request_error",
                code="route_not_found",
                message=f"No route {app.current_event.http_method} {app.current_event.path}.",
            ),
        )

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[Any]:
        request_id = _request_id(app)
        logger.exception("unhandled error", request_id=request_id)
        metrics.add_metric(name="UnhandledErrors", unit="Count", value=1)
        return _json(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            http_errors.envelope(
                type_="api_error",
                code="internal_error",
                message="An unexpected error occurred; it has been logged. Quote the request id when asking for help.",
                request_id=request_id,
            ),
        )

    return app


def resolve(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: Any,
    *,
    permissions: Mapping[str, Collection[Role]],
    max_body_bytes: int,
) -> dict[str, Any]:
    """Checks that need no route (size, auth by route key), then the resolver."""
    try:
        _check_size(event, max_body_bytes)
        check_access(event, permissions)
    except BillingError as exc:
        status = http_errors.status_for(exc)
        logger.info("request refused", code=exc.code, status=int(status))
        return http_errors.lambda_proxy_response(
            int(status),
            http_errors.envelope(type_=exc.type, code=exc.code, message=exc.message, param=exc.param),
        )
    return app.resolve(event, context)


def current_principal(app: APIGatewayHttpResolver) -> Principal:
    from billing.http.auth import principal_from_event

    principal = principal_from_event(app.current_event.raw_event)
    if principal is None:  # resolve() has already refused such a request
        from billing.errors import Unauthenticated

        raise Unauthenticated("A valid API key is required.", code="invalid_api_key")
    return principal


def _check_size(event: Mapping[str, Any], limit: int) -> None:
    body = event.get("body")
    if not body:
        return
    size = len(base64.b64decode(body)) if event.get("isBase64Encoded") else len(str(body).encode())
    if size > limit:
        raise PayloadTooLarge(
            f"The request body is {size} bytes; the limit is {limit}.", code="payload_too_large"
        )


def _request_id(app: APIGatewayHttpResolver) -> str | None:
    try:
        return str(app.current_event.request_context.request_id)
    except (AttributeError, KeyError):
        return None


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body)
