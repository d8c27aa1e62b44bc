"""What an operator reads when a command fails: one line saying what is wrong and what to do.

``explain`` turns the failures an operator can cause or fix (credentials, region, names, permissions,
throttling) into that line; anything else is a bug and keeps its traceback under ``--debug``.
"""

from __future__ import annotations

import argparse
from typing import Any

from billing.errors import BillingError

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthFailure",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "KMSAccessDeniedException"}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}


class CliError(Exception):
    """An expected failure, already worded for the operator (exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _region(args: argparse.Namespace) -> str:
    if args.region:
        return str(args.region)
    import boto3

    session = boto3.DEFAULT_SESSION
    return str(session.region_name) if session is not None and session.region_name else "(no region)"


def _login_hint(args: argparse.Namespace) -> str:
    return f"aws sso login --profile {args.profile}" if args.profile else "aws sso login"


def _client_error(exc: Any, args: argparse.Namespace) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    aws_message = str(error.get("Message", "")).strip()
    operation = getattr(exc, "operation_name", "the request")
    region = _region(args)
    if code in _EXPIRED:
        return (
            f"your AWS credentials have expired ({code}): log in again ({_login_hint(args)}) or refresh "
            "them, then run the command again"
        )
    if code in _BAD_CREDENTIALS:
        return (
            f"AWS does not accept these credentials ({code}): check which identity you use with "
            "`aws sts get-caller-identity` (and --profile / AWS_PROFILE)"
        )
    if code in _DENIED:
        return (
            f"access denied for {operation} ({aws_message or code}): use credentials allowed to run it "
            "(an administrator of the stack's account), or ask for that permission"
        )
    if code in _THROTTLED:
        return f"AWS throttled {operation} ({code}): wait a minute and run the command again"
    if code == "ResourceNotFoundException" and getattr(args, "table", None):
        return (
            f"no DynamoDB table {args.table!r} in {region}: check the name (stack output BillingTableName) "
            "and the region (--region), or pass --stack <stack name> instead of --table"
        )
    if code == "ValidationError" and "does not exist" in aws_message and getattr(args, "stack", None):
        return (
            f"no CloudFormation stack {args.stack!r} in {region}: check the name and the region (--region); "
            "`aws cloudformation describe-stacks --query 'Stacks[].StackName'` lists them"
        )
    return f"AWS refused {operation}: {code}: {aws_message}"


def explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    """The one line for an expected failure, or None for a bug."""
    from botocore import exceptions as bc

    if isinstance(exc, bc.ProfileNotFound):
        return (
            f"no AWS profile {args.profile!r} in your AWS config: `aws configure list-profiles` lists "
            "them; create it with `aws configure --profile NAME` (or `aws configure sso`)"
        )
    if isinstance(exc, bc.NoCredentialsError):
        return (
            "no AWS credentials found: run `aws configure` (or `aws configure sso`), set AWS_PROFILE, "
            "or pass --profile NAME"
        )
    if isinstance(exc, bc.TokenRetrievalError | bc.SSOTokenLoadError | bc.UnauthorizedSSOTokenError):
        return f"your AWS SSO session has expired or is missing: run `{_login_hint(args)}` and try again"
    if isinstance(exc, bc.NoRegionError):
        return "no AWS region: pass --region (the stack's region) or set AWS_DEFAULT_REGION"
    if isinstance(exc, bc.InvalidRegionError):
        return f"{args.region!r} is not an AWS region name: pass --region like us-east-1"
    if isinstance(exc, bc.EndpointConnectionError | bc.ConnectTimeoutError | bc.ReadTimeoutError):
        return (
            f"could not reach AWS in {_region(args)} ({exc}): check the region (--region) and your "
            "network or proxy"
        )
    if isinstance(exc, bc.ClientError):
        return _client_error(exc, args)
    if isinstance(exc, bc.CredentialRetrievalError | bc.PartialCredentialsError):
        return f"your AWS credentials could not be loaded ({exc}): check your AWS config and profile"
    if isinstance(exc, bc.BotoCoreError):
        return f"AWS: {exc}"
    if isinstance(exc, BillingError):
        # an AWS failure wrapped by a repository or gateway (ProviderUnavailable): explain the cause
        cause = explain(exc.__cause__, args) if exc.__cause__ is not None else None
        return cause or exc.message
    return None
