from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    ADMIN = "admin"
    BILLING = "billing"
    USAGE = "usage"
    READ_ONLY = "read_only"


class ApiKey(BaseModel):
    """A stored API key: only the hash of its secret is kept."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    secret_hash: str
    last4: str
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
