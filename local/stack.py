"""`make run` (`python -m local.stack`): the whole backend offline, on one machine.

DynamoDB Local (data on disk under <data-dir>/dynamodb), moto for the other AWS APIs, the template's
tables, queues and buckets, the functions in-process behind a local HTTP gateway, the template's
schedules and SQS consumers, and a clock that can be moved (`POST /_local/clock`).

What survives a restart: DynamoDB data, the clock offset and S3 objects (copied to <data-dir>/s3 on
stop, put back on start). Messages still queued and recorded mail live in moto's memory and are
lost. `--in-memory` keeps nothing (the tests use it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, unquote

from local import dynamodb
from local.dynamodb import SetupError
from local.functions import (
    LAYER,
    anchor_code_uris,
    function_environment,
    local_refs,
    parse_parameter_overrides,
)
from local.gateway import Gateway, LocalControl, PortInUse
from local.template import ROOT, TEMPLATE, create_tables, load_template, table_definitions

DEFAULT_PORT = 3000
DEFAULT_DDB_PORT = 8000
DEFAULT_MOTO_PORT = 5000
DEFAULT_STRIPE_PORT = 12111
LOCAL_STRIPE_KEY = "sk_test_local_standin"
LOCAL_WEBHOOK_SECRET = "whsec_local_standin"  # noqa: S105 - local only


class _Shutdown(BaseException):
    """SIGINT/SIGTERM: unwind the main thread, stopping what was started."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m local.stack", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or DEFAULT_PORT),
        help="gateway port (default: $PORT or 3000)",
    )
    p.add_argument(
        "--data-dir",
        default=os.environ.get("LOCAL_DATA_DIR") or str(ROOT / ".local"),
        help="where DynamoDB data, the clock and S3 objects are kept (default: .local)",
    )
    p.add_argument("--template", default=str(TEMPLATE), help="the SAM template (default: template.yaml)")
    p.add_argument(
        "--parameter-overrides",
        default=os.environ.get("PARAMS") or "",
        metavar="'Name=Value ...'",
        help="template parameters other than their defaults, as sam deploy takes them "
        "(default: $PARAMS), e.g. 'DunningRetryDays=1,2 DraftGraceHours=0'",
    )
    p.add_argument("--in-memory", action="store_true", help="keep no data: DynamoDB in memory, a fresh clock")
    p.add_argument(
        "--create-admin-key",
        action="store_true",
        help="create (and print) a new admin API key even if one exists",
    )
    return p.parse_args(argv)


def say(line: str = "") -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _pick_port(env: str, default: int, what: str) -> int:
    wanted = int(os.environ.get(env) or default)
    if not dynamodb.port_in_use(wanted):
        return wanted
    port = dynamodb.free_port()
    say(f"Port {wanted} is busy, so {what} uses port {port} (set {env}=<port> to choose).")
    return port


def _stop_process(proc: Any) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------- admin key
def ensure_admin_key(table: str, *, force: bool = False) -> tuple[str | None, Any]:
    """Create an admin key when the table has no active one (or when forced): (token or None, key)."""
    from billing.models.api_keys import Role
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    repo = ApiKeyRepository(table_name=table)
    if not force:
        cursor = None
        while True:
            page, cursor = repo.list(limit=100, cursor=cursor)
            admins = [k for k in page if k.role is Role.ADMIN and k.active]
            if admins:
                return None, admins[0]
            if not cursor:
                break
    key, token = create_api_key(repo, name="local admin", role=Role.ADMIN, created_by="local.stack")
    return token, key


