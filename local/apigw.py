"""API Gateway HTTP API (payload format 2.0): events in, responses out, routes from template.yaml."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from local.functions import FunctionSpec, function_specs
from local.template import load_template


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # /v1/api-keys/{key_id}
    function: FunctionSpec
    authorized: bool  # False when Auth: {Authorizer: NONE}
    regex: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        m = self.regex.match(path)
        return m.groupdict() if m else None


def _compile(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            pattern += f"(?P<{name[:-1]}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$")


def routes_from_template(template: dict[str, Any] | None = None) -> list[Route]:
    """Every HttpApi event of every function; static paths sort before parameterised ones."""
    template = template or load_template()
    out = []
    for spec in function_specs(template).values():
        for ev in spec.events.values():
            if ev.get("Type") != "HttpApi":
                continue
            props = ev.get("Properties") or {}
            method = str(props.get("Method", "ANY")).upper()
            path = props.get("Path", "/$default")
            auth = (props.get("Auth") or {}).get("Authorizer")
            out.append(Route(method, path, spec, auth != "NONE", _compile(path)))
    out.sort(key=lambda r: (r.path.count("{"), -len(r.path), r.method == "ANY"))
    return out


def authorizer_spec(template: dict[str, Any] | None = None) -> tuple[FunctionSpec, list[str], int] | None:
    """The default authorizer's function, its identity headers and cache TTL (seconds)."""
    template = template or load_template()
    for res in template.get("Resources", {}).values():
        if res.get("Type") != "AWS::Serverless::HttpApi":
            continue
        auth = (res.get("Properties") or {}).get("Auth") or {}
        default = auth.get("DefaultAuthorizer")
        if not default:
            return None
        conf = auth["Authorizers"][default]
        arn = conf["FunctionArn"]
        fn_name = arn["Fn::GetAtt"][0] if isinstance(arn, dict) else str(arn)
        identity = conf.get("Identity") or {}
        ttl = identity.get("ReauthorizeEvery", 300)
        if isinstance(ttl, dict):  # !Ref a parameter: use its default
            ttl = (template.get("Parameters") or {}).get(ttl["Ref"], {}).get("Default", 300)
        return function_specs(template)[fn_name], [h.lower() for h in identity.get("Headers", [])], int(ttl)
    return None


def http_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes | None,
    route: Route,
    path_parameters: dict[str, str],
    source_ip: str = "127.0.0.1",
    stage: str = "$default",
) -> dict[str, Any]:
    """The event API Gateway sends a Lambda for an HTTP API route (payload format 2.0)."""
    lower = {k.lower(): v for k, v in headers.items()}
    cookies = [c.strip() for c in lower.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v  # repeated keys are comma-joined
    content_type = lower.get("content-type", "")
    is_text = body is not None and (
        not content_type
        or content_type.startswith(("text/", "application/json", "application/x-www-form-urlencoded"))
    )
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lower,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lower.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:20],
            "routeKey": route.route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        if is_text:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def authorizer_event(event: dict[str, Any], identity_headers: list[str]) -> dict[str, Any]:
    """The REQUEST authorizer event (payload 2.0) for a route event."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:000000000000:local/$default/{event['routeKey'].replace(' ', '')}",
        "identitySource": [event["headers"].get(h, "") for h in identity_headers],
        "routeKey": event["routeKey"],
        "rawPath": event["rawPath"],
        "rawQueryString": event["rawQueryString"],
        "headers": event["headers"],
        "queryStringParameters": event.get("queryStringParameters"),
        "pathParameters": event.get("pathParameters"),
        "requestContext": event["requestContext"],
    }


def http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Turn a handler's return value into (status, headers, body) as HTTP API does for payload 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # HTTP API infers a 200 JSON response from any other value
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[k.lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    cookies = result.get("cookies") or []
    if cookies:
        headers["set-cookie"] = cookies[0] if len(cookies) == 1 else ", ".join(cookies)
    headers.setdefault("content-type", "application/json")
    return int(result["statusCode"]), headers, raw
