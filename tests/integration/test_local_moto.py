"""moto for the local stack: buckets from the template, SES senders verified and mail listed,
S3 objects kept across a restart.

moto's state is per process, shared with the other tests' moto: nothing here resets it; the tests use
their own bucket and addresses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from local.moto_server import MotoServer, client, create_resources, sender_addresses, sent_mail
from local.stack import restore_buckets, save_buckets
from local.template import load_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer(0).start()
    yield server
    server.stop()


@pytest.fixture
def own_bucket(moto):
    """A template with one bucket of its own, created empty."""
    name = f"LocalTest{uuid.uuid4().hex[:8]}"
    template = {"Resources": {name: {"Type": "AWS::S3::Bucket"}}}
    return template, create_resources(template, moto.endpoint)


def test_the_templates_bucket_is_created_and_referenced(moto):
    res = create_resources(load_template(), moto.endpoint)
    assert res.buckets == {"DocumentsBucket": "documentsbucket"}
    assert res.refs["DocumentsBucket"] == "documentsbucket"
    assert res.refs["DocumentsBucket.Arn"] == "arn:aws:s3:::documentsbucket"
    names = [b["Name"] for b in client("s3", moto.endpoint).list_buckets()["Buckets"]]
    assert "documentsbucket" in names
    assert create_resources(load_template(), moto.endpoint).refs == res.refs  # again: no error, same refs


def test_a_busy_port_fails_at_once(moto):
    with pytest.raises(OSError):
        MotoServer(moto.port)


def test_sender_addresses_from_the_environment():
    env = {
        "SES_SENDER": "Billing <billing@example.com>",
        "NOTIFIER_SENDER": "ops@example.org",
        "OTHER_SENDER": "not-an-address",
        "HOME": "/root",
    }
    assert sender_addresses(env) == ["Billing <billing@example.com>", "ops@example.org"]


def test_verified_senders_can_send_and_the_mail_is_listed(moto):
    run = uuid.uuid4().hex[:8]
    create_resources(
        {"Resources": {}},
        moto.endpoint,
        senders=[f"Billing <billing-{run}@example.com>", f"receipts@{run}.example.com"],
    )
    ses = client("ses", moto.endpoint)
    ses.send_email(
        Source=f"billing-{run}@example.com",
        Destination={"ToAddresses": ["ada@example.net"]},
        Message={"Subject": {"Data": "Invoice INV-1"}, "Body": {"Text": {"Data": "Amount due: 10.00"}}},
    )
    client("sesv2", moto.endpoint).send_email(  # the domain is verified too; SES v2 lands in the same place
        FromEmailAddress=f"other@{run}.example.com",
        Destination={"ToAddresses": ["bob@example.net"]},
        Content={"Simple": {"Subject": {"Data": "Receipt"}, "Body": {"Text": {"Data": "Thanks"}}}},
    )
    mail = [m for m in sent_mail() if run in m["source"]]
    assert [(m["source"], m["subject"]) for m in mail] == [
        (f"billing-{run}@example.com", "Invoice INV-1"),
        (f"other@{run}.example.com", "Receipt"),
    ]
    assert mail[0]["destinations"]["ToAddresses"] == ["ada@example.net"]
    assert mail[0]["body"] == "Amount due: 10.00"


def test_an_unverified_sender_is_refused(moto):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="not verified"):
        client("ses", moto.endpoint).send_email(
            Source=f"nobody@{uuid.uuid4().hex[:8]}.example.org",
            Destination={"ToAddresses": ["ada@example.net"]},
            Message={"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}},
        )


def test_s3_objects_are_saved_and_restored(moto, own_bucket, tmp_path):
    template, res = own_bucket
    (bucket,) = res.buckets.values()
    s3 = client("s3", moto.endpoint)
    s3.put_object(
        Bucket=bucket,
        Key="invoices/2025/INV 1.pdf",
        Body=b"%PDF",
        ContentType="application/pdf",
        Metadata={"invoice": "INV-1"},
    )
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"hello")
    assert save_buckets(moto.endpoint, res.buckets, tmp_path) == 2
    s3.delete_object(Bucket=bucket, Key="notes.txt")
    assert save_buckets(moto.endpoint, res.buckets, tmp_path) == 1  # a deleted object is not brought back

    s3.delete_object(Bucket=bucket, Key="invoices/2025/INV 1.pdf")  # as a restart of moto leaves it
    s3.delete_bucket(Bucket=bucket)
    create_resources(template, moto.endpoint)
    assert restore_buckets(moto.endpoint, res.buckets, tmp_path) == 1
    got = s3.get_object(Bucket=bucket, Key="invoices/2025/INV 1.pdf")
    assert got["Body"].read() == b"%PDF"
    assert got["ContentType"] == "application/pdf"
    assert got["Metadata"] == {"invoice": "INV-1"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["invoices/2025/INV 1.pdf"]
