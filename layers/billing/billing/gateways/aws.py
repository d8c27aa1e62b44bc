"""S3 (issued documents), SQS (notification jobs) and SES (email), behind small typed adapters."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from billing.errors import ProviderUnavailable


@lru_cache(maxsize=4)
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5),
    )


@contextmanager
def _provider(what: str) -> Iterator[None]:
    """AWS failures become ``ProviderUnavailable`` (retry later), never a bare botocore error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise ProviderUnavailable(f"{what} failed: {exc}", code="provider_unavailable") from exc


class DocumentStore:
    """Issued documents in the documents bucket (SSE-KMS by the bucket's default encryption)."""

    def __init__(self, *, bucket: str) -> None:
        self.bucket = bucket

    def put_html(self, key: str, html: str, *, metadata: Mapping[str, str] | None = None) -> None:
        self.put(key, html.encode("utf-8"), content_type="text/html; charset=utf-8", metadata=metadata)

    def put_pdf(self, key: str, pdf: bytes, *, metadata: Mapping[str, str] | None = None) -> None:
        self.put(key, pdf, content_type="application/pdf", metadata=metadata)

    def put(
        self, key: str, body: bytes, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        with _provider("storing the document"):
            client("s3").put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=dict(metadata or {}),
            )

    def get(self, key: str) -> bytes | None:
        """The stored object's bytes, or None when there is no such object."""
        from botocore.exceptions import ClientError

        with _provider("reading the document"):
            try:
                answer = client("s3").get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return bytes(answer["Body"].read())


class NotificationQueue:
    """The Notifications queue: one JSON message per (subject, kind)."""

    def __init__(self, *, url: str) -> None:
        self.url = url

    def send(self, message: Mapping[str, Any]) -> str:
        with _provider("enqueueing the notification"):
            answer = client("sqs").send_message(QueueUrl=self.url, MessageBody=json.dumps(dict(message)))
        return str(answer["MessageId"])


class PaymentEventQueue:
    """The PaymentEvents queue: one verified provider event per message (``{"event": {...}}``)."""

    def __init__(self, *, url: str) -> None:
        self.url = url

    def send(self, message: Mapping[str, Any]) -> str:
        with _provider("enqueueing the payment event"):
            answer = client("sqs").send_message(QueueUrl=self.url, MessageBody=json.dumps(dict(message)))
        return str(answer["MessageId"])


class EmailSender:
    """SES ``SendEmail`` (HTML + text) from the configured sender."""

    def __init__(self, *, sender: str) -> None:
        self.sender = sender

    def send(
        self, *, to: Sequence[str], subject: str, html: str, text: str, reply_to: Sequence[str] = ()
    ) -> str:
        """``reply_to``: SES's ``ReplyToAddresses`` (answers go there, not to the sender)."""
        extra: dict[str, Any] = {"ReplyToAddresses": list(reply_to)} if reply_to else {}
        with _provider("sending the email"):
            answer = client("ses").send_email(
                Source=self.sender,
                Destination={"ToAddresses": list(to)},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {
                        "Html": {"Data": html, "Charset": "UTF-8"},
                        "Text": {"Data": text, "Charset": "UTF-8"},
                    },
                },
                **extra,
            )
        return str(answer["MessageId"])
