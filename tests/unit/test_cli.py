"""`python -m billing.cli`: the operator's commands say what is wrong instead of a traceback.

AWS is moto (tables, stacks) or a botocore Stubber (expired tokens, denials, throttling); never real.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from billing.cli import main
from billing.repositories import dynamo
from billing.services.api_keys import hash_secret
from local.template import create_tables

TABLE = "billing-dev-BillingTable-1X2Y3Z"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No profile, no endpoint override, an empty AWS config: only what each test sets."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    dynamo.dynamodb_resource.cache_clear()
    dynamo.table.cache_clear()
    yield
    dynamo.dynamodb_resource.cache_clear()
    dynamo.table.cache_clear()
    boto3.DEFAULT_SESSION = None


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def moto_table() -> Iterator[str]:
    """The template's BillingTable in moto, under a deployed-looking name."""
    with mock_aws():
        from local.template import load_template

        template = load_template()
        billing = {"BillingTable": template["Resources"]["BillingTable"]}
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, {"Resources": billing})
        client_tables = client.list_tables()["TableNames"]
        (created,) = client_tables
        yield created


# ------------------------------------------------------------------------------------------- it works
def test_create_api_key_by_table_prints_the_key_once_and_stores_only_its_hash(
    capsys: pytest.CaptureFixture[str], moto_table: str
) -> None:
    code, out, err = run(capsys, "--region", "us-east-1", "create-api-key", "--table", moto_table)
    assert (code, err) == (0, "")
    match = re.fullmatch(
        r"Created admin key (?P<id>[0-9a-f]{16}) \(bootstrap\)\.\nAPI key: (?P<token>bk_\S+)\n"
        r"It is shown only now and stored only hashed; keep it in a secret store\.\n",
        out,
    )
    assert match, out
    items = boto3.resource("dynamodb", region_name="us-east-1").Table(moto_table).scan()["Items"]
    (item,) = items
    assert item["secret_hash"] == hash_secret(match["token"])
    assert match["token"] not in str(item)


def test_create_api_key_finds_the_table_from_the_stack_outputs(
    capsys: pytest.CaptureFixture[str], moto_table: str
) -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(
        StackName="billing-dev",
        TemplateBody=(
            '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},'
            f' "Outputs": {{"BillingTableName": {{"Value": "{moto_table}"}}}}}}'
        ),
    )
    # the global options may also follow the command
    code, out, err = run(
        capsys, "create-api-key", "--stack", "billing-dev", "--role", "billing", "--name", "ops", "--region",
        "us-east-1",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("Created billing key ") and "(ops)" in out
    assert len(boto3.client("dynamodb", region_name="us-east-1").scan(TableName=moto_table)["Items"]) == 1


# ------------------------------------------------------------------------------- what goes wrong
def test_no_credentials(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run(capsys, "create-api-key", "--table", TABLE)
    assert code == 1
    assert "no AWS credentials found" in one_line_error(err) and "--profile" in err


def test_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--profile", "prod", "create-api-key", "--table", TABLE)
    assert code == 1
    assert "no AWS profile 'prod'" in one_line_error(err)


def test_no_region(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    code, _, err = run(capsys, "create-api-key", "--table", TABLE)
    assert code == 1
    assert "no AWS region: pass --region" in one_line_error(err)


@pytest.mark.parametrize("region", ["mars-1", "us east 1"])
def test_unknown_region(capsys: pytest.CaptureFixture[str], region: str) -> None:
    code, _, err = run(capsys, "--region", region, "create-api-key", "--table", TABLE)
    assert code == 1
    assert f"unknown AWS region {region!r}" in one_line_error(err)


def test_no_such_table(capsys: pytest.CaptureFixture[str], moto_table: str) -> None:
    code, _, err = run(capsys, "--region", "us-east-1", "create-api-key", "--table", "billing-typo")
    assert code == 1
    line = one_line_error(err)
    assert "no DynamoDB table 'billing-typo' in us-east-1" in line and "--stack" in line


def test_no_such_stack(capsys: pytest.CaptureFixture[str], moto_table: str) -> None:
    code, _, err = run(capsys, "create-api-key", "--stack", "billing-typo")
    assert code == 1
    assert "no CloudFormation stack 'billing-typo' in us-east-1" in one_line_error(err)


def test_a_stack_without_the_output(capsys: pytest.CaptureFixture[str], moto_table: str) -> None:
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="other",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Url": {"Value": "x"}}}',
    )
    code, _, err = run(capsys, "create-api-key", "--stack", "other")
    assert code == 1
    line = one_line_error(err)
    assert "stack 'other' (CREATE_COMPLETE) has no output BillingTableName (its outputs: Url)" in line


@pytest.mark.parametrize(
    ("aws_code", "wanted"),
    [
        ("ExpiredTokenException", "your AWS credentials have expired"),
        ("UnrecognizedClientException", "AWS does not accept these credentials"),
        ("AccessDeniedException", "access denied for PutItem (User: arn:aws:iam::1:user/x is not authorized"),
        ("ThrottlingException", "AWS throttled PutItem"),
        ("ProvisionedThroughputExceededException", "wait a minute and run the command again"),
        ("InternalServerError", "AWS refused PutItem: InternalServerError: "),
    ],
)
def test_aws_refusals(capsys: pytest.CaptureFixture[str], aws_code: str, wanted: str) -> None:
    client = dynamo.dynamodb_resource().meta.client  # the client the repositories will use
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_item",
            service_error_code=aws_code,
            service_message="User: arn:aws:iam::1:user/x is not authorized to perform: dynamodb:PutItem",
            http_status_code=400,
        )
        code, out, err = run(capsys, "create-api-key", "--table", TABLE)
        stub.assert_no_pending_responses()
    assert (code, out) == (1, "")
    assert wanted in one_line_error(err)


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--debug", "--region", "mars-1", "create-api-key", "--table", TABLE)
    assert code == 1
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: unknown AWS region")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["create-api-key"], ["create-api-key", "--table", "a", "--stack", "b"], ["nope"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "one of the arguments --table --stack is required" in capsys.readouterr().err


def test_an_aws_failure_wrapped_by_a_gateway_is_explained_by_its_cause() -> None:
    import argparse

    from botocore.exceptions import ClientError

    from billing.cli.errors import explain
    from billing.errors import ProviderUnavailable

    cause = ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "SendMessage")
    try:
        try:
            raise cause
        except ClientError as exc:
            raise ProviderUnavailable(f"enqueueing failed: {exc}") from exc
    except ProviderUnavailable as wrapped:
        args = argparse.Namespace(region="eu-west-1", profile="ops", table=None, stack=None)
        message = explain(wrapped, args)
    assert message is not None and message.startswith("your AWS credentials have expired")
    assert "aws sso login --profile ops" in message
