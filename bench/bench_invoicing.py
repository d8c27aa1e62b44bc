"""Invoicing throughput: the billing run plus the invoice worker, against DynamoDB Local and moto's SQS.

N customers (``BENCH_CUSTOMERS``; the full run is 2,000, about 10 minutes on DynamoDB Local, so the
default is 150 to stay near 2 minutes), each with one subscription to a plan with a fixed
fee and two usage charges, 100 events per charge in the period (seeded straight into the UsageTable
with BatchWriteItem, events and roll-ups as the intake writes them). The clock moves past the period
end; the billing_run handler enqueues the jobs and the invoice_worker handler drains the queue in
batches of 10 on ``BENCH_WORKERS`` threads (Lambda's concurrency). Beside it, the floor: writing the
same invoice items with BatchWriteItem. DynamoDB read/write units per invoice are summed from
``ReturnConsumedCapacity`` on every call the handlers make.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "billing"), str(ROOT)]

START = datetime(2030, 1, 1, tzinfo=UTC)
END = datetime(2030, 2, 1, tzinfo=UTC)
EVENTS_PER_CHARGE = 100
_CAPACITY_OPS = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactWriteItems", "TransactGetItems",
}  # fmt: skip


class Capacity:
    """Read/write units of every DynamoDB call, through botocore events (ReturnConsumedCapacity)."""

    def __init__(self) -> None:
        self.read = 0.0
        self.write = 0.0
        self.enabled = False
        self._lock = threading.Lock()

    def install(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._count)

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.enabled and model.name in _CAPACITY_OPS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        with self._lock:
            for entry in entries:
                read = float(entry.get("ReadCapacityUnits", 0) or 0)
                write = float(entry.get("WriteCapacityUnits", 0) or 0)
                if not read and not write:  # DynamoDB Local reports only CapacityUnits
                    units = float(entry.get("CapacityUnits", 0) or 0)
                    if model.name in (
                        "PutItem",
                        "UpdateItem",
                        "DeleteItem",
                        "BatchWriteItem",
                        "TransactWriteItems",
                    ):
                        write = units
                    else:
                        read = units
                self.read += read
                self.write += write

    def reset(self) -> None:
        with self._lock:
            self.read = self.write = 0.0


def _environment(ddb: str, moto_endpoint: str) -> dict[str, str]:
    from local.functions import function_environment, local_refs
    from local.moto_server import create_resources
    from local.template import load_template

    template = load_template()
    res = create_resources(template, moto_endpoint)
    env = function_environment(template, local_refs(template, extra=res.refs))
    os.environ.update(env)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": ddb,
            "AWS_ENDPOINT_URL_SQS": moto_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    return env


def _seed(n: int, table: str, usage_table: str) -> None:
    from billing.models.catalog import Metric, Plan, PlanCharge
    from billing.models.customers import Address, Customer
    from billing.models.subscriptions import Subscription, SubscriptionItem
    from billing.models.usage import UsageEvent
    from billing.rating import validate_charge
    from billing.repositories import dynamo
    from billing.repositories import subscriptions as sub_items
    from billing.repositories.catalog import MetricRepository, PlanRepository
    from billing.repositories.customers import CustomerRepository
    from billing.repositories.usage import UsageRepository
    from billing.services import invoice_drafts as drafts
    from billing.settings import get_settings

    now = START - timedelta(days=1)
    metrics = MetricRepository(table_name=table)
    for code, aggregation, field in (("calls", "count", None), ("tokens", "sum", "tokens")):
        metrics.create(
            Metric(
                code=code,
                name=code.title(),
                aggregation=aggregation,
                field=field,
                created_at=now,
                updated_at=now,
            )  # type: ignore[arg-type]
        )
    plan = Plan(
        code="bench",
        version=1,
        current_version=1,
        name="Bench",
        interval="month",
        currency="usd",
        amount=4900,
        charges=[
            PlanCharge(
                metric="calls",
                definition=validate_charge({"model": "standard", "unit_amount_decimal": "0.5"}),
            ),
            PlanCharge(
                metric="tokens",
                definition=validate_charge(
                    {
                        "model": "graduated",
                        "tiers": [
                            {"up_to": 1000, "unit_amount": 1},
                            {"up_to": None, "unit_amount_decimal": "0.5"},
                        ],
                    }
                ),
            ),
        ],
        version_created_at=now,
        created_at=now,
        updated_at=now,
    )
    PlanRepository(table_name=table).create(plan)
    customers = CustomerRepository(table_name=table)
    store = UsageRepository(table_name=usage_table, shards=get_settings().usage_shards)
    first = drafts.initial_period(
        plan, anchor=START, time_zone="UTC", calendar=False, start=START, trial_end=None
    )
    subs: list[dict[str, Any]] = []
    events: list[UsageEvent] = []
    ids: list[str] = []
    for i in range(n):
        cid = f"cus_{i:016x}"
        ids.append(cid)
        sub = Subscription(
            id=f"sub_{i:016x}",
            customer_id=cid,
            status="active",
            currency="usd",
            time_zone="UTC",
            items=[
                SubscriptionItem(
                    id=f"si_{i:016x}",
                    plan_code="bench",
                    plan_version=1,
                    current_period_start=first.start,
                    current_period_end=first.end,
                )
            ],
            billing_anchor=START,
            start_date=START,
            created_at=now,
            updated_at=now,
        )
        subs.append(sub_items.item_of(drafts.settle_status(sub, {("bench", 1): plan}, at=now)))
        for k in range(EVENTS_PER_CHARGE):
            at = START + timedelta(days=3, minutes=k)
            events.append(UsageEvent(cid, f"c-{i}-{k}", "calls", at, "{}", at))
            events.append(UsageEvent(cid, f"t-{i}-{k}", "tokens", at, '{"tokens": 15}', at))

    def create(i: int) -> None:
        customers.create(
            Customer(
                id=ids[i],
                name=f"Bench {i}",
                currency="usd",
                emails=["ap@example.com"],
                address=Address(country="US", state="OR"),
                invoice_prefix=f"B{i:06d}",
                created_at=now,
                updated_at=now,
            )
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(n)))
    batch_table = dynamo.table(table)
    with batch_table.batch_writer() as writer:
        for item in subs:
            writer.put_item(Item=item)
    expires = END + timedelta(days=400)
    failed = store.put_rollups(events, written_at=now, expires_at=expires)
    failed |= store.put_events(events, expires_at=expires)
    if failed:
        raise RuntimeError(f"{len(failed)} events were not seeded")


def _drain(workers: int) -> int:
    from billing.gateways.aws import client
    from local.functions import LambdaContext, function_specs, load_handler
    from local.sqs import sqs_record

    spec = function_specs()["InvoiceWorkerFunction"]
    handler = load_handler(spec)
    url = os.environ["INVOICE_JOBS_QUEUE_URL"]
    sqs = client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    done = 0
    lock = threading.Lock()

    def loop() -> None:
        nonlocal done
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return
            result = handler({"Records": [sqs_record(m, arn) for m in messages]}, LambdaContext(spec))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            if failed:
                raise RuntimeError(f"{len(failed)} jobs failed")
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(messages)],
            )
            with lock:
                done += len(messages)

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(loop) for _ in range(workers)]:
            future.result()
    return done


def _floor(table: str, customers: list[str]) -> float:
    """Seconds to write the same invoices (re-keyed) with BatchWriteItem."""
    from billing.repositories import dynamo
    from billing.repositories.invoices import InvoiceRepository, item_of

    repo = InvoiceRepository(table_name=table)
    invoices = [i for c in customers for i in repo.list_for_customer(c, limit=10, cursor=None).invoices]
    copies = [item_of(i.model_copy(update={"id": "in_" + secrets.token_hex(8)})) for i in invoices]
    started = time.perf_counter()
    with dynamo.table(table).batch_writer() as writer:
        for item in copies:
            writer.put_item(Item=item)
    return time.perf_counter() - started


def main() -> None:
    from local import dynamodb
    from local.moto_server import MotoServer
    from local.template import create_tables

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)
    n = int(os.environ.get("BENCH_CUSTOMERS", "150"))
    workers = int(os.environ.get("BENCH_WORKERS", "8"))
    port = dynamodb.free_port()
    proc = dynamodb.start(port=port)
    moto = MotoServer().start()
    try:
        import boto3

        ddb = f"http://127.0.0.1:{port}"
        create_tables(boto3.client("dynamodb", endpoint_url=ddb, region_name="us-east-1"))
        env = _environment(ddb, moto.endpoint)
        from billing import clock
        from billing.repositories import dynamo
        from billing.settings import get_settings

        get_settings.cache_clear()
        capacity = Capacity()
        capacity.install(dynamo.client())
        t0 = time.perf_counter()
        _seed(n, env["BILLING_TABLE"], env["USAGE_TABLE"])
        seeded = time.perf_counter() - t0

        from local.functions import LambdaContext, function_specs, load_handler

        clock.set_clock(clock.FrozenClock(END + timedelta(minutes=5)))
        run_spec = function_specs()["BillingRunFunction"]
        capacity.enabled = True
        t1 = time.perf_counter()
        out = load_handler(run_spec)({"time": "2030-02-01T00:05:00Z"}, LambdaContext(run_spec))
        t2 = time.perf_counter()
        processed = _drain(workers)
        t3 = time.perf_counter()
        capacity.enabled = False
        customers = [f"cus_{i:016x}" for i in range(n)]
        floor = _floor(env["BILLING_TABLE"], customers[: min(n, 500)]) * (n / min(n, 500))
        total = t3 - t1
        rate = n / total
        floor_rate = n / floor
        print(
            f"customers {n}, events {n * 2 * EVENTS_PER_CHARGE}, seeding {seeded:.1f} s, {workers} worker threads"
        )
        print(f"{'step':<44}{'seconds':>10}{'invoices/s':>14}")
        print(
            f"{'billing run (fan-out, ' + str(out['jobs_enqueued']) + ' jobs)':<44}{t2 - t1:>10.2f}{'':>14}"
        )
        print(f"{'invoice worker (' + str(processed) + ' jobs)':<44}{t3 - t2:>10.2f}{n / (t3 - t2):>14.1f}")
        print(f"{'run + worker':<44}{total:>10.2f}{rate:>14.1f}")
        print(f"{'floor: BatchWriteItem of the invoice items':<44}{floor:>10.2f}{floor_rate:>14.1f}")
        print(f"{'ratio (floor / run + worker)':<44}{floor_rate / rate:>10.1f}x")
        print(f"{'read units per invoice':<44}{capacity.read / n:>10.1f}")
        print(f"{'write units per invoice':<44}{capacity.write / n:>10.1f}")
    finally:
        moto.stop()
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
