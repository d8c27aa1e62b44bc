"""Route an HTTP request to its function as API Gateway would: match, authorize (cached), invoke."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from local import apigw
from local.functions import invoke
from local.template import load_template

_NOT_FOUND = (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
_UNAUTHORIZED = (401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}')
_FORBIDDEN = (403, {"content-type": "application/json"}, b'{"message":"Forbidden"}')
_INTERNAL = (500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')


@dataclass
class Dispatcher:
    template: dict[str, Any] = field(default_factory=load_template)
    _cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.routes = apigw.routes_from_template(self.template)
        self.authorizer = apigw.authorizer_spec(self.template)

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        path = parts.path or "/"
        for route in self.routes:
            params = route.match(method.upper(), path)
            if params is not None:
                break
        else:
            return _NOT_FOUND
        event = apigw.http_event(
            method=method.upper(),
            raw_path=path,
            raw_query=parts.query,
            headers=headers,
            body=body,
            route=route,
            path_parameters=params,
        )
        if route.authorized and self.authorizer:
            denied = self._authorize(event)
            if denied:
                return denied
        try:
            result = invoke(route.function, event)
        except Exception:  # the function crashed: API Gateway answers 500 and keeps serving
            import traceback

            traceback.print_exc()
            return _INTERNAL
        return apigw.http_response(result)

    def _authorize(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        assert self.authorizer
        spec, identity_headers, ttl = self.authorizer
        identity = tuple(event["headers"].get(h, "") for h in identity_headers)
        if any(not v for v in identity):
            return _UNAUTHORIZED  # a missing identity source never reaches the authorizer
        cached = self._cache.get(identity)
        if cached and cached[0] > time.monotonic():
            answer = cached[1]
        else:
            try:
                answer = invoke(spec, apigw.authorizer_event(event, identity_headers))
            except Exception:
                import traceback

                traceback.print_exc()
                return _INTERNAL
            if ttl > 0:
                self._cache[identity] = (time.monotonic() + ttl, answer)
        if not isinstance(answer, dict) or not answer.get("isAuthorized"):
            return _FORBIDDEN
        event["requestContext"]["authorizer"] = {"lambda": answer.get("context") or {}}
        return None

    def clear_authorizer_cache(self) -> None:
        self._cache.clear()


def json_body(response: tuple[int, dict[str, str], bytes]) -> Any:
    return json.loads(response[2] or b"null")
