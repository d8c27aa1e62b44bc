"""One injectable clock for the whole package.

Production uses the system clock. Tests freeze it; the local stack installs an
offset clock so a month of billing can be played in seconds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to (tests)."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


@dataclass
class OffsetClock:
    """System time shifted by an offset kept in a small JSON file, so every process of the
    local stack (and a restart of it) sees the same moved time."""

    path: Path
    _cache: tuple[float, timedelta] = field(default=(-1.0, timedelta(0)), repr=False)

    def offset(self) -> timedelta:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return timedelta(0)
        if mtime != self._cache[0]:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            self._cache = (mtime, timedelta(seconds=float(data.get("offset_seconds", 0))))
        return self._cache[1]

    def set_offset(self, offset: timedelta) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset_seconds": offset.total_seconds()}), encoding="utf-8")
        os.replace(tmp, self.path)
        self._cache = (-1.0, timedelta(0))

    def advance(self, delta: timedelta) -> None:
        self.set_offset(self.offset() + delta)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()


_clock: Clock = SystemClock()


def now() -> datetime:
    """The current time, aware, in UTC."""
    return _clock.now()


def set_clock(clock: Clock) -> Clock:
    """Install a clock; returns the previous one so a caller can restore it."""
    global _clock  # the one injectable clock
    previous, _clock = _clock, clock
    return previous


def get_clock() -> Clock:
    return _clock
