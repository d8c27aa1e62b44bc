"""The stand-in's HTTP server: Stripe's REST conventions on 127.0.0.1, plus ``/_standin/`` controls.

Stripe conventions kept: form-encoded bodies with bracket notation, ``Authorization: Bearer
sk_test_...`` (or HTTP Basic with the key as user), JSON answers with ``Request-Id``, Stripe's error
shape and statuses (400 invalid request, 401 no/bad key, 402 card error, 404 unknown object, 409
idempotent request in progress, 429 rate limited, 500), ``Idempotency-Key`` on POST (same key and
parameters → the first answer again with ``Idempotent-Replayed: true``; other parameters → 400
``idempotency_error``; results of requests refused before they executed are not kept), lists with
``has_more``/``starting_after``/``ending_before``/``created[gte|gt|lte|lt]``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.stripe_standin import checkout_pages
from local.stripe_standin.cards import TEST_CARDS, card_for_number
from local.stripe_standin.forms import FormError, decode, decode_pairs
from local.stripe_standin.state import API_VERSION, ApiError, Ctx, Store, invalid, new_id
from local.stripe_standin.webhooks import MODES, WebhookSender

MAX_BODY = 1024 * 1024
KEY_LIFETIME = 86_400
_ID = r"(?P<id>[A-Za-z0-9_]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}$"), name)
    for method, pattern, name in [
        ("POST", "/v1/customers", "create_customer"),
        ("GET", "/v1/customers", "list_customers"),
        ("GET", f"/v1/customers/{_ID}/payment_methods", "list_customer_payment_methods"),
        ("GET", f"/v1/customers/{_ID}", "get_customer"),
        ("POST", f"/v1/customers/{_ID}", "update_customer"),
        ("DELETE", f"/v1/customers/{_ID}", "delete_customer"),
        ("POST", f"/v1/payment_methods/{_ID}/attach", "attach_payment_method"),
        ("POST", f"/v1/payment_methods/{_ID}/detach", "detach_payment_method"),
        ("GET", f"/v1/payment_methods/{_ID}", "get_payment_method"),
        ("POST", "/v1/setup_intents", "create_setup_intent"),
        ("GET", f"/v1/setup_intents/{_ID}", "get_setup_intent"),
        ("POST", "/v1/payment_intents", "create_payment_intent"),
        ("GET", "/v1/payment_intents", "list_payment_intents"),
        ("GET", f"/v1/payment_intents/{_ID}", "get_payment_intent"),
        ("GET", "/v1/charges", "list_charges"),
        ("GET", f"/v1/charges/{_ID}", "get_charge"),
        ("POST", "/v1/refunds", "create_refund"),
        ("GET", "/v1/refunds", "list_refunds"),
        ("GET", f"/v1/refunds/{_ID}", "get_refund"),
        ("POST", "/v1/checkout/sessions", "create_checkout_session"),
        ("GET", "/v1/checkout/sessions", "list_checkout_sessions"),
        ("GET", f"/v1/checkout/sessions/{_ID}", "get_checkout_session"),
        ("POST", f"/v1/checkout/sessions/{_ID}/expire", "expire_checkout_session"),
        ("GET", "/v1/disputes", "list_disputes"),
        ("GET", f"/v1/disputes/{_ID}", "get_dispute"),
        ("POST", f"/v1/disputes/{_ID}", "update_dispute"),
        ("GET", "/v1/events", "list_events"),
        ("GET", f"/v1/events/{_ID}", "get_event"),
    ]
]
FAULT_KINDS = ("500", "429", "timeout", "reset")
FAULT_WHEN = ("before", "during", "after")
Response = tuple[int, dict[str, str], bytes]


@dataclass
class Fault:
    kind: str
    remaining: int
    path: str | None = None
    method: str | None = None
    seconds: float = 5.0
    when: str = "after"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "path": self.path,
            "method": self.method,
            "seconds": self.seconds,
            "when": self.when,
        }


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(data, indent=2).encode(),
    )


def _api_key(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _mask(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key


class Standin:
    """Everything behind the HTTP server: the account, the faults, the webhook sender."""

    def __init__(self, store: Store, webhooks: WebhookSender, log: Callable[[str], None]) -> None:
        self.store = store
        self.webhooks = webhooks
        self.faults: list[Fault] = []
        self.faults_lock = threading.Lock()
        self.log = log

    # ------------------------------------------------------------------------------------ faults
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.faults_lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    taken = copy.copy(fault)
                    self.faults = [f for f in self.faults if f.remaining > 0]
                    return taken
        return None

    # ---------------------------------------------------------------------------------- API calls
    def api(
        self, method: str, path: str, query: str, headers: Any, body: bytes, *, fault: Fault | None
    ) -> Response:
        request_id = new_id("req_", 14)
        base = {"Request-Id": request_id, "Stripe-Version": headers.get("Stripe-Version") or API_VERSION}
        key = _api_key(headers.get("Authorization"))
        if key is None:
            return _json(
                401,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": (
                            "You did not provide an API key. You need to provide your API key in the Authorization header, "
                            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
                            "authentication for details, or we can help at https://support.stripe.com/."
                        ),
                    }
                },
                base,
            )
        if not key.startswith(("sk_test_", "rk_test_")):
            return _json(
                401,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "api_key_invalid",
                        "message": f"Invalid API Key provided: {_mask(key)}",
                    }
                },
                base,
            )
        if fault is not None and fault.kind == "500":
            return _json(
                500,
                {"error": {"type": "api_error", "message": "An unknown error occurred (stand-in fault)."}},
                base,
            )
        if fault is not None and fault.kind == "429":
            return _json(
                429,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": (
                            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
                        ),
                    }
                },
                base,
            )
        route = next(
            ((name, m) for verb, pattern, name in ROUTES if verb == method and (m := pattern.match(path))),
            None,
        )
        if route is None:
            return _json(
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": (
                            f"Unrecognized request URL ({method}: {path}). The Stripe stand-in supports the calls listed at "
                            "GET /_standin."
                        ),
                    }
                },
                base,
            )
        name, match = route
        try:
            params = decode(body.decode("utf-8") if method == "POST" else query)
        except (FormError, UnicodeDecodeError) as exc:
            return _json(400, invalid(str(exc), param=getattr(exc, "param", None)).body(), base)
        idem = headers.get("Idempotency-Key") if method == "POST" else None
        ctx = Ctx(
            api_key=key,
            idempotency_key=idem,
            request_id=request_id,
            stripe_version=headers.get("Stripe-Version"),
        )
        operation = getattr(self.store, name)
        ids = match.groupdict()
        if idem is None:
            status, data, _ = self._execute(operation, ctx, params, ids)
            self._after(ctx)
            return _json(status, data, base)
        if len(idem) > 255:
            return _json(
                400,
                invalid(
                    "Idempotency-Key must be at most 255 characters.", code="idempotency_key_invalid"
                ).body(),
                base,
            )
        base["Idempotency-Key"] = idem
        slot = f"{key}\x1f{idem}"
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        with self.store.lock:
            stored = self.store.idempotency.get(slot)
            if stored is not None and stored["at"] < time.time() - KEY_LIFETIME:
                del self.store.idempotency[slot]  # Stripe keeps keys for 24 hours
                stored = None
            if stored is not None:
                return self._replay(stored, fingerprint, idem, base)
            if slot in self.store.in_flight:
                return _json(
                    409,
                    {
                        "error": {
                            "type": "idempotency_error",
                            "code": "idempotency_key_in_use",
                            "message": (
                                "There is currently another in-progress request using this Idempotent Key (that probably means "
                                "you submitted twice, and the other request is still going through): "
                                f"{idem}. Please try again later."
                            ),
                        }
                    },
                    base,
                )
            self.store.in_flight.add(slot)
        try:
            if fault is not None and fault.kind == "timeout" and fault.when == "during":
                time.sleep(fault.seconds)
            with self.store.lock:
                stored = self.store.idempotency.get(slot)
                if stored is not None:  # pragma: no cover - in_flight keeps a second executor out
                    return self._replay(stored, fingerprint, idem, base)
                status, data, stores = self._execute(operation, ctx, params, ids)
                if stores:
                    self.store.idempotency[slot] = {
                        "fingerprint": fingerprint,
                        "status": status,
                        "body": data,
                        "request_id": request_id,
                        "at": time.time(),
                    }
                self.store.save()
        finally:
            with self.store.lock:
                self.store.in_flight.discard(slot)
        self._after(ctx)
        return _json(status, data, base)

    def _execute(
        self, operation: Callable[..., dict[str, Any]], ctx: Ctx, params: dict[str, Any], ids: dict[str, str]
    ) -> tuple[int, dict[str, Any], bool]:
        """(status, body, kept for replay): Stripe keeps the result of every call that began executing."""
        with self.store.lock:
            try:
                result = operation(ctx, params, **ids)
                if params.get("expand"):
                    result = self.store.expand(result, params["expand"])
                return 200, result, True
            except ApiError as exc:
                return exc.status, exc.body(), exc.stores

    def _replay(self, stored: dict[str, Any], fingerprint: str, idem: str, base: dict[str, str]) -> Response:
        if stored["fingerprint"] != fingerprint:
            return _json(
                400,
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": (
                            "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                            f"Try using a key other than '{idem}' if you meant to execute a different request."
                        ),
                    }
                },
                base,
            )
        return _json(
            stored["status"],
            stored["body"],
            {**base, "Idempotent-Replayed": "true", "Original-Request": stored["request_id"]},
        )

    def _after(self, ctx: Ctx) -> None:
        for event in ctx.events:
            self.webhooks.enqueue(event)
        if ctx.events:
            with self.store.lock:
                self.store.save()

    # ----------------------------------------------------------------------------------- controls
    def control(self, method: str, path: str, query: str, body: bytes) -> Response:
        try:
            data = _control_body(body)
        except ValueError as exc:
            return _json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
        args = dict(parse_qsl(query))
        store = self.store
        if method == "GET" and path in ("/_standin", "/_standin/"):
            return _json(200, self.describe())
        if method == "GET" and path == "/_standin/charges":
            with store.lock:
                rows = [
                    c
                    for c in store.charge_log
                    if all(
                        (c["metadata"].get(k) == v if k in ("invoice_id", "attempt") else str(c.get(k)) == v)
                        for k, v in args.items()
                    )
                ]
            return _json(200, {"object": "list", "data": copy.deepcopy(rows)})
        if method == "GET" and path == "/_standin/requests":
            with store.lock:
                return _json(200, {"object": "list", "data": copy.deepcopy(store.requests)})
        if path == "/_standin/faults":
            if method == "GET":
                with self.faults_lock:
                    return _json(200, {"faults": [f.describe() for f in self.faults]})
            if method == "DELETE":
                with self.faults_lock:
                    self.faults.clear()
                return _json(200, {"faults": []})
            if method == "POST":
                try:
                    fault = _fault(data)
                except ValueError as exc:
                    return _json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
                with self.faults_lock:
                    self.faults.append(fault)
                    return _json(200, {"faults": [f.describe() for f in self.faults]})
        if method == "GET" and path == "/_standin/webhooks":
            with store.lock:
                return _json(
                    200, {**self.webhooks.describe(), "deliveries": copy.deepcopy(self.webhooks.deliveries)}
                )
        if method == "POST" and path == "/_standin/webhooks/mode":
            try:
                described = self.webhooks.set_mode(
                    str(data.get("mode", "")),
                    seconds=_num(data.get("seconds")),
                    count=_int_or_none(data.get("count")),
                )
            except ValueError as exc:
                return _json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
            return _json(200, described)
        if method == "POST" and path == "/_standin/webhooks/config":
            self.webhooks.configure(url=data.get("url"), secret=data.get("secret"))
            return _json(200, self.webhooks.describe())
        if method == "POST" and path == "/_standin/webhooks/wait":
            idle = self.webhooks.wait_idle(float(data.get("timeout", 10)))
            return _json(200 if idle else 504, {"idle": idle})
        if method == "POST" and path == "/_standin/reset":
            with store.lock:
                store.reset()
                store.save()
            self.webhooks.clear()
            with self.faults_lock:
                self.faults.clear()
            return _json(200, {"reset": True})
        match = re.match(r"^/_standin/checkout/sessions/(?P<id>[A-Za-z0-9_]+)/complete$", path)
        if method == "POST" and match:
            session_id, pm = match["id"], str(data.get("payment_method") or "pm_card_visa")
            authenticate = str(data.get("authenticate") or "complete") != "fail"
            return self._with_events(
                lambda ctx: store.complete_checkout(ctx, session_id, pm, authenticate=authenticate)
            )
        if method == "POST" and path == "/_standin/disputes":
            return self._with_events(lambda ctx: self._dispute(ctx, data))
        match = re.match(r"^/_standin/disputes/(?P<id>[A-Za-z0-9_]+)/close$", path)
        if method == "POST" and match:
            dispute_id = match["id"]
            return self._with_events(
                lambda ctx: store.close_dispute(ctx, dispute_id, str(data.get("outcome") or "won"))
            )
        return _json(
            404,
            {"error": {"type": "invalid_request_error", "message": f"Unknown control route {method} {path}"}},
        )

    def _dispute(self, ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        charge_id = data.get("charge")
        if not charge_id and data.get("payment_intent"):
            intent = store.data["payment_intents"].get(str(data["payment_intent"]))
            if intent is None:
                raise invalid(
                    f"No such payment_intent: '{data['payment_intent']}'",
                    code="resource_missing",
                    param="payment_intent",
                )
            charge_id = intent.get("latest_charge")
        charge = store.data["charges"].get(str(charge_id)) if charge_id else None
        if charge is None:
            raise invalid(
                "give a succeeded charge or payment_intent", code="resource_missing", param="charge"
            )
        return copy.deepcopy(
            store.open_dispute(
                ctx,
                charge,
                reason=str(data.get("reason") or "fraudulent"),
                amount=_int_or_none(data.get("amount")),
            )
        )

    def _with_events(self, action: Callable[[Ctx], dict[str, Any]]) -> Response:
        ctx = Ctx(api_key="standin", idempotency_key=None, request_id=new_id("req_", 14))
        with self.store.lock:
            try:
                result = action(ctx)
                status = 200
            except ApiError as exc:
                result, status = exc.body(), exc.status
            self.store.save()
        self._after(ctx)
        return _json(status, result)

    def describe(self) -> dict[str, Any]:
        with self.store.lock:
            counts = {name: len(items) for name, items in self.store.data.items()}
        return {
            "stand_in": "Stripe API stand-in (local development and tests only)",
            "api_version": API_VERSION,
            "calls": [f"{verb} {pattern.pattern[1:-1]}" for verb, pattern, _ in ROUTES],
            "test_payment_methods": sorted(TEST_CARDS),
            "objects": counts,
            "webhooks": self.webhooks.describe(),
            "webhook_modes": list(MODES),
            "fault_kinds": list(FAULT_KINDS),
            "controls": [
                "GET /_standin/charges[?invoice_id=&attempt=&status=&idempotency_key=]",
                "GET /_standin/requests",
                "GET|POST|DELETE /_standin/faults  {kind: 500|429|timeout|reset, count, path, method, seconds, when: before|during|after}",
                "GET /_standin/webhooks",
                "POST /_standin/webhooks/mode  {mode: normal|drop_next|duplicate_next|reorder_next_two|delay, seconds, count}",
                "POST /_standin/webhooks/config  {url, secret}",
                "POST /_standin/webhooks/wait  {timeout}",
                "POST /_standin/checkout/sessions/{id}/complete  {payment_method, authenticate: complete|fail}",
                "POST /_standin/disputes  {charge|payment_intent, reason, amount}",
                "POST /_standin/disputes/{id}/close  {outcome: won|lost}",
                "POST /_standin/reset",
            ],
        }

    # -------------------------------------------------------------------------- hosted checkout page
    def checkout_page(self, method: str, session_id: str, body: bytes) -> Response:
        """``/c/pay/{id}``: the hosted Checkout page (GET shows it; POST pays, or answers 3-D Secure)."""
        ctx = Ctx(api_key="standin", idempotency_key=None, request_id=new_id("req_", 14))
        error: str | None = None
        with self.store.lock:
            try:
                session = self.store.get_checkout_session(ctx, {}, session_id)
            except ApiError:
                return checkout_pages.not_found()
            submitted = method == "POST" and session["status"] == "open"
            if submitted:
                form = decode_pairs(parse_qsl(body.decode("utf-8", "replace")))
                try:
                    session = self._checkout_post(ctx, session_id, form)
                except ApiError as exc:
                    error = exc.message
                    session = self.store.get_checkout_session(ctx, {}, session_id)
            display = self.store.checkout_display(session_id)
            self.store.save()
        self._after(ctx)
        if submitted and session["status"] == "complete" and session.get("success_url"):
            target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
            return 303, {"Location": target}, b""
        return checkout_pages.page(session, display, error=error)

    def _checkout_post(self, ctx: Ctx, session_id: str, form: dict[str, Any]) -> dict[str, Any]:
        if form.get("authenticate"):
            return self.store.authenticate_checkout(
                ctx, session_id, complete=str(form["authenticate"]) == "complete"
            )
        number = str(form.get("card_number") or "").strip()
        if number:
            pm = card_for_number(number)
            if pm is None:
                raise ApiError(
                    402,
                    "card_error",
                    "Your card number is not a Stripe test card: use 4242 4242 4242 4242 or another test number.",
                    code="invalid_number",
                )
        else:
            pm = str(form.get("payment_method") or "")
            if pm not in TEST_CARDS:
                raise ApiError(402, "card_error", "Choose a test card.", code="missing_payment_method")
        return self.store.pay_checkout(ctx, session_id, pm)


def _control_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    text = body.decode("utf-8")
    if text.lstrip().startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON object is expected")
        return parsed
    return decode(text)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _fault(data: dict[str, Any]) -> Fault:
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    when = str(data.get("when") or "after")
    if when not in FAULT_WHEN:
        raise ValueError(f"when must be one of {', '.join(FAULT_WHEN)}")
    count = int(data.get("count", 1))
    if count < 1:
        raise ValueError("count must be >= 1")
    method = data.get("method")
    return Fault(
        kind=kind,
        remaining=count,
        path=str(data["path"]) if data.get("path") else None,
        method=str(method).upper() if method else None,
        seconds=float(data.get("seconds", 5)),
        when=when,
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one segment (no Nagle / delayed-ACK stall)
    server: StandinHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(
                _json(413, {"error": {"type": "invalid_request_error", "message": "Request body too large."}})
            )
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        status, headers, body = response
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout fault)
            self.close_connection = True

    def _handle(self) -> None:
        standin = self.server.standin
        url = urlsplit(self.path)
        path, query = url.path, url.query
        body = self._read_body()
        if body is None:
            return
        method = self.command
        if path.startswith("/_standin"):
            self._send(standin.control(method, path, query, body))
            return
        if path.startswith("/c/pay/"):
            self._send(standin.checkout_page(method, path.removeprefix("/c/pay/"), body))
            return
        fault = standin.take_fault(method, path) if path.startswith("/v1/") else None
        if fault is not None and fault.kind == "timeout" and fault.when == "before":
            time.sleep(fault.seconds)
        response = standin.api(method, path, query, self.headers, body, fault=fault)
        with standin.store.lock:
            standin.store.requests.append(
                {
                    "at": time.time(),
                    "method": method,
                    "path": path,
                    "status": response[0],
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "replayed": response[1].get("Idempotent-Replayed") == "true",
                    "request_id": response[1].get("Request-Id"),
                    "fault": fault.describe() if fault else None,
                }
            )
            del standin.store.requests[:-2000]
        if fault is not None and fault.kind == "timeout" and fault.when == "after":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "reset":
            self.close_connection = True  # executed, but the answer is lost: the connection just closes
            return
        self._send(response)

    do_GET = do_POST = do_DELETE = _handle


class StandinHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: Standin) -> None:
        super().__init__(address, _Handler)
        self.standin = standin

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a client that gave up (timeout faults do this on purpose)
        super().handle_error(request, client_address)


class StandinServer:
    """A running stand-in: ``url``, ``port``, ``store``, ``webhooks``; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        state_file: str | None = None,
        clock: Callable[[], float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._log = log or (lambda line: None)
        self.store = Store(clock=clock, state_file=state_file)
        self.webhooks = WebhookSender(webhook_url, webhook_secret, log=self._log)
        self.standin = Standin(self.store, self.webhooks, self._log)
        try:
            self._httpd = StandinHTTPServer((host, port), self.standin)
        except OSError:
            self.webhooks.stop()
            raise
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.store.public_url = self.url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="stripe-standin",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> StandinServer:
        self._thread.start()
        return self

    def add_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
        seconds: float = 5.0,
        when: str = "after",
    ) -> None:
        fault = _fault(
            {"kind": kind, "count": count, "path": path, "method": method, "seconds": seconds, "when": when}
        )
        with self.standin.faults_lock:
            self.standin.faults.append(fault)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.webhooks.stop()
        with self.store.lock:
            self.store.save()
