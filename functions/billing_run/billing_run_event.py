"""The scheduled event's firing time (EventBridge ``time``), which names the run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing import clock


def fired_at(event: dict[str, Any]) -> datetime:
    """When the schedule fired: the event's ``time`` (each retry of one firing sees the same one)."""
    text = event.get("time")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    return clock.now()
