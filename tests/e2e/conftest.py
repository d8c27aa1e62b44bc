"""Run `python -m local.stack` as a subprocess on free ports and talk to it over HTTP."""

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
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class Stack:
    """One `python -m local.stack` process; its output is collected line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.ddb_port = free_port()
        self.moto_port = free_port()
        self.moto_url = ""
        full_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DDB_PORT": str(self.ddb_port),
            "MOTO_PORT": str(self.moto_port),
            **(env or {}),
        }
        for name in [n for n in full_env if n.startswith("AWS_ENDPOINT_URL")]:
            full_env.pop(name)  # the test session's own endpoints (the stack drops them too)
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
        """The first line (from now on or already seen) matching pattern."""
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

    def ready(self, timeout: float = 90) -> Stack:
        """Wait for the Ready line; learn the ports the stack really uses from its summary."""
        self.wait_for(r"^Ready: ", timeout)
        self.ddb_port = int(self.wait_for(r"DynamoDB Local\s+http://127\.0\.0\.1:(\d+)").group(1))
        self.moto_url = self.wait_for(r"moto\s+(http://127\.0\.0\.1:\d+)").group(1)
        return self

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


@pytest.fixture
def start_stack() -> Iterator[type[Stack]]:
    """start_stack(*args, env=...) -> a running Stack; every one is killed at the end if still alive."""
    started: list[Stack] = []

    class _Stack(Stack):
        def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
            super().__init__(*args, env=env)
            started.append(self)

    yield _Stack
    for stack in started:
        stack.kill()
