"""A client for the local stack's HTTP API (and its /_local controls), shared by the e2e and browser
tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from local.process import all_pages, poll


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(
        self, method: str, path: str, body: Any = None, *, expect: int = 200, key: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = self.session.request(method, self.url + path, json=body, headers=headers, timeout=60)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, *, expect: int = 201, **kw: Any) -> Any:
        return self.call("POST", path, body, expect=expect, **kw)

    def all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list, following next_cursor."""
        return all_pages(self.get, path)

    def local(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"{self.url}/_local/{path}", json=body, timeout=120)
        assert r.status_code == 200, f"{method} /_local/{path}: {r.status_code} {r.text}"
        return r.json()


def wait_for[T](what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    """probe() until it returns something truthy (polling, never a blind sleep)."""
    got = poll(probe, timeout)
    if not got:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    return got
