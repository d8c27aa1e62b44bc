"""``create-api-key``: the first admin key of a new deployment (or any key, when the API is not at hand)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from billing.cli.aws import add_table_arguments, billing_table
from billing.models.api_keys import Role


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "create-api-key",
        help="create an API key and print it once",
        description="Create an API key in the stack's table and print it once (it is stored only hashed).",
    )
    add_table_arguments(parser)
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    parser.add_argument("--name", default="bootstrap", help="a label to recognise the key by")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    table = billing_table(args)
    key, token = create_api_key(
        ApiKeyRepository(table_name=table), name=args.name, role=Role(args.role), created_by="cli"
    )
    sys.stdout.write(f"Created {key.role.value} key {key.id} ({key.name}).\nAPI key: {token}\n")
    sys.stdout.write("It is shown only now and stored only hashed; keep it in a secret store.\n")
    return 0
