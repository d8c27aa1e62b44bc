"""The process-wide payment provider, rebuilt only when its settings change.

``get_payment_provider()`` is called by handlers (or the service functions they call) on every
invocation: it re-reads the settings through Powertools' parameter cache (an in-memory lookup
until ``STRIPE_SECRETS_MAX_AGE`` expires) and keeps the same provider, with its HTTP connection
pool, until the key, base URL or a tuning setting changes (a rotated key is picked up without a
cold start).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from billing.payments.provider import PaymentProvider
from billing.payments.settings import StripeSettings

_lock = threading.Lock()
_current: tuple[StripeSettings, PaymentProvider] | None = None


def get_payment_provider(environ: Mapping[str, str] | None = None) -> PaymentProvider:
    from billing.payments.stripe_provider import StripeProvider

    global _current  # noqa: PLW0603 - one provider per process, by design
    settings = StripeSettings.from_env(environ if environ is not None else os.environ)
    with _lock:
        if _current is None or _current[0] != settings:
            _current = (settings, StripeProvider(settings))
        return _current[1]


def reset_payment_provider() -> None:
    """Forget the cached provider (tests)."""
    global _current  # noqa: PLW0603
    with _lock:
        _current = None
