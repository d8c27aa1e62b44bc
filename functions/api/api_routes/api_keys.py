"""/v1/api-keys: create (the key is shown once), list, get, revoke. Admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.api_keys import ApiKey, Role
from billing.observability import logger, metrics
from billing.repositories.api_keys import ApiKeyRepository
from billing.repositories.dynamo import decode_cursor
from billing.services import api_keys as service
from billing.settings import get_settings

router = Router()
_repo: ApiKeyRepository | None = None


def repo() -> ApiKeyRepository:
    global _repo  # noqa: PLW0603 - built once per container
    if _repo is None:
        _repo = ApiKeyRepository(table_name=get_settings().require("billing_table"))
    return _repo


class CreateApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    role: Role


class ApiKeyOut(BaseModel):
    object: str = "api_key"
    id: str
    name: str
    role: Role
    last4: str = Field(description="The last four characters of the key, to recognise it.")
    created_at: datetime
    created_by: str | None
    revoked: bool
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            role=key.role,
            last4=key.last4,
            created_at=key.created_at,
            created_by=key.created_by,
            revoked=not key.active,
            revoked_at=key.revoked_at,
        )


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(description="The secret key. It is shown only in this response and stored only hashed.")


@router.post("/v1/api-keys", status_code=201, tags=["api-keys"], summary="Create an API key")
def create_api_key(body: CreateApiKeyRequest) -> CreatedApiKeyOut:
    principal = current_principal(router)  # type: ignore[arg-type]
    key, token = service.create_api_key(repo(), name=body.name, role=body.role, created_by=principal.key_id)
    logger.info("api key created", key_id=key.id, role=key.role.value, by=principal.key_id)
    metrics.add_metric(name="ApiKeysCreated", unit="Count", value=1)
    return CreatedApiKeyOut(**ApiKeyOut.of(key).model_dump(), key=token)


@router.get("/v1/api-keys", tags=["api-keys"], summary="List API keys")
def list_api_keys(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    include_revoked: Annotated[bool, Query()] = False,
) -> ListResponse[ApiKeyOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk"})
    items, last = service.list_api_keys(repo(), limit=limit, cursor=cursor, include_revoked=include_revoked)
    return page([ApiKeyOut.of(k) for k in items], last)


@router.get("/v1/api-keys/<key_id>", tags=["api-keys"], summary="Get an API key")
def get_api_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]) -> ApiKeyOut:
    return ApiKeyOut.of(service.get_api_key(repo(), key_id))


@router.delete("/v1/api-keys/<key_id>", tags=["api-keys"], summary="Revoke an API key")
def revoke_api_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]) -> ApiKeyOut:
    principal = current_principal(router)  # type: ignore[arg-type]
    key = service.revoke_api_key(repo(), key_id, revoked_by=principal.key_id)
    logger.info("api key revoked", key_id=key.id, by=principal.key_id)
    return ApiKeyOut.of(key)
