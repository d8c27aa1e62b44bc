"""HTTP API Lambda authorizer (payload 2.0, simple responses): API key -> principal.

An unknown or revoked key is passed on as unauthenticated, so the function
answers 401 with the error envelope (an HTTP API authorizer can only say 403).
API Gateway caches the answer per Authorization header (AuthorizerCacheSeconds).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from billing.observability import logger
from billing.repositories.api_keys import ApiKeyRepository
from billing.services.api_keys import authenticate
from billing.settings import get_settings

settings = get_settings()
repository = ApiKeyRepository(table_name=settings.require("billing_table"))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    key = authenticate(repository, headers.get("authorization"))
    if key is None:
        logger.info("api key not recognised", route=event.get("routeKey"))
        return {"isAuthorized": True, "context": {"authenticated": "false"}}
    logger.info("api key recognised", key_id=key.id, role=key.role.value)
    return {
        "isAuthorized": True,
        "context": {"authenticated": "true", "key_id": key.id, "role": key.role.value},
    }