# ------------------------------------------------------------------------------------------ S3 state
def save_buckets(endpoint: str, buckets: dict[str, str], directory: Path) -> int:
    """Copy every object of the template's buckets to directory/<bucket>/ (moto keeps them in memory)."""
    from local.moto_server import client

    s3 = client("s3", endpoint)
    count = 0
    for bucket in buckets.values():
        root = directory / bucket
        index: dict[str, Any] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                path = root / "objects" / quote(obj["Key"], safe="")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(got["Body"].read())
                index[obj["Key"]] = {
                    "ContentType": got.get("ContentType"),
                    "Metadata": got.get("Metadata") or {},
                }
                count += 1
        if root.exists() or index:
            root.mkdir(parents=True, exist_ok=True)
            for stale in (root / "objects").glob("*") if (root / "objects").exists() else []:
                if unquote(stale.name) not in index:
                    stale.unlink()
            (root / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    return count


def restore_buckets(endpoint: str, buckets: dict[str, str], directory: Path) -> int:
    from local.moto_server import client

    s3 = client("s3", endpoint)
    count = 0
    for bucket in buckets.values():
        index_file = directory / bucket / "index.json"
        if not index_file.exists():
            continue
        for key, meta in json.loads(index_file.read_text(encoding="utf-8")).items():
            path = directory / bucket / "objects" / quote(key, safe="")
            if not path.exists():
                continue
            extra: dict[str, Any] = {"Metadata": meta.get("Metadata") or {}}
            if meta.get("ContentType"):
                extra["ContentType"] = meta["ContentType"]
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)
            count += 1
    return count


def _warm_boto3() -> None:
    """Set up boto3's default session from this thread, before handlers run on many threads at once:
    handlers call boto3.client()/resource() on it, and its lazy first-time setup is not thread-safe."""
    import boto3

    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.get_credentials()
    for service in ("dynamodb", "sqs", "s3"):  # the session-wide parts are set up by the first
        session.client(service)
    session.resource("dynamodb")


