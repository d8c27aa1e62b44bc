"""Stripe settings: modelled, validated, loaded once per key rotation window.

Deployed functions read the secrets by name through Powertools parameters (cached ``max_age``
seconds, so a rotated key is picked up without a cold start):

* ``STRIPE_API_KEY_PARAM``: an SSM parameter name (a SecureString, read with decryption), e.g.
  ``/billing/prod/stripe/api-key``; or ``secretsmanager:<secret id or ARN>`` for Secrets Manager,
  optionally ``secretsmanager:<id>#<field>`` when the secret is a JSON object.
* ``STRIPE_WEBHOOK_SECRET_PARAM``: the same, for the webhook signing secret (``whsec_...``).

Local runs and tests set the values themselves: ``STRIPE_API_KEY`` and ``STRIPE_WEBHOOK_SECRET``.
Setting both the value and the parameter name of one secret is refused (which one wins would be a
guess). ``STRIPE_API_BASE`` points the SDK at another base URL (the offline stand-in); a live key is
never sent to one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from billing.settings import ConfigurationError

_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
SECRETS_MANAGER_PREFIX = "secretsmanager:"


class StripeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    """One secret, or several separated by commas while an endpoint's secret is being rolled."""
    base_url: str | None = None
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=20.0, gt=0)
    max_network_retries: int = Field(default=2, ge=0, le=5)
    """The SDK's own retries of connection errors, timeouts, 409 and 5xx (same idempotency key)."""
    retry_attempts: int = Field(default=3, ge=1, le=10)
    """Our calls in all around the SDK's (429 and what the SDK gave up on), same idempotency key."""
    retry_base_delay_seconds: float = Field(default=0.5, ge=0)
    retry_max_delay_seconds: float = Field(default=8.0, ge=0)
    retry_deadline_seconds: float = Field(default=45.0, ge=0)

    @field_validator("api_key")
    @classmethod
    def _api_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_KEY_PREFIXES):
            raise ValueError("a Stripe secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("STRIPE_API_BASE must be an http(s) URL")
        return value.rstrip("/")

    @property
    def is_live(self) -> bool:
        return self.api_key is not None and self.api_key.get_secret_value().startswith(
            ("sk_live_", "rk_live_")
        )

    def require_api_key(self) -> str:
        if self.api_key is None:
            raise ConfigurationError("set STRIPE_API_KEY_PARAM (deployed) or STRIPE_API_KEY (local)")
        if self.base_url is not None and self.is_live:
            raise ConfigurationError("a live Stripe key is never sent to STRIPE_API_BASE; use a test key")
        return self.api_key.get_secret_value()

    def require_webhook_secrets(self) -> list[str]:
        if self.webhook_secret is None:
            raise ConfigurationError(
                "set STRIPE_WEBHOOK_SECRET_PARAM (deployed) or STRIPE_WEBHOOK_SECRET (local)"
            )
        secrets = [s.strip() for s in self.webhook_secret.get_secret_value().split(",") if s.strip()]
        if not secrets:
            raise ConfigurationError("the Stripe webhook secret is empty")
        return secrets

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, max_age: int | None = None) -> StripeSettings:
        """Parse the environment; secrets named by ``*_PARAM`` are fetched (and cached) here."""
        age = max_age if max_age is not None else _int(environ, "STRIPE_SECRETS_MAX_AGE", 300)
        values: dict[str, Any] = {
            "api_key": _secret(environ, "STRIPE_API_KEY", max_age=age),
            "webhook_secret": _secret(environ, "STRIPE_WEBHOOK_SECRET", max_age=age),
            "base_url": environ.get("STRIPE_API_BASE") or None,
        }
        numeric = {
            "connect_timeout_seconds": "STRIPE_CONNECT_TIMEOUT_SECONDS",
            "read_timeout_seconds": "STRIPE_TIMEOUT_SECONDS",
            "max_network_retries": "STRIPE_MAX_NETWORK_RETRIES",
            "retry_attempts": "STRIPE_RETRY_ATTEMPTS",
            "retry_base_delay_seconds": "STRIPE_RETRY_BASE_DELAY_SECONDS",
            "retry_max_delay_seconds": "STRIPE_RETRY_MAX_DELAY_SECONDS",
            "retry_deadline_seconds": "STRIPE_RETRY_DEADLINE_SECONDS",
        }
        for field, variable in numeric.items():
            if environ.get(variable):
                values[field] = environ[variable]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"invalid Stripe settings: {problems}") from None


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer number of seconds") from None


def _secret(environ: Mapping[str, str], name: str, *, max_age: int) -> str | None:
    direct = environ.get(name) or None
    param = environ.get(f"{name}_PARAM") or None
    if direct and param:
        raise ConfigurationError(f"set either {name} or {name}_PARAM, not both")
    if param:
        return fetch_secret(param, max_age=max_age, setting=f"{name}_PARAM")
    return direct


def fetch_secret(reference: str, *, max_age: int, setting: str) -> str:
    """An SSM SecureString by name, or ``secretsmanager:<id>[#field]``, through Powertools' cache."""
    from aws_lambda_powertools.utilities import parameters

    if reference.startswith(SECRETS_MANAGER_PREFIX):
        secret_id, _, field = reference[len(SECRETS_MANAGER_PREFIX) :].partition("#")
        raw: Any = parameters.get_secret(secret_id, max_age=max_age)
        if isinstance(raw, bytes):
            raw = raw.decode()
        if field:
            try:
                document = json.loads(raw)
                raw = document[field]
            except (ValueError, KeyError, TypeError):
                raise ConfigurationError(
                    f"{setting}: secret {secret_id!r} is not a JSON object with a {field!r} field"
                ) from None
    else:
        raw = parameters.get_parameter(reference, decrypt=True, max_age=max_age)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"{setting}: {reference!r} holds no value")
    return raw.strip()
