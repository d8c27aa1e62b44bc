"""Run `python -m local.stack` as a subprocess on free ports and talk to it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.process import ROOT, StackProcess, free_port, java_pids

Stack = StackProcess
__all__ = ["ROOT", "Stack", "free_port", "java_pids"]


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
