"""Operator commands for a deployed stack, run with your AWS credentials: ``python -m billing.cli --help``.

    python -m billing.cli --region eu-west-1 create-api-key --stack billing-prod --role admin --name first-admin

Global options, before the command: ``--region`` and ``--profile`` (every AWS client the command builds
uses that session), ``--debug`` (tracebacks). A table is named with ``--table <BillingTableName>`` or
found with ``--stack <stack name>`` (its output ``BillingTableName``).

Every expected failure (no or expired credentials, unknown region, no such table or stack, access
denied, throttling) prints one line saying what is wrong and what to do, and exits 1; usage errors
exit 2.

Adding a command: a module of this package with ``register(commands)``, which adds its parser to the
subparsers ``commands`` and sets ``run`` (``args -> exit code``) as its default; list it in COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from billing.cli.errors import CliError, explain

COMMANDS: tuple[str, ...] = ("billing.cli.api_keys",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m billing.cli",
        description="Operator commands for a deployed billing stack (uses your AWS credentials).",
    )
    _global_options(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(commands)
    for command in commands.choices.values():  # also after the command: `create-api-key ... --region X`
        _global_options(command, default=argparse.SUPPRESS)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    parser.add_argument(
        "--region",
        default=default,
        help="AWS region of the stack (default: AWS_DEFAULT_REGION or your profile's region)",
    )
    parser.add_argument(
        "--profile", default=default, help="named AWS CLI profile (default: AWS_PROFILE or the default chain)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if default is None else default,
        help="show the traceback of a failure",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors: argparse prints them and exits 2
    try:
        from billing.cli.aws import configure_session

        configure_session(region=args.region, profile=args.profile)
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        message = exc.message if isinstance(exc, CliError) else explain(exc, args)
        if message is None:
            message = f"unexpected {type(exc).__name__}: {exc}" + (
                "" if args.debug else " (run again with --debug for the traceback)"
            )
        sys.stderr.write(f"error: {message}\n")
        return 1


__all__ = ["COMMANDS", "CliError", "build_parser", "main"]
