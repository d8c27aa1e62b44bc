"""The local HTTP gateway: every request goes to local.dispatch.Dispatcher (API Gateway HTTP API
semantics); `/_local/...` are local-only control routes (clock, schedules, queues, mail) that
exist on no deployed stack.

Control routes:
  GET  /_local                      this list, and where things are
  GET  /_local/clock                the local clock and its offset from real time
  POST /_local/clock                {"advance": "P1M" | "P3D" | "PT2H"} | {"set": ISO-8601} | {"reset": true};
                                    due schedules fire before it answers (each once: missed runs are
                                    not replayed, as EventBridge does not replay them)
  GET  /_local/schedules            schedules, next fire times, firings
  POST /_local/schedules/{name}/fire
  GET  /_local/queues               depth and dead-letter depth per queue, consumers
  POST /_local/queues/drain         {"timeout": 30, "wait_invisible": false}: process what is queued
  GET  /_local/mail                 the mail SES (moto) accepted
"""

from __future__ import annotations

import calendar
import errno
import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from local.dispatch import Dispatcher

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
Response = tuple[int, dict[str, str], bytes]
_JSON = {"content-type": "application/json"}


class PortInUse(OSError):
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        super().__init__(
            f"Port {port} on {host} is already in use, so the local gateway cannot listen on it. "
            f"Stop whatever uses it, or pick another port: `make run PORT=3100` "
            f"(or `python -m local.stack --port 3100`)."
        )
        self.port = port


def _json(status: int, data: Any) -> Response:
    return status, dict(_JSON), json.dumps(data, indent=1, default=str).encode()


def _error(status: int, message: str) -> Response:
    return _json(status, {"message": message})


# ---------------------------------------------------------------------------------------------- clock
_DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def add_months(t: datetime, months: int) -> datetime:
    """Calendar months, the day clamped to the target month (Jan 31 + P1M = Feb 28/29)."""
    index = t.year * 12 + (t.month - 1) + months
    year, month = divmod(index, 12)
    day = min(t.day, calendar.monthrange(year, month + 1)[1])
    return t.replace(year=year, month=month + 1, day=day)


def apply_duration(t: datetime, text: str) -> datetime:
    """t moved by an ISO-8601 duration (P1Y2M3W4DT5H6M7S, optionally signed); months are calendar months."""
    m = _DURATION.match(text.strip().upper())
    if not m or text.strip().upper() in ("P", "PT", "-P", "+P") or text.strip().upper().endswith("T"):
        raise ValueError(f"not an ISO-8601 duration: {text!r} (examples: P1M, P3D, PT2H, P1DT12H)")
    sign = -1 if m["sign"] == "-" else 1
    n = {k: int(v) for k, v in m.groupdict().items() if v and k not in ("sign", "seconds")}
    t = add_months(t, sign * (n.get("years", 0) * 12 + n.get("months", 0)))
    return t + sign * timedelta(
        weeks=n.get("weeks", 0),
        days=n.get("days", 0),
        hours=n.get("hours", 0),
        minutes=n.get("minutes", 0),
        seconds=float(m["seconds"] or 0),
    )


def parse_instant(text: str) -> datetime:
    t = datetime.fromisoformat(text.strip())
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class AdjustableClock(Protocol):
    def now(self) -> datetime: ...
    def offset(self) -> timedelta: ...
    def set_offset(self, offset: timedelta) -> None: ...


def clock_state(clock: AdjustableClock) -> dict[str, Any]:
    offset = clock.offset()
    return {"now": clock.now().isoformat(), "offset_seconds": offset.total_seconds(), "offset": str(offset)}


