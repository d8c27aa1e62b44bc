"""Settings, modelled and parsed once at cold start.

Handlers call ``Settings.from_env()`` once; nothing below the handler reads
``os.environ``. A missing required setting fails loudly when it is first
needed, naming the variable, never with a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class ConfigurationError(RuntimeError):
    """A required setting is missing or invalid (a deployment fault, not a user error)."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field(default="local", validation_alias="BILLING_STAGE")
    billing_table: str | None = Field(default=None, validation_alias="BILLING_TABLE")
    usage_table: str | None = Field(default=None, validation_alias="USAGE_TABLE")
    idempotency_table: str | None = Field(default=None, validation_alias="IDEMPOTENCY_TABLE")
    documents_bucket: str | None = Field(default=None, validation_alias="DOCUMENTS_BUCKET")
    max_body_bytes: int = Field(default=1_048_576, validation_alias="BILLING_MAX_BODY_BYTES", gt=0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return cls.model_validate(dict(environ if environ is not None else os.environ))

    def require(self, name: str) -> str:
        """The value of a setting that this function cannot work without."""
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].validation_alias
            raise ConfigurationError(f"setting {alias} is required by this function but is not set")
        return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, parsed once (cold start)."""
    return Settings.from_env()
