"""``python -m local.stripe_standin``: the Stripe stand-in on its own (Ctrl-C stops it)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from local.stripe_standin import start

DEFAULT_PORT = 12111


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stripe_standin", description=__doc__)
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("STRIPE_STANDIN_PORT") or DEFAULT_PORT)
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("STRIPE_STANDIN_WEBHOOK_URL"),
        help="where signed events are POSTed (none: events are only listed)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        help="the whsec_... secret events are signed with",
    )
    parser.add_argument(
        "--state-file", default=None, help="keep the account in this JSON file across restarts"
    )
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret (or STRIPE_WEBHOOK_SECRET)")
    try:
        server = start(
            args.port,
            args.webhook_url,
            args.webhook_secret,
            host=args.host,
            state_file=args.state_file,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(
        f"Stripe stand-in on {server.url} (STRIPE_API_BASE={server.url}, any sk_test_ key); "
        f"webhooks -> {args.webhook_url or 'nowhere (GET /v1/events)'}; controls: {server.url}/_standin",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
