from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from local.dispatch import Dispatcher
from local.functions import function_environment, local_refs
from local.template import load_template

Call = Callable[..., tuple[int, dict[str, str], Any]]


@pytest.fixture(scope="session")
def app_env(dynamodb_endpoint: str) -> dict[str, str]:
    """The functions' environment from template.yaml, resolved to the local tables."""
    template = load_template()
    env = function_environment(template, local_refs(template))
    os.environ.update(env)
    from billing.settings import get_settings

    get_settings.cache_clear()
    return env


@pytest.fixture(scope="session")
def gateway(app_env: dict[str, str]) -> Dispatcher:
    return Dispatcher()


@pytest.fixture(scope="session")
def admin_key(app_env: dict[str, str]) -> str:
    from billing.models.api_keys import Role
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    _, token = create_api_key(
        ApiKeyRepository(table_name=app_env["BILLING_TABLE"]), name="tests", role=Role.ADMIN
    )
    return token


@pytest.fixture
def call(gateway: Dispatcher) -> Call:
    """call(method, path, key=None, json=..., headers=...) -> (status, headers, parsed body)."""

    def _call(
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"content-type": "application/json", **(headers or {})}
        if key:
            hdrs["authorization"] = f"Bearer {key}"
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        status, out_headers, out = gateway.handle(method, path, hdrs, body)
        try:
            parsed = json.loads(out) if out else None
        except ValueError:
            parsed = out.decode()
        return status, out_headers, parsed

    return _call
