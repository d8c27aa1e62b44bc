"""Shared fixtures: DynamoDB Local once per test session, tables from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Credentials and region for every AWS client the tests build; never real ones.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Billing")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "billing")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DynamoDB Local (the AWS engine) on a free port, in memory, with the template's tables."""
    import boto3

    from local import dynamodb
    from local.template import create_tables

    port = dynamodb.free_port()
    log = tmp_path_factory.mktemp("ddb") / "dynamodb.log"
    proc = dynamodb.start(port=port, log=log)
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint))
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