# ------------------------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> int:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    template_path = Path(args.template).resolve()
    if not template_path.exists():
        raise SetupError(f"no template at {template_path}")
    template = anchor_code_uris(load_template(template_path), template_path.parent)
    try:
        overrides = parse_parameter_overrides(template, args.parameter_overrides)
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    with contextlib.ExitStack() as stack:
        # 1. the gateway's port first: a busy port is the commonest problem, report it before anything starts
        gateway = Gateway(port=args.port, log=say)
        stack.callback(gateway.stop)
        dynamodb.check_java()
        dynamodb.find_jar()

        os.environ.update(
            {
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        # AWS_ENDPOINT_URL_SQS and the like from the shell would beat ours: every AWS call stays local
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
            os.environ.pop(name)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

        # 2. DynamoDB Local and the template's tables
        ddb_port = _pick_port("DDB_PORT", DEFAULT_DDB_PORT, "DynamoDB Local")
        db_path = None if args.in_memory else data_dir / "dynamodb"
        say(
            "Starting DynamoDB Local"
            + (" (in memory)" if db_path is None else f" (data in {db_path})")
            + " ..."
        )
        proc = dynamodb.start(port=ddb_port, db_path=db_path, log=data_dir / "dynamodb.log")
        stack.callback(_stop_process, proc)
        ddb_endpoint = f"http://127.0.0.1:{ddb_port}"
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb_endpoint
        import boto3

        created = create_tables(boto3.client("dynamodb", endpoint_url=ddb_endpoint), template)

        # 3. moto, the template's queues and buckets, the functions' environment
        from local import moto_server

        moto = moto_server.MotoServer(_pick_port("MOTO_PORT", DEFAULT_MOTO_PORT, "moto")).start()
        stack.callback(moto.stop)
        os.environ["AWS_ENDPOINT_URL"] = moto.endpoint
        res = moto_server.create_resources(template, moto.endpoint)
        try:
            env = function_environment(template, local_refs(template, extra={**overrides, **res.refs}))
        except (KeyError, ValueError) as exc:
            raise SetupError(
                f"{template_path.name}: a function's environment cannot be resolved locally ({exc}). "
                "The local stack provides tables, SQS queues, S3 buckets and parameter defaults; "
                "anything else needs adding to local/moto_server.py."
            ) from None
        os.environ.update(env)
        # Parameters a deployment must give (EmailFrom, SellerLegalName, ...) have their local values
        # (local.functions.LOCAL_PARAMETER_VALUES); links point at this gateway unless PublicUrl is given.
        for name in ("BILLING_PUBLIC_URL", "BILLING_API_URL"):
            if not os.environ.get(name) or "${" in os.environ[name] or "execute-api" in os.environ[name]:
                os.environ[name] = gateway.url
        _warm_boto3()
        senders = moto_server.sender_addresses(dict(os.environ))
        moto_server.verify_senders(moto.endpoint, senders)
        s3_dir = data_dir / "s3"
        if not args.in_memory:
            restored = restore_buckets(moto.endpoint, res.buckets, s3_dir)
            if restored:
                say(f"Restored {restored} S3 object(s) from {s3_dir}")
            stack.callback(
                lambda: say(f"Saved {save_buckets(moto.endpoint, res.buckets, s3_dir)} S3 object(s).")
            )

        # 4. the clock every handler reads
        from billing import clock as billing_clock

        clock_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) if args.in_memory else data_dir
        clock = billing_clock.OffsetClock(clock_dir / "clock.json")
        previous = billing_clock.set_clock(clock)
        stack.callback(billing_clock.set_clock, previous)

        # 4b. Stripe: the offline stand-in, unless a real key is given without a base URL
        stripe_line = _start_stripe(stack, gateway=gateway, data_dir=data_dir, args=args, clock=clock)

        # 5. the first admin key
        admin_line = None
        if os.environ.get("BILLING_TABLE") in table_definitions(template):
            token, key = ensure_admin_key(os.environ["BILLING_TABLE"], force=args.create_admin_key)
            if token:
                admin_line = f"Admin API key: {token}"
            else:
                admin_line = (
                    f"An admin API key exists ({key.name!r}, ...{key.last4}, created "
                    f"{key.created_at:%Y-%m-%d}); create another with POST /v1/api-keys "
                    f'{{"name": "...", "role": "admin"}}, or restart with --create-admin-key.'
                )

        # 6. schedules, queue consumers, gateway
        from local.dispatch import Dispatcher
        from local.scheduler import Scheduler
        from local.sqs import Pollers

        refs = local_refs(template, extra={**overrides, **res.refs})
        scheduler = Scheduler(template, refs, log=say).start()
        stack.callback(scheduler.stop)
        pollers = Pollers(template, res.queues, moto.endpoint, log=say).start()
        stack.callback(pollers.stop)
        for m in pollers.mappings:
            if m.has_filters:
                warn(f"warning: {m.name} has FilterCriteria; the local poller delivers every message.")
        gateway.dispatcher = Dispatcher(template=template)
        info = {
            "gateway": gateway.url,
            "dynamodb": ddb_endpoint,
            "moto": moto.endpoint,
            "data_dir": str(data_dir),
            "in_memory": args.in_memory,
            "template": str(template_path),
        }
        gateway.control = LocalControl(
            clock=clock, scheduler=scheduler, pollers=pollers, mail=moto_server.sent_mail, info=info
        )
        gateway.start()
        stack.callback(gateway.stop)  # stop serving first when stopping

        _print_summary(
            gateway=gateway,
            ddb=ddb_endpoint,
            moto=moto.endpoint,
            data_dir=data_dir,
            args=args,
            template=template,
            created=created,
            clock=clock,
            scheduler=scheduler,
            pollers=pollers,
            senders=senders,
        )
        say(stripe_line)
        if admin_line:
            say(admin_line)
        say(f"Ready: {gateway.url} (Ctrl-C to stop)")
        try:
            threading.Event().wait()
        except _Shutdown:
            say("Stopping ...")
    say("Stopped.")
    return 0


def _start_stripe(
    stack: contextlib.ExitStack, *, gateway: Gateway, data_dir: Path, args: argparse.Namespace, clock: Any
) -> str:
    """Point the payment functions at the stand-in (signed webhooks back to this gateway), or at
    real Stripe when ``STRIPE_API_KEY`` is a real key and ``STRIPE_API_BASE`` is not set."""
    # The template's *_PARAM names SSM parameters of a deployment; locally the values are given.
    for name in ("STRIPE_API_KEY_PARAM", "STRIPE_WEBHOOK_SECRET_PARAM"):
        os.environ.pop(name, None)
    key = os.environ.get("STRIPE_API_KEY", "")
    if key and key != LOCAL_STRIPE_KEY and not os.environ.get("STRIPE_API_BASE"):
        return (
            "  Stripe          real Stripe (STRIPE_API_KEY); forward webhooks with "
            f"`stripe listen --forward-to {gateway.url}/v1/webhooks/stripe`"
        )
    from billing import clock as billing_clock
    from local import stripe_standin

    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or LOCAL_WEBHOOK_SECRET
    standin = stripe_standin.start(
        _pick_port("STRIPE_PORT", DEFAULT_STRIPE_PORT, "Stripe stand-in"),
        webhook_url=f"{gateway.url}/v1/webhooks/stripe",
        webhook_secret=secret,
        state_file=None if args.in_memory else str(data_dir / "stripe.json"),
        clock=lambda: billing_clock.now().timestamp(),
        log=warn,
    )
    stack.callback(standin.stop)
    os.environ["STRIPE_API_BASE"] = standin.url
    os.environ["STRIPE_API_KEY"] = key or LOCAL_STRIPE_KEY
    os.environ["STRIPE_WEBHOOK_SECRET"] = secret
    return f"  Stripe          stand-in {standin.url} (test cards; controls at {standin.url}/_standin)"


def _print_summary(
    *,
    gateway: Gateway,
    ddb: str,
    moto: str,
    data_dir: Path,
    args: argparse.Namespace,
    template: dict[str, Any],
    created: list[str],
    clock: Any,
    scheduler: Any,
    pollers: Any,
    senders: list[str],
) -> None:
    tables = ", ".join(table_definitions(template)) or "none"
    say("")
    say(
        f"  Gateway         {gateway.url}  ({len(gateway.dispatcher.routes) if gateway.dispatcher else 0} routes;"
        f" local control at {gateway.url}/_local)"
    )
    say(
        f"  DynamoDB Local  {ddb}  (tables: {tables}"
        + (f"; created {', '.join(created)}" if created else "")
        + ")"
    )
    say(f"  moto            {moto}  (SQS, S3, SES, Scheduler, KMS, SSM)")
    say(f"  Data            {'in memory (nothing is kept)' if args.in_memory else data_dir}")
    if args.parameter_overrides:
        say(f"  Parameters      {args.parameter_overrides}  (the template's defaults otherwise)")
    offset = clock.offset()
    say(
        f"  Clock           {clock.now():%Y-%m-%d %H:%M:%S} UTC"
        + (f" (moved {offset} from real time)" if offset else " (real time)")
        + f'; move it: POST {gateway.url}/_local/clock {{"advance": "P1M"}}'
    )
    for s in scheduler.schedules.values():
        nxt = f"next {s.next_at:%Y-%m-%d %H:%M} UTC" if s.next_at and s.enabled else "disabled"
        say(f"  Schedule        {s.name} -> {s.function.name}  {s.expression}  ({nxt})")
    for q in pollers.queues.values():
        consumers = [m.function.name for m in pollers.mappings if m.queue.logical_id == q.logical_id]
        dlq = (
            f"; dead letters to {pollers.queues[q.dlq].name} after {q.max_receive_count} receives"
            if q.dlq
            else ""
        )
        say(f"  Queue           {q.name}" + (f" -> {', '.join(consumers)}" if consumers else "") + dlq)
    if senders:
        say(f"  SES senders     {', '.join(senders)} (mail: GET {gateway.url}/_local/mail)")
    say("")


def _install_signals(on_signal: Callable[[], None]) -> None:
    state = {"stopping": False}

    def handler(signum: int, frame: FrameType | None) -> None:
        if state["stopping"]:
            warn("Still stopping ...")
            return
        state["stopping"] = True
        on_signal()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def shutdown() -> None:
        raise _Shutdown

    _install_signals(shutdown)
    try:
        return run(args)
    except PortInUse as exc:
        warn(f"error: {exc}")
        return 2
    except SetupError as exc:
        warn(f"error: {exc}")
        return 1
    except _Shutdown:  # stopped while starting: everything started was stopped on the way out
        say("Stopped.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
