"""`python -m local.stack` end to end: the real template, DynamoDB Local, moto, the gateway over
HTTP, the first admin key, a clean stop, data kept across a restart, a busy port."""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest
import requests

from tests.e2e.conftest import java_pids

pytestmark = pytest.mark.e2e

ADMIN_LINE = re.compile(r"^Admin API key: (bk_\S+)$", re.M)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _no_java(ddb_port: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while java_pids(ddb_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not java_pids(ddb_port)


def test_the_stack_serves_the_api_with_a_first_admin_key_and_stops_cleanly(start_stack, tmp_path):
    with socket.socket() as busy:  # DDB_PORT taken: the stack picks another and says so
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        busy_port = busy.getsockname()[1]
        stack = start_stack("--in-memory", "--data-dir", str(tmp_path), env={"DDB_PORT": str(busy_port)})
        stack.ready()
    assert f"Port {busy_port} is busy, so DynamoDB Local uses port" in stack.output
    keys = ADMIN_LINE.findall(stack.output)
    assert len(keys) == 1, stack.output
    admin = keys[0]
    url = stack.url

    health = requests.get(f"{url}/v1/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert requests.get(f"{url}/v1/api-keys", timeout=10).status_code == 401
    listed = requests.get(f"{url}/v1/api-keys", headers=_bearer(admin), timeout=10)
    assert listed.status_code == 200, listed.text
    assert [k["role"] for k in listed.json()["data"]] == ["admin"]

    created = requests.post(
        f"{url}/v1/api-keys", json={"name": "meter", "role": "usage"}, headers=_bearer(admin), timeout=10
    )
    assert created.status_code == 201, created.text
    usage = created.json()["key"]
    forbidden = requests.get(f"{url}/v1/api-keys", headers=_bearer(usage), timeout=10)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "insufficient_role"

    clock = requests.post(f"{url}/_local/clock", json={"advance": "P1D"}, timeout=10).json()
    assert clock["offset_seconds"] == pytest.approx(86400, abs=5)
    assert requests.get(f"{url}/_local/queues", timeout=10).status_code == 200
    assert java_pids(stack.ddb_port)  # running while the stack runs

    assert stack.stop(signal.SIGINT) == 0
    assert "Stopped." in stack.output
    assert "Traceback" not in stack.output
    assert _no_java(stack.ddb_port), "DynamoDB Local outlived the stack"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/health", timeout=2)


def test_data_survives_a_restart_on_the_same_data_dir(start_stack, tmp_path):
    import boto3

    data_dir = str(tmp_path / "data")
    first = start_stack("--data-dir", data_dir).ready()
    (admin,) = ADMIN_LINE.findall(first.output)
    created = requests.post(
        f"{first.url}/v1/api-keys",
        json={"name": "meter", "role": "usage"},
        headers=_bearer(admin),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    usage = created.json()
    requests.post(f"{first.url}/_local/clock", json={"advance": "P2D"}, timeout=10).raise_for_status()
    s3 = boto3.client(
        "s3",
        endpoint_url=first.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.put_object(
        Bucket="documentsbucket",
        Key="invoices/INV-1.pdf",
        Body=b"%PDF-1.7 ...",
        ContentType="application/pdf",
    )
    assert first.stop(signal.SIGTERM) == 0
    assert _no_java(first.ddb_port)

    second = start_stack("--data-dir", data_dir).ready()
    assert not ADMIN_LINE.findall(second.output), second.output
    assert "An admin API key exists" in second.output
    listed = requests.get(f"{second.url}/v1/api-keys", headers=_bearer(admin), timeout=10)
    assert listed.status_code == 200, listed.text
    assert usage["id"] in [k["id"] for k in listed.json()["data"]]
    assert (
        requests.get(f"{second.url}/v1/api-keys", headers=_bearer(usage["key"]), timeout=10).status_code
        == 403
    )
    clock = requests.get(f"{second.url}/_local/clock", timeout=10).json()
    assert clock["offset_seconds"] == pytest.approx(2 * 86400, abs=5)
    s3 = boto3.client(
        "s3",
        endpoint_url=second.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    got = s3.get_object(Bucket="documentsbucket", Key="invoices/INV-1.pdf")
    assert got["Body"].read() == b"%PDF-1.7 ..."
    assert got["ContentType"] == "application/pdf"
    assert second.stop() == 0
    assert _no_java(second.ddb_port)


def test_a_busy_gateway_port_exits_2_naming_the_port(start_stack, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = start_stack("--in-memory", "--data-dir", str(tmp_path), "--port", str(port))
        assert stack.proc.wait(timeout=30) == 2
    stack.wait_for("error")  # the reader thread has everything once the process is gone
    assert f"Port {port}" in stack.output
    assert "make run PORT=3100" in stack.output
    assert "Traceback" not in stack.output
    assert not java_pids(stack.ddb_port)


def test_without_java_the_stack_says_how_to_install_it(start_stack, tmp_path):
    stack = start_stack("--in-memory", "--data-dir", str(tmp_path), env={"PATH": str(tmp_path)})
    assert stack.proc.wait(timeout=30) == 1
    stack.wait_for("Java")
    assert "Java 17 or newer is required" in stack.output
    assert "openjdk-17" in stack.output
    assert "Traceback" not in stack.output
