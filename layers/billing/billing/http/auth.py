"""Who is calling, and may they call this route.

The Lambda authorizer (functions/authorizer) resolves the API key and puts the
principal in the request context; API Gateway runs it before the function
(the local gateway does the same). Permissions are a table of route key ->
roles, kept by each function and checked before the route runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from billing.errors import Forbidden, Unauthenticated
from billing.models.api_keys import Role

ALL_ROLES = frozenset(Role)
READERS = frozenset({Role.ADMIN, Role.BILLING, Role.READ_ONLY})
WRITERS = frozenset({Role.ADMIN, Role.BILLING})
ADMINS = frozenset({Role.ADMIN})
USAGE_SENDERS = frozenset({Role.ADMIN, Role.USAGE})
PUBLIC: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role

    def to_context(self) -> dict[str, str]:
        return {"authenticated": "true", "key_id": self.key_id, "role": self.role.value}


def principal_from_event(event: Mapping[str, Any]) -> Principal | None:
    """The authenticated caller, from an HTTP API v2 event's authorizer context."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    ctx = authorizer.get("lambda") or {}
    if ctx.get("authenticated") != "true":
        return None
    try:
        return Principal(key_id=str(ctx["key_id"]), role=Role(ctx["role"]))
    except (KeyError, ValueError):
        return None


def check_access(event: Mapping[str, Any], permissions: Mapping[str, Collection[Role]]) -> Principal | None:
    """Raise Unauthenticated/Forbidden unless the caller may call this route; returns the principal.

    Routes missing from the table are refused: a new route must say who may call it.
    """
    route_key = str(event.get("routeKey", ""))
    allowed = permissions.get(route_key)
    if allowed is not None and not allowed:
        return None  # public route (no authorizer in front of it)
    principal = principal_from_event(event)
    if principal is None:
        raise Unauthenticated(
            "A valid API key is required: send `Authorization: Bearer <key>`.", code="invalid_api_key"
        )
    if allowed is None or principal.role not in allowed:
        raise Forbidden(
            f"The role '{principal.role.value}' may not call {route_key}.", code="insufficient_role"
        )
    return principal