# -------------------------------------------------------------------------------------------- control
@dataclass
class LocalControl:
    """The `/_local/...` routes. Every part is optional (the tests use some without the others)."""

    clock: AdjustableClock | None = None
    scheduler: Any = None  # local.scheduler.Scheduler
    pollers: Any = None  # local.sqs.Pollers
    mail: Callable[[], list[dict[str, Any]]] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handle(self, method: str, path: str, body: bytes | None) -> Response:
        parts = [unquote(p) for p in path.strip("/").split("/")][1:]  # drop "_local"
        try:
            data = json.loads(body) if body and body.strip() else {}
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(data, dict):
            return _error(400, "the body must be a JSON object")
        try:
            return self._route(method, parts, data)
        except ValueError as exc:
            return _error(400, str(exc))

    def _route(self, method: str, parts: list[str], data: dict[str, Any]) -> Response:
        match parts:
            case [] | [""]:
                return self._only(method, "GET") or _json(200, {**self.info, "routes": _ROUTES})
            case ["clock"]:
                if self.clock is None:
                    return _error(404, "no clock control on this gateway")
                if method == "GET":
                    return _json(200, clock_state(self.clock))
                return self._only(method, "POST") or self._move_clock(data)
            case ["schedules"]:
                return (
                    self._only(method, "GET")
                    or self._need(self.scheduler, "schedules")
                    or _json(200, self.scheduler.status())
                )
            case ["schedules", name, "fire"]:
                if denied := self._only(method, "POST") or self._need(self.scheduler, "schedules"):
                    return denied
                from local.scheduler import UnknownSchedule

                try:
                    firing = self.scheduler.fire(name)
                except UnknownSchedule:
                    return _error(404, f"no schedule {name!r}; GET /_local/schedules lists them")
                return _json(200, asdict(firing))
            case ["queues"]:
                return (
                    self._only(method, "GET")
                    or self._need(self.pollers, "queues")
                    or _json(200, {"queues": self.pollers.status()})
                )
            case ["queues", "drain"]:
                if denied := self._only(method, "POST") or self._need(self.pollers, "queues"):
                    return denied
                timeout = float(data.get("timeout", 30))
                drained = self.pollers.drain(timeout, wait_invisible=bool(data.get("wait_invisible", False)))
                return _json(200, drained.as_dict())
            case ["mail"]:
                return (
                    self._only(method, "GET")
                    or self._need(self.mail, "mail")
                    or _json(200, {"messages": self.mail() if self.mail else []})
                )
        return _error(404, "no such local route; GET /_local lists them")

    @staticmethod
    def _only(method: str, allowed: str) -> Response | None:
        return None if method == allowed else _error(405, f"use {allowed}")

    @staticmethod
    def _need(part: Any, name: str) -> Response | None:
        return None if part is not None else _error(404, f"no {name} on this gateway")

    def _move_clock(self, data: dict[str, Any]) -> Response:
        assert self.clock is not None
        with self._lock:
            before = self.clock.now()
            if "advance" in data:
                target = apply_duration(before, str(data["advance"]))
                self.clock.set_offset(self.clock.offset() + (target - before))
            elif "set" in data:
                target = parse_instant(str(data["set"]))
                self.clock.set_offset(target - datetime.now(UTC))
            elif data.get("reset"):
                self.clock.set_offset(timedelta(0))
            else:
                raise ValueError(
                    'send {"advance": "P1M"}, {"set": "2025-01-31T00:00:00Z"} or {"reset": true}'
                )
            fired = self.scheduler.run_due() if self.scheduler is not None else []
        return _json(
            200,
            {**clock_state(self.clock), "before": before.isoformat(), "fired": [asdict(f) for f in fired]},
        )


_ROUTES = [
    line.strip()
    for line in (__doc__ or "").split("Control routes:")[1].splitlines()
    if line.strip().startswith(("GET", "POST"))
]


# -------------------------------------------------------------------------------------------- server
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: Dispatcher | None
    control: LocalControl | None
    log: Callable[[str], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by _handle

    def _read_body(self) -> bytes | None:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return out or None
                out += self.rfile.read(size)
                self.rfile.readline()
                if len(out) > MAX_BODY:
                    raise OverflowError
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise OverflowError
        return self.rfile.read(length) if length else None

    def _handle(self) -> None:
        started = time.monotonic()
        method = self.command
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except (OverflowError, ValueError):
            self.close_connection = True
            status, headers, out = _error(413, "Request Entity Too Large")
        else:
            request_headers: dict[str, str] = {}
            for k, v in self.headers.items():  # repeated headers are comma-joined, as API Gateway does
                key = k.lower()
                request_headers[key] = f"{request_headers[key]},{v}" if key in request_headers else v
            status, headers, out = self._respond(method, path, request_headers, body)
        try:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(out)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self.server.log(f"{method} {self.path} {status} {int((time.monotonic() - started) * 1000)}ms")

    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Response:
        try:
            if path == "/_local" or path.startswith("/_local/"):
                if self.server.control is None:
                    return _error(404, "Not Found")
                return self.server.control.handle(method, path, body)
            if self.server.dispatcher is None:
                return _error(503, "the stack is starting")
            return self.server.dispatcher.handle(method, self.path, headers, body)
        except Exception:  # never let one request take the gateway down
            traceback.print_exc()
            return _error(500, "Internal Server Error")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Gateway:
    """The gateway bound to host:port at construction (a busy port raises PortInUse at once);
    dispatcher and control may be attached before start()."""

    def __init__(
        self,
        dispatcher: Dispatcher | None = None,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        control: LocalControl | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(port, host) from None
            raise
        self._server.dispatcher = dispatcher
        self._server.control = control
        self._server.log = log or (lambda line: print(line, flush=True))
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dispatcher(self) -> Dispatcher | None:
        return self._server.dispatcher

    @dispatcher.setter
    def dispatcher(self, value: Dispatcher) -> None:
        self._server.dispatcher = value

    @property
    def control(self) -> LocalControl | None:
        return self._server.control

    @control.setter
    def control(self, value: LocalControl) -> None:
        self._server.control = value

    def start(self) -> Gateway:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
