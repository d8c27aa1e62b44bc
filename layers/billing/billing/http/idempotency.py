"""`Idempotency-Key` on POST, through Powertools idempotency on the IdempotencyTable.

The key is scoped to the caller and the route; the stored record holds the
response, so a retry gets the first answer (with `Idempotent-Replayed: true`).
A reuse of the key with a different body is refused. Errors are not stored,
so a request that failed can be retried with the same key.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from billing.errors import Conflict, ValidationFailed

HEADER = "idempotency-key"
EXPIRES_AFTER_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@lru_cache(maxsize=1)
def _persistence(table_name: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table_name)


def _config() -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[principal, method, path, key]",
        payload_validation_jmespath="body_sha256",
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )


def middleware(table_name: str) -> Any:
    """A resolver middleware that makes every POST with an Idempotency-Key idempotent."""

    def idempotency_middleware(app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        key = (event.headers or {}).get(HEADER)
        if event.http_method != "POST" or key is None:
            return next_middleware(app)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                code="invalid_idempotency_key",
                param="Idempotency-Key",
            )
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        ran = False

        config = _config()
        if getattr(app, "lambda_context", None) is not None:
            config.register_lambda_context(app.lambda_context)

        @idempotent_function(
            data_keyword_argument="request", config=config, persistence_store=_persistence(table_name)
        )
        def run(request: dict[str, Any]) -> dict[str, Any]:
            nonlocal ran
            ran = True
            response = next_middleware(app)
            body = response.body
            if body is not None and not isinstance(body, str | bytes):
                body = app._serializer(body)
            if isinstance(body, bytes):
                body = body.decode()
            return {"status_code": response.status_code, "body": body, "content_type": "application/json"}

        lam = (event.request_context.authorizer.get_lambda or {}) if event.request_context.authorizer else {}
        request = {
            "principal": str(lam.get("key_id", "anonymous")),
            "method": event.http_method,
            "path": event.path,
            "key": key,
            "body_sha256": hashlib.sha256((event.body or "").encode()).hexdigest(),
        }
        try:
            stored = run(request=request)
        except IdempotencyValidationError:
            raise ValidationFailed(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
                param="Idempotency-Key",
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry later.",
                code="idempotency_request_in_progress",
                param="Idempotency-Key",
            ) from None
        headers = {"Idempotency-Key": key}
        if not ran:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            status_code=int(stored["status_code"]),
            content_type=stored["content_type"],
            body=stored["body"],
            headers=headers,
        )

    return idempotency_middleware
