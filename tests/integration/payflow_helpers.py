"""Helpers of the tests that pay invoices from their hosted page: the Stripe stand-in wired into the
functions' environment, the customer pages over the local gateway, the stand-in's Checkout page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

FORM = {"content-type": "application/x-www-form-urlencoded"}
_STRIPE_ENV = ("STRIPE_API_BASE", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY_PARAM",
               "STRIPE_WEBHOOK_SECRET_PARAM")  # fmt: skip


@contextmanager
def standin_env(secret: str) -> Iterator[Any]:
    """A Stripe stand-in (webhooks not sent: tests deliver them) that the functions talk to."""
    from billing.payments import reset_payment_provider
    from local.stripe_standin import start

    server = start(0, webhook_url=None, webhook_secret=secret)
    saved = {k: os.environ.get(k) for k in _STRIPE_ENV}
    os.environ.update(
        {"STRIPE_API_BASE": server.url, "STRIPE_API_KEY": "sk_test_tests", "STRIPE_WEBHOOK_SECRET": secret}
    )
    for name in ("STRIPE_API_KEY_PARAM", "STRIPE_WEBHOOK_SECRET_PARAM"):
        os.environ.pop(name, None)
    reset_payment_provider()
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_payment_provider()


def token_of(invoice: dict[str, Any]) -> str:
    return urlsplit(invoice["hosted_invoice_url"]).path.rsplit("/", 1)[-1]


def page(call: Any, token: str, query: str = "") -> tuple[int, dict[str, str], str]:
    return call("GET", f"/i/{token}" + (f"?{query}" if query else ""))  # type: ignore[no-any-return]


def press_pay(call: Any, token: str) -> tuple[int, dict[str, str], str]:
    """The Pay button: a form post with no fields."""
    return call("POST", f"/i/{token}/pay", raw=b"", headers=FORM)  # type: ignore[no-any-return]


def pay_on_checkout(url: str, **fields: str) -> requests.Response:
    """Submit the stand-in's Checkout page (``payment_method=pm_card_…`` or ``card_number=…``)."""
    return requests.post(url, data=fields, allow_redirects=False, timeout=10)


def back_from_checkout(call: Any, location: str) -> tuple[int, dict[str, str], str]:
    """Follow the provider's redirect to our hosted page (its path and query, through the gateway)."""
    parts = urlsplit(location)
    return call("GET", f"{parts.path}?{parts.query}")  # type: ignore[no-any-return]


def standin_requests(
    standin: Any, method: str | None = None, path: str | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = requests.get(f"{standin.url}/_standin/requests", timeout=10).json()["data"]
    return [
        r
        for r in rows
        if (method is None or r["method"] == method) and (path is None or r["path"].startswith(path))
    ]


def invoice_notifications(
    app_env: dict[str, str], invoice_id: str, kind: str | None = None
) -> list[dict[str, Any]]:
    """Notifications messages about this invoice (read once: they stay invisible afterwards)."""
    from tests.integration.test_documents import notifications_for

    found = notifications_for(invoice_id, app_env)
    return [m for m in found if kind is None or m["kind"] == kind]


def customer_pages() -> Any:
    """The customer pages' service dependencies, as the function builds them (``common.pages()``)."""
    from local.functions import function_specs, load_handler

    load_handler(function_specs()["CustomerPagesFunction"])  # puts its routers on the path
    from customer_pages_routes.common import pages  # type: ignore[import-not-found]

    return pages()
