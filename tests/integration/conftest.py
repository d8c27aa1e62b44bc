from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.dispatch import Dispatcher
from local.functions import function_environment, local_refs
from local.template import load_template

Call = Callable[..., tuple[int, dict[str, str], Any]]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto (in this process) for SQS, S3 and SES, with the template's queues and buckets created."""
    from local.moto_server import MotoServer

    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL_SQS"] = server.endpoint
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint
    os.environ["AWS_ENDPOINT_URL_SES"] = server.endpoint
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_env(dynamodb_endpoint: str, moto_endpoint: str) -> dict[str, str]:
    """The functions' environment from template.yaml, resolved to the local tables and moto's queues."""
    from local.moto_server import create_resources

    template = load_template()
    created = create_resources(template, moto_endpoint)
    env = function_environment(template, local_refs(template, extra=created.refs))
    # Parameters without a default (the sender, the seller's name) have their local values through
    # local_refs (local.functions.LOCAL_PARAMETER_VALUES), as on the local stack; the sender is verified in
    # moto's SES below, as SES requires. PublicUrl defaults to empty (the API's URL when deployed).
    env["BILLING_PUBLIC_URL"] = env.get("BILLING_PUBLIC_URL") or "https://billing.example.com"
    from local.moto_server import verify_senders

    verify_senders(moto_endpoint, [env["BILLING_EMAIL_FROM"]])
    os.environ.update(env)
    from billing.settings import get_settings

    get_settings.cache_clear()
    set_up_seller(env)
    return env


TEST_SELLER = {
    "legal_name": "Test Seller Inc.",
    "address": {"line1": "1 Market Street", "city": "San Francisco", "postal_code": "94105", "state": "CA",
                "country": "US"},
    "support_email": "support@seller.example",
}  # fmt: skip


def set_up_seller(env: dict[str, str]) -> None:
    """Who bills: invoices are held until the seller has a legal name and an address
    (PATCH /v1/account); every test session starts with both."""
    from billing.repositories.account import AccountRepository
    from billing.services.account import AccountDefaults, update_account

    update_account(
        AccountRepository(table_name=env["BILLING_TABLE"]),
        AccountDefaults(country=env.get("BILLING_SELLER_COUNTRY") or None),
        TEST_SELLER,
        actor="tests",
    )


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
