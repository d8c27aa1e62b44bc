"""Browser tests: headless Chromium (the system's, Debian package `chromium`) driven by Playwright
against one local stack (`python -m local.stack --in-memory`) per session.

Fixtures: ``stack`` (the running StackProcess), ``api`` (an admin client of its HTTP API), ``browser``
and ``page`` (a fresh browser context per test, 1200x900 at device scale 1). Helpers in
tests/browser/helpers.py create customers and one-off invoices and take docs screenshots.

On a failure, the page's screenshot and HTML go to test-artifacts/browser/<test name>.png|.html (the
folder CI keeps as an artifact).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from local.process import StackProcess
from tests.browser.helpers import ARTIFACTS, CHROMIUM_ARGS, INSTALL_HINT, VIEWPORT, chromium_path
from tests.stack_api import Api


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the test, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    process = StackProcess("--in-memory", "--data-dir", str(tmp_path_factory.mktemp("stack")))
    try:
        yield process.ready()
    finally:
        try:
            process.stop()
        finally:
            process.kill()


SELLER = {
    "legal_name": "Acme Analytics Inc.",
    "address": {"line1": "350 Fifth Avenue", "city": "New York", "postal_code": "10118", "state": "NY",
                "country": "US"},
    "support_email": "billing@acme-analytics.example",
    "support_phone": "+1 212 555 0100",
    "payment_instructions": "Bank transfer: First Bank, account 000123456789, routing 021000021.",
}  # fmt: skip
"""Who bills in the browser tests (no invoice is issued without a seller's name and address)."""


@pytest.fixture(scope="session")
def api(stack: StackProcess) -> Api:
    client = Api(stack.url, stack.admin_key)
    assert client.call("PATCH", "/v1/account", SELLER)["ready_to_invoice"] is True
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.fail(f"no Chromium found: {INSTALL_HINT}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def artifact_name(nodeid: str) -> str:
    """tests/browser/test_x.py::test_y[p] -> test_x__test_y-p- (safe as a file name)."""
    name = nodeid.rsplit("/", 1)[-1].replace(".py::", "__").replace("::", "__")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context (no cookies or storage from other tests); on failure its screenshot
    and HTML are kept in test-artifacts/browser/."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = artifact_name(request.node.nodeid)
            try:
                opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                (ARTIFACTS / f"{name}.html").write_text(opened.content(), encoding="utf-8")
            except Exception as exc:  # a crashed page must not hide the test's own failure
                (ARTIFACTS / f"{name}.txt").write_text(f"no screenshot: {exc}\n", encoding="utf-8")
        context.close()
