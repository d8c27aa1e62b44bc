"""`python -m local.stack` as a subprocess on free ports, its output read line by line.

Used by `make demo` (local/demo.py) and by the e2e and browser tests (tests/e2e, tests/browser).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADMIN_LINE = re.compile(r"^Admin API key: (bk_\S+)$", re.M)
STANDIN_LINE = re.compile(r"Stripe\s+stand-in (http://\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_pages(get: Callable[[str], Any], path: str) -> list[dict[str, Any]]:
    """Every item of an API list (``get(path)`` answers one page), following next_cursor."""
    items: list[dict[str, Any]] = []
    sep = "&" if "?" in path else "?"
    cursor = None
    while True:
        page = get(f"{path}{sep}limit=100" + (f"&starting_after={cursor}" if cursor else ""))
        items += page["data"]
        if not page["has_more"]:
            return items
        cursor = page["next_cursor"]


def poll[T](probe: Callable[[], T | None], timeout: float) -> T | None:
    """probe() every 0.2 s until it returns something truthy (returned), or None after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def java_pids(ddb_port: int) -> list[int]:
    """DynamoDB Local processes listening on ddb_port (from /proc: Linux)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"DynamoDBLocal.jar" in a for a in args) and str(ddb_port).encode() in args:
            pids.append(int(cmdline.parent.name))
    return pids


class StackProcess:
    """One `python -m local.stack` process on free ports (gateway, DynamoDB Local, moto, Stripe
    stand-in); ``env`` adds to (or overrides) the environment it inherits, less the caller's AWS
    endpoints and Stripe settings (the offline stand-in, never a real Stripe account)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.ddb_port = free_port()
        self.moto_port = free_port()
        self.moto_url = ""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "STRIPE_"))}
        full_env = {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "DDB_PORT": str(self.ddb_port),
            "MOTO_PORT": str(self.moto_port),
            "STRIPE_PORT": str(free_port()),
            **(env or {}),
        }
        self.argv = [sys.executable, "-m", "local.stack", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first line (from now on or already seen) matching pattern; AssertionError with the
        stack's output if it exits first or nothing matches in time."""
        regex = re.compile(pattern)
        for line in list(self.lines):
            if m := regex.search(line):
                return m
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(
                    f"the stack exited ({self.proc.wait()}) before {pattern!r}:\n{self.output}"
                )
            if m := regex.search(line):
                return m
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{self.output}")

    def ready(self, timeout: float = 90) -> StackProcess:
        """Wait for the Ready line; learn the ports the stack really uses from its summary."""
        self.wait_for(r"^Ready: ", timeout)
        self.ddb_port = int(self.wait_for(r"DynamoDB Local\s+http://127\.0\.0\.1:(\d+)").group(1))
        self.moto_url = self.wait_for(r"moto\s+(http://127\.0\.0\.1:\d+)").group(1)
        return self

    @property
    def admin_key(self) -> str:
        """The admin key the stack printed on its first start (AssertionError if it printed none)."""
        found = ADMIN_LINE.findall(self.output)
        assert found, f"no admin key in the stack's output:\n{self.output}"
        return str(found[-1])

    @property
    def stripe_url(self) -> str:
        found = STANDIN_LINE.search(self.output)
        assert found, f"no Stripe stand-in in the stack's output:\n{self.output}"
        return found.group(1)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in java_pids(self.ddb_port):
            os.kill(pid, signal.SIGKILL)
