"""Signed webhook delivery, in order, from one background thread; can be told to misbehave.

Signature exactly as Stripe sends it and ``stripe.Webhook`` verifies it:
``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``, signed at send time
with real time (a moved local clock must not make signatures stale).

Modes (``set_mode``), as a test or a developer asks for them:
* ``normal``: each event once, in order;
* ``drop_next``: the next ``count`` events are never delivered (recorded as dropped);
* ``duplicate_next``: the next ``count`` events are delivered twice (same event id);
* ``reorder_next_two``: the next event is held back and sent right after the one that follows it
  (or after ``seconds``, default 5, if no other event comes);
* ``delay``: every event waits ``seconds`` before delivery, until the mode changes.

A delivery that fails (connection refused, non-2xx) is retried ``max_attempts`` times with a short
backoff (Stripe retries for days; a local stack does not need to).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODES = ("normal", "drop_next", "duplicate_next", "reorder_next_two", "delay")


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)
    copy: int = field(default=1, compare=False)
    cancelled: bool = field(default=False, compare=False)


class WebhookSender:
    def __init__(
        self,
        url: str | None,
        secret: str | None,
        *,
        max_attempts: int = 3,
        retry_delay: float = 0.5,
        timeout: float = 10.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.timeout = timeout
        self._log = log or (lambda line: None)
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self.mode = "normal"
        self.mode_count = 0
        self.mode_seconds = 0.0
        self._held: _Item | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="stripe-standin-webhooks", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------ configuration
    def configure(self, *, url: str | None = None, secret: str | None = None) -> None:
        with self._cond:
            if url is not None:
                self.url = url or None
            if secret is not None:
                self.secret = secret or None

    def set_mode(
        self, mode: str, *, seconds: float | None = None, count: int | None = None
    ) -> dict[str, Any]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if mode == "delay" and (seconds is None or seconds < 0):
            raise ValueError("mode delay needs seconds >= 0")
        with self._cond:
            self.mode = mode
            self.mode_count = int(count) if count is not None else 1
            self.mode_seconds = (
                float(seconds) if seconds is not None else (5.0 if mode == "reorder_next_two" else 0.0)
            )
            if mode == "normal" and self._held is not None:
                self._release_held(time.monotonic())
            self._cond.notify_all()
            return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "mode": self.mode,
            "count": self.mode_count if self.mode in ("drop_next", "duplicate_next") else None,
            "seconds": self.mode_seconds if self.mode in ("delay", "reorder_next_two") else None,
            "pending": len([i for i in self._heap if not i.cancelled]),
            "held": self._held.event["id"] if self._held else None,
        }

    # ---------------------------------------------------------------------------------- enqueuing
    def _push(self, event: dict[str, Any], due: float, *, copy: int = 1, attempt: int = 1) -> _Item:
        item = _Item(due, next(self._seq), event, attempt=attempt, copy=copy)
        heapq.heappush(self._heap, item)
        return item

    def _release_held(self, now: float) -> None:
        held, self._held = self._held, None
        if held is not None and not held.cancelled:
            held.cancelled = True
            self._push(held.event, now)

    def enqueue(self, event: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._cond:
            mode = self.mode
            if mode == "drop_next":
                self._record(event, status="dropped", copy=1, attempt=0, detail="mode drop_next")
                self._consume()
            elif mode == "duplicate_next":
                self._push(event, now, copy=1)
                self._push(event, now, copy=2)
                self._consume()
            elif mode == "reorder_next_two":
                if self._held is None:
                    self._held = self._push(event, now + self.mode_seconds)
                else:
                    self._push(event, now)
                    self._release_held(now)
                    self.mode = "normal"
            elif mode == "delay":
                self._push(event, now + self.mode_seconds)
            else:
                self._push(event, now)
            self._cond.notify_all()

    def _consume(self) -> None:
        self.mode_count -= 1
        if self.mode_count <= 0:
            self.mode = "normal"
            self.mode_count = 0

    # ---------------------------------------------------------------------------------- delivery
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    while self._heap and self._heap[0].cancelled:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0].due <= time.monotonic():
                        break
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                item = heapq.heappop(self._heap)
                if self._held is item:
                    self._held = None  # held past its time with no successor: send it anyway
                    if self.mode == "reorder_next_two":
                        self.mode = "normal"
                url, secret = self.url, self.secret
                self._busy = True
            try:
                self._deliver(item, url, secret)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, item: _Item, url: str | None, secret: str | None) -> None:
        event = item.event
        if not url:
            self._record(event, status="no_endpoint", copy=item.copy, attempt=item.attempt)
            return
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        if secret:
            headers["Stripe-Signature"] = sign(payload, secret)
        if not url.startswith(("http://", "https://")):
            self._record(
                event, status="error", copy=item.copy, attempt=item.attempt, detail="not an http(s) URL"
            )
            return
        request = urllib.request.Request(url, data=payload.encode(), headers=headers, method="POST")  # noqa: S310
        status: int | None = None
        detail = ""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - local URL
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            detail = exc.read(500).decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            detail = str(exc)
        ok = status is not None and 200 <= status < 300
        self._record(
            event,
            status=status if status is not None else "error",
            copy=item.copy,
            attempt=item.attempt,
            detail=detail,
        )
        if not ok:
            self._log(f"stripe stand-in: webhook {event['type']} {event['id']} -> {url}: {status or detail}")
            if item.attempt < self.max_attempts:
                with self._cond:
                    self._push(
                        event,
                        time.monotonic() + self.retry_delay * item.attempt,
                        copy=item.copy,
                        attempt=item.attempt + 1,
                    )
                    self._cond.notify_all()

    def _record(
        self, event: dict[str, Any], *, status: int | str, copy: int, attempt: int, detail: str = ""
    ) -> None:
        self.deliveries.append(
            {
                "event_id": event["id"],
                "type": event["type"],
                "status": status,
                "copy": copy,
                "attempt": attempt,
                "at": time.time(),
                "detail": detail,
            }
        )

    # ------------------------------------------------------------------------------------ control
    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued, held or being sent (delayed events included)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or any(not i.cancelled for i in self._heap):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._held = None
            self.deliveries.clear()
            self.mode, self.mode_count, self.mode_seconds = "normal", 0, 0.0
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
