"""An offline stand-in for the Stripe API: the calls ``billing.payments.StripeProvider`` makes, Stripe's
documented test payment methods, signed webhooks, and controls to misbehave on purpose.

In-process (tests, the local stack)::

    from local.stripe_standin import start
    server = start(port=0, webhook_url="http://127.0.0.1:3000/v1/webhooks/stripe", webhook_secret="whsec_...")
    ...  # STRIPE_API_BASE=server.url, STRIPE_API_KEY=sk_test_<anything>
    server.stop()

Standalone: ``python -m local.stripe_standin --port 12111 --webhook-url ... --webhook-secret whsec_...``.
See docs/payments.md.
"""

from __future__ import annotations

from collections.abc import Callable

from local.stripe_standin.cards import TEST_CARDS
from local.stripe_standin.server import StandinServer
from local.stripe_standin.webhooks import sign

__all__ = ["TEST_CARDS", "StandinServer", "sign", "start"]


def start(
    port: int = 0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    *,
    host: str = "127.0.0.1",
    state_file: str | None = None,
    clock: Callable[[], float] | None = None,
    log: Callable[[str], None] | None = None,
) -> StandinServer:
    """Bind ``host:port`` now (a busy port raises ``OSError`` here), serve from a daemon thread.

    ``port=0`` picks a free port (``server.port``). ``clock`` gives the objects' ``created`` times
    (epoch seconds; the local stack passes its movable clock); webhook signatures always use real
    time. ``state_file`` keeps the account across restarts.
    """
    return StandinServer(
        port=port,
        host=host,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        state_file=state_file,
        clock=clock,
        log=log,
    ).start()
