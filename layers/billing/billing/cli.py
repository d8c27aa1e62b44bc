"""Operator commands for a deployed stack (run with your AWS credentials).

    python -m billing.cli create-api-key --table <BillingTableName> --role admin --name first-admin

prints the new key once. The table name is the stack output `BillingTableName`.
"""

from __future__ import annotations

import argparse
import sys

from billing.models.api_keys import Role
from billing.repositories.api_keys import ApiKeyRepository
from billing.services.api_keys import create_api_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-api-key", help="create an API key and print it once")
    create.add_argument(
        "--table", required=True, help="the BillingTable name (stack output BillingTableName)"
    )
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    create.add_argument("--name", default="bootstrap")
    args = parser.parse_args(argv)
    key, token = create_api_key(
        ApiKeyRepository(table_name=args.table), name=args.name, role=Role(args.role), created_by="cli"
    )
    sys.stdout.write(f"Created {key.role.value} key {key.id} ({key.name}).\nAPI key: {token}\n")
    sys.stdout.write("It is shown only now and stored only hashed; keep it in a secret store.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
