"""moto server for the AWS APIs other than DynamoDB (SQS, S3, SES, Scheduler, KMS, SSM), and the
template's queues and buckets created in it.

The server runs in this process on a thread, so the stack can read what moto recorded (sent mail)
straight from its backends. boto3 reaches it through AWS_ENDPOINT_URL, which it honours natively
for every service; DynamoDB keeps its own AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local).
"""

from __future__ import annotations

import email
import errno
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.dynamodb import port_in_use
from local.template import resources

REGION = "us-east-1"
# A RedrivePolicy needs the DLQ's ARN, so dead-letter queues are created before the queues using them.
_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


class MotoServer:
    """moto's WSGI app on 127.0.0.1:port, served from a daemon thread.

    The socket is bound here, in the caller's thread, so a busy port raises at once (moto's own
    ThreadedMotoServer binds in its thread and then waits forever).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call
        app = DomainDispatcherApplication(create_backend_app)
        busy = OSError(
            errno.EADDRINUSE, f"port {port} (moto) is already in use; pick another with MOTO_PORT=<port>"
        )
        if port and port_in_use(port, host):
            raise busy
        try:
            self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        except SystemExit:  # werkzeug exits on a busy port (lost a race with the check above)
            raise busy from None
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="moto", daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def _queue_name(logical_id: str, props: Mapping[str, Any]) -> str:
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    return f"{logical_id}.fifo" if fifo else logical_id


def _queue_order(queues: Mapping[str, dict[str, Any]]) -> list[str]:
    """Logical ids with every dead-letter queue before the queues that redrive into it."""
    order: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in order or name in seen:
            return
        target = dlq_of(queues[name])
        if target and target in queues:
            visit(target, (*seen, name))
        order.append(name)

    for name in queues:
        visit(name)
    return order


def dlq_of(queue: Mapping[str, Any]) -> str | None:
    """The logical id of a queue's dead-letter queue (RedrivePolicy.deadLetterTargetArn: !GetAtt X.Arn)."""
    redrive = (queue.get("Properties") or {}).get("RedrivePolicy") or {}
    target = redrive.get("deadLetterTargetArn")
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        arg = target["Fn::GetAtt"]
        return str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
    if isinstance(target, str):
        return target.rsplit(":", 1)[-1]
    return None


@dataclass
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str
    dlq: str | None = None  # logical id
    max_receive_count: int | None = None
    visibility_timeout: int = 30


@dataclass
class Resources:
    """What was created in moto, and the template references that point at it."""

    queues: dict[str, Queue] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    refs: dict[str, str] = field(default_factory=dict)


def create_resources(
    template: dict[str, Any], endpoint: str, *, senders: list[str] | None = None
) -> Resources:
    """Create the template's SQS queues (with their redrive policies) and S3 buckets in moto (idempotent),
    and verify the SES senders; returns the refs for local.functions.local_refs(template, extra=...)."""
    out = Resources()
    queues = resources(template, "AWS::SQS::Queue")
    if queues:
        sqs = client("sqs", endpoint)
        for logical_id in _queue_order(queues):
            props = queues[logical_id].get("Properties") or {}
            attributes = {
                k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                for k in _QUEUE_ATTRIBUTES
                if k in props
            }
            dlq = dlq_of(queues[logical_id])
            max_receive = None
            if dlq:
                if dlq not in out.queues:
                    raise ValueError(
                        f"queue {logical_id}: dead-letter queue {dlq} is not an AWS::SQS::Queue here"
                    )
                max_receive = int(props["RedrivePolicy"].get("maxReceiveCount", 10))
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": out.queues[dlq].arn, "maxReceiveCount": max_receive}
                )
            name = _queue_name(logical_id, props)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            if attributes:  # an existing queue keeps its old attributes otherwise
                sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            out.queues[logical_id] = Queue(
                logical_id, name, url, arn, dlq, max_receive, int(attributes.get("VisibilityTimeout", 30))
            )
            out.refs.update(
                {
                    logical_id: url,
                    f"{logical_id}.Arn": arn,
                    f"{logical_id}.QueueName": name,
                    f"{logical_id}.QueueUrl": url,
                }
            )
    buckets = resources(template, "AWS::S3::Bucket")
    if buckets:
        s3 = client("s3", endpoint)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for logical_id in buckets:
            name = logical_id.lower()
            if name not in existing:
                s3.create_bucket(Bucket=name)
            out.buckets[logical_id] = name
            out.refs.update(
                {
                    logical_id: name,
                    f"{logical_id}.Arn": f"arn:aws:s3:::{name}",
                    f"{logical_id}.DomainName": f"{name}.s3.amazonaws.com",
                    f"{logical_id}.RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
                }
            )
    if senders:
        verify_senders(endpoint, senders)
    return out


def verify_senders(endpoint: str, senders: list[str]) -> None:
    """Verify each sender address and its domain in moto's SES (moto verifies at once)."""
    ses = client("ses", endpoint)
    for sender in senders:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()  # "Billing <billing@example.com>"
        ses.verify_email_identity(EmailAddress=address)
        if "@" in address:
            ses.verify_domain_identity(Domain=address.split("@", 1)[1])


def sender_addresses(env: Mapping[str, str]) -> list[str]:
    """Sender addresses named by the environment: SES_SENDER, or any *_SENDER / *_FROM_ADDRESS with an @."""
    out = []
    for key, value in env.items():
        if (
            key == "SES_SENDER" or key.endswith(("_SENDER", "_FROM_ADDRESS", "SENDER_EMAIL", "_EMAIL_FROM"))
        ) and "@" in value:
            out.append(value)
    return sorted(set(out))


def sent_mail() -> list[dict[str, Any]]:
    """Every message moto's SES (v1 and v2) has accepted, oldest first, in every account and region."""
    from moto.ses.models import Message, RawMessage, TemplateMessage, ses_backends

    out: list[dict[str, Any]] = []
    for account, regions in ses_backends.items():
        for region, backend in regions.items():
            for msg in list(backend.sent_messages):
                item: dict[str, Any] = {
                    "id": getattr(msg, "id", None),
                    "account": account,
                    "region": region,
                    "source": msg.source,
                }
                if isinstance(msg, Message):
                    item.update(destinations=msg.destinations, subject=msg.subject, body=msg.body)
                elif isinstance(msg, RawMessage):
                    parsed = email.message_from_string(msg.raw_data)
                    item.update(
                        destinations=msg.destinations, subject=parsed.get("Subject"), raw=msg.raw_data
                    )
                elif isinstance(msg, TemplateMessage):
                    item.update(
                        destinations=msg.destinations, template=msg.template, template_data=msg.template_data
                    )
                else:
                    item.update(kind=type(msg).__name__)
                out.append(item)
    return out
