"""API keys: random secrets shown once, stored only as a SHA-256 hash, each with a role."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from billing import clock
from billing.errors import Conflict, NotFound
from billing.models.api_keys import ApiKey, Role
from billing.repositories.api_keys import ApiKeyRepository

KEY_PREFIX = "bk_"
_KEY_RE = re.compile(r"^bk_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")


def hash_secret(token: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(
    repo: ApiKeyRepository, *, name: str, role: Role, created_by: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the stored key and the plaintext, which is never seen again."""
    key_id = secrets.token_hex(8)
    token = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=key_id,
        name=name,
        role=role,
        secret_hash=hash_secret(token),
        last4=token[-4:],
        created_at=clock.now(),
        created_by=created_by,
    )
    repo.create(key)
    return key, token


def authenticate(repo: ApiKeyRepository, authorization: str | None) -> ApiKey | None:
    """The active key behind an `Authorization: Bearer <key>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    match = _KEY_RE.match(token.strip())
    if not match:
        return None
    key = repo.get(match["id"])
    if key is None or not key.active:
        return None
    if not hmac.compare_digest(key.secret_hash, hash_secret(token.strip())):
        return None
    return key


def list_api_keys(
    repo: ApiKeyRepository, *, limit: int, cursor: dict[str, Any] | None, include_revoked: bool
) -> tuple[list[ApiKey], dict[str, Any] | None]:
    items, next_cursor = repo.list(limit=limit, cursor=cursor)
    if not include_revoked:
        items = [k for k in items if k.active]
    return items, next_cursor


def get_api_key(repo: ApiKeyRepository, key_id: str) -> ApiKey:
    key = repo.get(key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}", code="api_key_not_found", param="key_id")
    return key


def revoke_api_key(repo: ApiKeyRepository, key_id: str, *, revoked_by: str | None) -> ApiKey:
    """Revoke a key. The last active admin key cannot be revoked (that would lock everyone out)."""
    key = get_api_key(repo, key_id)
    if key.role is Role.ADMIN and key.active:
        admins, cursor = [], None
        while True:
            page, cursor = repo.list(limit=100, cursor=cursor)
            admins += [k for k in page if k.role is Role.ADMIN and k.active]
            if not cursor:
                break
        if len(admins) <= 1:
            raise Conflict(
                "the last active admin key cannot be revoked", code="last_admin_key", param="key_id"
            )
    return repo.revoke(key_id, at=clock.now())
