"""Helpers for browser tests: set up what a page shows through the API, and take docs screenshots."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from local.process import ROOT
from tests.stack_api import Api

ARTIFACTS = ROOT / "test-artifacts" / "browser"
VIEWPORT = {"width": 1200, "height": 900}
# What Chromium needs here: no sandbox (root in CI), no GPU, and no background connections (the
# machine's closed network refuses them, many at a time). Playwright adds --headless and a fresh
# temporary profile (--user-data-dir) on every launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "install Debian's Chromium (`sudo apt-get install chromium`), or set CHROMIUM=/path/to/chromium; "
    "the browser tests never download a browser"
)


def chromium_path() -> str | None:
    """CHROMIUM, else the system's chromium (Debian's package), else None."""
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


DOCS_IMAGES = ROOT / "docs" / "images"
MAX_DOCS_PNG_BYTES = 300_000


def unique(prefix: str = "T") -> str:
    """A fresh invoice prefix (letters and digits), so each test numbers its own sequence."""
    return prefix + uuid.uuid4().hex[:7].upper()


# Oregon: no sales tax, so totals are the lines' sum.
ADDRESS = {"country": "US", "state": "OR", "city": "Portland", "postal_code": "97201", "line1": "1 Main St"}


def create_customer(api: Api, **fields: Any) -> dict[str, Any]:
    """A US customer billed by email; any field of POST /v1/customers may be given."""
    body = {"name": "Acme Corp", "currency": "usd", "emails": ["billing@acme.example"], "address": ADDRESS}
    body |= {"invoice_prefix": unique(), **fields}
    created: dict[str, Any] = api.post("/v1/customers", body)
    return created


def create_invoice(
    api: Api,
    customer: dict[str, Any],
    *,
    lines: list[dict[str, Any]] | None = None,
    auto_finalize: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """A one-off invoice (send_invoice, 30 days), finalized at once unless auto_finalize=False; the
    answer has ``number``, ``total`` and ``hosted_invoice_url`` once finalized."""
    body = {
        "customer": customer["id"],
        "collection_method": "send_invoice",
        "days_until_due": 30,
        "lines": lines or [{"description": "Consulting", "quantity": 1, "unit_amount": 10_000}],
        "auto_finalize": auto_finalize,
        **fields,
    }
    created: dict[str, Any] = api.post("/v1/invoices", body)
    return created


def hosted_url(api: Api, invoice: dict[str, Any]) -> str:
    """The customer's link to the invoice (finalized invoices only)."""
    url = invoice.get("hosted_invoice_url") or api.get(f"/v1/invoices/{invoice['id']}")["hosted_invoice_url"]
    assert url, f"invoice {invoice['id']} has no hosted page (status {invoice.get('status')})"
    return str(url)


def screenshot(page: Any, name: str) -> Path:
    """A screenshot of the whole page at the fixed viewport: docs/images/<name>.png when
    UPDATE_SCREENSHOTS=1 (`make screenshots`), else test-artifacts/browser/<name>.png to look at."""
    assert page.viewport_size == VIEWPORT, "docs screenshots are taken at the fixed viewport"
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    folder = DOCS_IMAGES if update else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    size = path.stat().st_size
    assert size < MAX_DOCS_PNG_BYTES, f"{path} is {size} bytes: keep docs screenshots under 300 KB"
    return path


def look(page: Any, name: str) -> Path:
    """A screenshot to look at, never in the docs: test-artifacts/browser/<name>.png (any viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


def set_clock(api: Api, instant: str) -> None:
    """Put the session stack's clock at ``instant`` (ISO 8601): the dates the pages print stay the
    same from run to run, whatever the order of the tests (each sets the clock it needs)."""
    api.local("POST", "clock", {"set": instant})


def standin_url(checkout_url: str) -> str:
    """The Stripe stand-in's base URL, from one of its Checkout page URLs."""
    parts = urlsplit(checkout_url)
    return f"{parts.scheme}://{parts.netloc}"


def charges_of(checkout_url: str, invoice_id: str, status: str | None = None) -> list[dict[str, Any]]:
    """The charges the stand-in made for ``invoice_id`` (every attempt: declined ones too)."""
    query = {"invoice_id": invoice_id} | ({"status": status} if status else {})
    response = requests.get(f"{standin_url(checkout_url)}/_standin/charges", params=query, timeout=10)
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


DOCS_CLOCK = "2027-03-01T09:00:00Z"
"""When the docs' invoices are issued: their dates are the same in every run."""
PLATFORM_LINE = {"description": "Analytics platform, March 2027", "quantity": 1, "unit_amount": 49_000}


def docs_invoice(api: Api, name: str, prefix: str, *, lines: list[dict[str, Any]] | None = None,
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
    """An invoice for a docs screenshot: issued at ``DOCS_CLOCK`` to the customer ``name`` (billing
    email ``ap@{prefix}.example``), numbered ``{PREFIX}-0001``; one line of $490.00 unless told."""
    set_clock(api, DOCS_CLOCK)
    slug = prefix.lower()
    customer = create_customer(
        api, name=name, emails=[f"ap@{slug}.example"], invoice_prefix=prefix.upper(), external_id=slug
    )
    return create_invoice(api, customer, lines=lines or [PLATFORM_LINE], **fields)
