"""Settings, modelled and parsed once at cold start.

Handlers call ``Settings.from_env()`` once; nothing below the handler reads
``os.environ``. A missing required setting fails loudly when it is first
needed, naming the variable, never with a silent default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing.models.journal import AccountCodes


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
    # Subscriptions and billing runs (docs/billing.md).
    invoice_jobs_queue_url: str | None = Field(default=None, validation_alias="INVOICE_JOBS_QUEUE_URL")
    draft_grace_hours: int = Field(default=1, validation_alias="BILLING_DRAFT_GRACE_HOURS", ge=0, le=720)
    seller_country: str | None = Field(
        default=None, validation_alias="BILLING_SELLER_COUNTRY", pattern=r"^[A-Z]{2}$"
    )
    seller_legal_name: str | None = Field(
        default=None, validation_alias="BILLING_SELLER_LEGAL_NAME", max_length=200
    )
    """Deploy-time default of the seller's legal name (``PATCH /v1/account`` overrides it)."""
    # Invoices, documents and delivery (docs/invoices.md).
    invoice_numbering: Literal["per_customer", "per_account"] = Field(
        default="per_customer", validation_alias="BILLING_INVOICE_NUMBERING"
    )
    invoice_account_prefix: str = Field(
        default="INV", validation_alias="BILLING_INVOICE_ACCOUNT_PREFIX", pattern=r"^[A-Z0-9]{2,12}$"
    )
    notifications_queue_url: str | None = Field(default=None, validation_alias="NOTIFICATIONS_QUEUE_URL")
    # Payments (docs/payments.md).
    payment_attempts_queue_url: str | None = Field(
        default=None, validation_alias="PAYMENT_ATTEMPTS_QUEUE_URL"
    )
    payment_events_queue_url: str | None = Field(default=None, validation_alias="PAYMENT_EVENTS_QUEUE_URL")
    # Dunning (docs/payments.md#dunning): retries on these days after the first failure, then the
    # final action.
    dunning_retry_days: str = Field(
        default="3,5,7", validation_alias="BILLING_DUNNING_RETRY_DAYS", pattern=r"^\s*(\d{1,3}\s*(,\s*|$))*$"
    )
    dunning_final_action: Literal["mark_uncollectible", "cancel_subscription", "leave_past_due"] = Field(
        default="mark_uncollectible", validation_alias="BILLING_DUNNING_FINAL_ACTION"
    )
    email_from: str | None = Field(default=None, validation_alias="BILLING_EMAIL_FROM")
    public_url: str | None = Field(default=None, validation_alias="BILLING_PUBLIC_URL")
    api_url: str | None = Field(default=None, validation_alias="BILLING_API_URL")
    templates_dir: str | None = Field(default=None, validation_alias="BILLING_TEMPLATES_DIR")
    # Customer portal (docs/customers-portal.md): how long a portal session's link works.
    portal_session_minutes: int = Field(
        default=60, validation_alias="BILLING_PORTAL_SESSION_MINUTES", ge=5, le=1440
    )
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    """The offline stand-in's URL (local runs): the customer pages let their Pay form go to its Checkout
    page (CSP ``form-action``). Unset: Stripe's own Checkout (``checkout.stripe.com``)."""
    # Accounting export (docs/accounting.md): the chart of accounts, a JSON object of AccountCodes.
    account_codes: AccountCodes = Field(
        default_factory=AccountCodes, validation_alias="BILLING_ACCOUNT_CODES_JSON"
    )
    # Usage intake (docs/usage.md). USAGE_SHARDS must not change once events are stored: the shard
    # of an event id is where its duplicate is looked for.
    usage_shards: int = Field(default=16, validation_alias="USAGE_SHARDS", ge=1, le=256)
    usage_retention_days: int = Field(default=400, validation_alias="USAGE_RETENTION_DAYS", ge=1)
    usage_max_event_age_days: int = Field(default=35, validation_alias="USAGE_MAX_EVENT_AGE_DAYS", ge=1)
    usage_max_future_seconds: int = Field(default=300, validation_alias="USAGE_MAX_FUTURE_SECONDS", ge=0)
    usage_write_attempts: int = Field(default=8, validation_alias="USAGE_WRITE_ATTEMPTS", ge=1, le=20)
    usage_write_concurrency: int = Field(default=16, validation_alias="USAGE_WRITE_CONCURRENCY", ge=1, le=64)
    usage_lookup_cache_seconds: int = Field(default=60, validation_alias="USAGE_LOOKUP_CACHE_SECONDS", ge=0)

    @field_validator("account_codes", mode="before")
    @classmethod
    def _account_codes_json(cls, value: object) -> object:
        """BILLING_ACCOUNT_CODES_JSON is a JSON object; invalid JSON fails the cold start, naming it."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("dunning_retry_days")
    @classmethod
    def _retry_days(cls, value: str) -> str:
        """Strictly increasing whole days (``3,5,7``); an empty value means no retries."""
        days = [int(d) for d in value.replace(" ", "").split(",") if d]
        if any(d < 1 for d in days) or days != sorted(set(days)):
            raise ValueError("BILLING_DUNNING_RETRY_DAYS must be increasing whole days >= 1, like 3,5,7")
        return ",".join(str(d) for d in days)

    @property
    def checkout_origin(self) -> str:
        """The origin of the provider's hosted Checkout pages."""
        if self.stripe_api_base:
            from urllib.parse import urlsplit

            parts = urlsplit(self.stripe_api_base)
            return f"{parts.scheme}://{parts.netloc}"
        return "https://checkout.stripe.com"

    @property
    def dunning_retry_schedule(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.dunning_retry_days.split(",") if d)

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
