"""The local SQS poller against moto: Lambda's event shape, partial batch failures, redelivery after
the visibility timeout and redrive to the dead-letter queue, with the real sample worker writing to
DynamoDB Local."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.functions import function_environment, invoke, local_refs
from local.moto_server import MotoServer, client, create_resources
from local.sqs import Pollers, SqsPoller, failed_message_ids, mappings_from_template, queue_depth
from local.template import create_tables
from tests.fixtures.sample_stack.helpers import items, sample_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer(0).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sample(dynamodb_endpoint: str, moto: MotoServer) -> dict[str, Any]:
    import boto3

    template = sample_template()
    create_tables(boto3.client("dynamodb", endpoint_url=dynamodb_endpoint), template)
    res = create_resources(template, moto.endpoint)
    os.environ.update(function_environment(template, local_refs(template, extra=res.refs)))
    return {
        "template": template,
        "res": res,
        "sqs": client("sqs", moto.endpoint),
        "table": "SampleTable",
        "endpoint": moto.endpoint,
    }


@pytest.fixture
def queue(sample, moto) -> Any:
    """SampleQueue, new and empty: the sample queues deleted and created again (moto limits PurgeQueue to
    one a minute; a moto reset would wipe what other tests of this process keep in moto)."""
    sqs = sample["sqs"]
    for q in sample["res"].queues.values():
        sqs.delete_queue(QueueUrl=q.url)
    res = create_resources(sample["template"], moto.endpoint)
    assert res.refs == sample["res"].refs  # same names, same URLs: the functions' environment holds
    return res.queues["SampleQueue"]


def test_queues_are_created_from_the_template_with_their_redrive_policy(sample):
    res = sample["res"]
    main, dlq = res.queues["SampleQueue"], res.queues["SampleDLQ"]
    attrs = sample["sqs"].get_queue_attributes(QueueUrl=main.url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "1"
    assert '"maxReceiveCount": 2' in attrs["RedrivePolicy"]
    assert dlq.arn in attrs["RedrivePolicy"]
    dlq_attrs = sample["sqs"].get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["All"])["Attributes"]
    assert dlq_attrs["MessageRetentionPeriod"] == "1209600"
    assert res.refs["SampleQueue"] == main.url
    assert res.refs["SampleQueue.Arn"] == main.arn
    assert res.refs["SampleDLQ.QueueName"] == "SampleDLQ"
    assert os.environ["SAMPLE_QUEUE_URL"] == main.url  # the functions' !Ref SampleQueue


def test_creating_again_is_idempotent(sample, moto):
    again = create_resources(sample["template"], moto.endpoint)
    assert again.refs == sample["res"].refs


def test_mapping_from_the_template(sample):
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)
    assert mapping.name == "SampleWorker.Jobs"
    assert mapping.queue.logical_id == "SampleQueue"
    assert mapping.batch_size == 10
    assert mapping.report_batch_item_failures is True


def test_one_failed_record_is_redelivered_then_dead_lettered_and_the_others_processed_once(sample, queue):
    sqs = sample["sqs"]
    run = uuid.uuid4().hex[:8]
    good = [f"job-{run}-{n}" for n in range(3)]
    bad = f"fail-{run}"
    for body in [*good, bad]:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    pollers = Pollers(sample["template"], sample["res"].queues, sample["endpoint"])

    # the first pass: one batch of four, the failed one left on the queue (in flight, invisible)
    first = pollers.drain(timeout=10)
    assert first.done
    assert [(b.records, b.deleted, len(b.failed)) for b in first.batches] == [(4, 3, 1)]
    assert queue_depth(sqs, queue.url) == {"visible": 0, "in_flight": 1, "delayed": 0}

    # then until the queue is empty: redelivered after the 1 s visibility timeout, failed again, and
    # moved to the dead-letter queue when received more than maxReceiveCount (2) times
    rest = pollers.drain(timeout=20, wait_invisible=True)
    assert rest.done
    assert [(b.records, b.deleted, len(b.failed)) for b in rest.batches] == [(1, 0, 1)]
    assert queue_depth(sqs, queue.url) == {"visible": 0, "in_flight": 0, "delayed": 0}

    processed = items(sample["table"], "processed")
    assert {body: int(processed[body]["deliveries"]) for body in good} == dict.fromkeys(good, 1)
    failed = items(sample["table"], "failed")[bad]
    assert int(failed["deliveries"]) == 2
    assert int(failed["receive_count"]) == 2

    dlq = sample["res"].queues["SampleDLQ"]
    assert queue_depth(sqs, dlq.url)["visible"] == 1
    (dead,) = sqs.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == bad
    assert dead["MessageId"] == failed["message_id"]

    status = {q["name"]: q for q in pollers.status()}
    assert status["SampleQueue"]["dlq"]["name"] == "SampleDLQ"
    assert status["SampleQueue"]["consumers"][0]["function"] == "SampleWorker"


def test_the_event_has_lambdas_sqs_shape(sample, queue):
    sqs = sample["sqs"]
    sent = sqs.send_message(
        QueueUrl=queue.url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "count": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    events: list[dict[str, Any]] = []
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)
    poller = SqsPoller(mapping, sample["endpoint"], invoker=lambda spec, event: events.append(event))
    result = poller.poll_once()
    assert result is not None
    assert result.deleted == 1  # None is success with ReportBatchItemFailures
    ((record,),) = [e["Records"] for e in events]
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == hashlib.md5(b'{"hello": "world"}').hexdigest()
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "greeting",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["count"]["dataType"] == "Number"
    assert record["messageAttributes"]["blob"] == {
        "binaryValue": "AAE=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }


def test_an_exception_fails_the_whole_batch(sample, queue):
    sqs = sample["sqs"]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)

    def crash(spec, event):
        raise RuntimeError("worker down")

    result = SqsPoller(mapping, sample["endpoint"], invoker=crash).poll_once()
    assert result is not None
    assert (result.records, result.deleted, len(result.failed)) == (2, 0, 2)
    assert "worker down" in result.error
    assert queue_depth(sqs, queue.url)["in_flight"] == 2


def test_an_unreadable_answer_fails_the_whole_batch(sample, queue):
    sqs = sample["sqs"]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)
    answer = {"batchItemFailures": [{"itemIdentifier": ""}]}
    result = SqsPoller(mapping, sample["endpoint"], invoker=lambda spec, event: answer).poll_once()
    assert result is not None
    assert (result.deleted, len(result.failed)) == (0, 2)


def test_without_report_batch_item_failures_the_answer_is_ignored(sample, queue):
    sqs = sample["sqs"]
    sqs.send_message(QueueUrl=queue.url, MessageBody="one")
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)
    mapping.report_batch_item_failures = False
    answer = {"batchItemFailures": [{"itemIdentifier": "whatever"}]}
    result = SqsPoller(mapping, sample["endpoint"], invoker=lambda spec, event: answer).poll_once()
    assert result is not None
    assert (result.deleted, result.failed) == (1, [])
    assert queue_depth(sqs, queue.url) == {"visible": 0, "in_flight": 0, "delayed": 0}


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (None, []),
        ({}, []),
        ({"batchItemFailures": None}, []),
        ({"batchItemFailures": []}, []),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["b"]),
        ({"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}, ["a", "c"]),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, ["a", "b", "c"]),  # empty id
        ({"batchItemFailures": [{"itemIdentifier": None}]}, ["a", "b", "c"]),  # null id
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ["a", "b", "c"]),  # not in the batch
        ({"batchItemFailures": [{"id": "a"}]}, ["a", "b", "c"]),  # wrong key
        ({"batchItemFailures": "a"}, ["a", "b", "c"]),
        ("not an object", ["a", "b", "c"]),
    ],
)
def test_failed_message_ids_follow_lambdas_rules(answer, failed):
    assert failed_message_ids(answer, ["a", "b", "c"]) == failed


def test_background_pollers_deliver_without_a_drain(sample, queue):
    sqs = sample["sqs"]
    body = f"job-{uuid.uuid4().hex[:8]}"
    pollers = Pollers(sample["template"], sample["res"].queues, sample["endpoint"], invoker=invoke).start()
    try:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
        deadline = time.monotonic() + 10
        while body not in items(sample["table"], "processed") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pollers.stop()
    assert int(items(sample["table"], "processed")[body]["deliveries"]) == 1
    assert queue_depth(sqs, queue.url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_the_batching_window_gathers_messages_that_arrive_after_the_first(sample, queue):
    import threading

    sqs = sample["sqs"]
    (mapping,) = mappings_from_template(sample["template"], sample["res"].queues)
    mapping.batching_window = 0.6  # under the queue's 1 s visibility timeout, or "first" would come back
    sizes: list[int] = []
    poller = SqsPoller(
        mapping, sample["endpoint"], invoker=lambda spec, event: sizes.append(len(event["Records"]))
    )
    sqs.send_message(QueueUrl=queue.url, MessageBody="first")
    late = threading.Timer(
        0.2, lambda: [sqs.send_message(QueueUrl=queue.url, MessageBody=b) for b in ("2", "3")]
    )
    late.start()
    result = poller.poll_once()
    late.join()
    assert result is not None
    assert sizes == [3]  # one invocation with all three, not three of one

    mapping.batching_window = 0.0
    for body in ("4", "5", "6"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    mapping.batch_size = 2
    assert poller.poll_once().records == 2  # BatchSize caps a batch
