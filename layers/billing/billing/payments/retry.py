"""Bounded exponential backoff with jitter for calls to the payment provider.

Only transient failures are retried (HTTP 429, connection errors and timeouts, 5xx, 409 lock
conflicts), and always under the same idempotency key, so a retry can replay but never repeat a
charge. When the budget is spent the caller raises ``ProviderUnavailable`` and the queue redelivers
later: again with the same key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    """Calls in all, the first included (each call also gets the SDK's own network retries)."""
    base_delay: float = 0.5
    """Seconds before the first retry; doubled for each further one."""
    max_delay: float = 8.0
    deadline_seconds: float = 45.0
    """No new attempt starts once this long has passed since the first one."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline_seconds < 0:
            raise ValueError("delays must not be negative")

    def delay(
        self, retry: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        "Equal jitter": half the exponential step plus a random part of the other half, so
        concurrent workers spread out but none retries immediately. A provider's ``Retry-After``
        is honoured as a floor.
        """
        if retry < 1:
            raise ValueError("retry must be >= 1")
        step = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        uniform = rng.uniform if rng is not None else random.uniform
        draw = uniform(0, step / 2)
        wait = step / 2 + draw
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, max(self.max_delay, wait))
        return wait
