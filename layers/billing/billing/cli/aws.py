"""The AWS session of a command (``--region`` / ``--profile``) and the names it looks up.

``configure_session`` makes boto3's default session the one the operator chose, before any client is
built: the repositories and gateways build their clients lazily from that default session, so every
AWS call of the command goes to that account and region.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from billing.cli.errors import CliError


def configure_session(*, region: str | None, profile: str | None) -> Any:
    """boto3's default session for ``region`` and ``profile`` (``ProfileNotFound`` if there is no such
    profile); ``CliError`` when no region is known or the region is not one AWS has."""
    import boto3

    boto3.setup_default_session(region_name=region, profile_name=profile)
    session = boto3.DEFAULT_SESSION
    assert session is not None
    name = session.region_name
    if not name:
        raise CliError(
            "no AWS region: pass --region (the stack's region), set AWS_DEFAULT_REGION, or set one in your "
            "profile (`aws configure set region us-east-1`)"
        )
    if not _custom_endpoint() and name not in _known_regions(session):
        raise CliError(
            f"unknown AWS region {name!r}: pass --region with the region your stack is deployed in, "
            "like us-east-1 or eu-west-1"
        )
    return session


def _custom_endpoint() -> bool:
    """An endpoint override (DynamoDB Local, moto) accepts any region name."""
    return any(name.startswith("AWS_ENDPOINT_URL") for name in os.environ)


def _known_regions(session: Any) -> set[str]:
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("dynamodb", partition_name=partition))
    return regions


# ------------------------------------------------------------------------------------- the table
def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """``--table NAME`` or ``--stack NAME`` (one of them), for commands working on the BillingTable."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--table", help="the BillingTable's name (stack output BillingTableName)")
    group.add_argument(
        "--stack", help="the CloudFormation stack's name: its output BillingTableName names the table"
    )


def billing_table(args: argparse.Namespace) -> str:
    """The table named by ``--table``, or the ``BillingTableName`` output of ``--stack`` (which then
    becomes ``args.table``, so failures name it)."""
    if args.table:
        return str(args.table)
    args.table = stack_output(args.stack, "BillingTableName")
    return str(args.table)


def stack_output(stack: str, key: str) -> str:
    """One output of a CloudFormation stack, or CliError naming what the stack has instead."""
    import boto3

    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    if key not in outputs:
        status = described.get("StackStatus", "?")
        found = ", ".join(sorted(outputs)) or "none"
        raise CliError(
            f"stack {stack!r} ({status}) has no output {key} (its outputs: {found}): is it a billing "
            "stack, and has its deployment finished?"
        )
    return str(outputs[key])
