"""The billing run and the invoice worker, end to end on DynamoDB Local and moto's SQS.

The clock is frozen and moved; the billing_run handler enqueues jobs; the invoice_worker handler is
fed the messages it enqueued. Exactly one invoice per customer and boundary, whatever is replayed.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.billing_helpers import (
    ensure_queues,
    frozen,
    handler,
    invoices_of,
    jobs_of,
    make_customer,
    make_metric,
    make_plan,
    receive_all,
    run_billing,
    send_usage,
    sqs_event,
    subscribe,
    uid,
    work,
)

pytestmark = pytest.mark.integration

JAN = datetime(2031, 1, 1, tzinfo=UTC)


def at(m: int, d: int, h: int = 0, y: int = 2031) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.fixture
def usage_key(app_env):
    from billing.models.api_keys import Role
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    return create_api_key(
        ApiKeyRepository(table_name=app_env["BILLING_TABLE"]), name="usage", role=Role.USAGE
    )[1]


@pytest.fixture
def queues(moto_endpoint, app_env):
    ensure_queues(moto_endpoint)


def test_monthly_usage_and_annual_fee_make_one_invoice_per_boundary(
    call, admin_key, usage_key, app_env, queues
):
    calls = make_metric(call, admin_key)
    usage_plan = make_plan(
        call,
        admin_key,
        charges=[
            {
                "metric": calls["code"],
                "model": "graduated",
                "tiers": [{"up_to": 5, "unit_amount": 100}, {"up_to": None, "unit_amount": 50}],
            }
        ],
    )
    platform = make_plan(call, admin_key, interval="year", amount=120000, pay_in_advance=True)
    with frozen(JAN + timedelta(minutes=5)) as clock:
        customer = make_customer(call, admin_key)
        sub = subscribe(
            call, admin_key, customer["id"], usage_plan["code"], platform["code"], start_date=JAN.isoformat()
        )
        assert sub["next_billing_at"].startswith("2031-01-01T00:00")
        # the annual fee is due at the start
        out = run_billing(clock.now())
        assert out["jobs_enqueued"] >= 1
        messages = [m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]]
        assert len(messages) == 1
        work(messages)
        (first,) = invoices_of(app_env, customer["id"])
        assert [(line.kind, line.amount) for line in first.lines] == [("fixed_fee", 120000)]
        assert first.status == "draft" and first.finalize_after == clock.now() + timedelta(hours=1)

        clock.current = at(1, 15)
        send_usage(call, usage_key, customer["id"], calls["code"], at=at(1, 14), count=8)
        clock.current = at(2, 1, 0) + timedelta(minutes=30)
        run_billing(clock.now())
        work([m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]])
        invoices = invoices_of(app_env, customer["id"])
        assert len(invoices) == 2
        usage_line = invoices[1].lines[0]
        # graduated: 5 × 100 + 3 × 50 = 650
        assert (usage_line.kind, usage_line.quantity, usage_line.amount) == ("usage", "8", 650)
        assert [e["kind"] for e in usage_line.breakdown] == ["aggregation", "tier", "tier"]

        # nothing more is due until March 1: a run finds nothing for this customer
        clock.current = at(2, 20)
        run_billing(clock.now())
        assert not [m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]]
        _, _, got = call("GET", f"/v1/subscriptions/{sub['id']}", key=admin_key)
        assert got["next_billing_at"].startswith("2031-03-01")


def test_runs_twice_redelivery_and_parallel_workers_make_one_invoice(call, admin_key, app_env, queues):
    plan = make_plan(call, admin_key, amount=2500, pay_in_advance=True)
    start = at(3, 1, y=2032)
    with frozen(start + timedelta(minutes=10)) as clock:
        customer = make_customer(call, admin_key)
        subscribe(call, admin_key, customer["id"], plan["code"], start_date=start.isoformat())
        run_billing(clock.now())
        clock.current += timedelta(hours=1)
        run_billing(clock.now())  # a second run before any worker: another job for the same business key
        messages = [m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]]
        assert len(messages) == 2
        # six workers in parallel on the first job, then the second job, then a redelivery of both
        event = sqs_event(messages[:1])
        worker = handler("InvoiceWorkerFunction")
        results: list[dict] = []
        threads = [threading.Thread(target=lambda: results.append(worker(event))) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r == {"batchItemFailures": []} for r in results), results
        work(messages[1:])
        assert worker(sqs_event(messages)) == {"batchItemFailures": []}
        invoices = invoices_of(app_env, customer["id"])
        assert len(invoices) == 1 and invoices[0].total == 2500
        # the two runs' reports: one issued, the other skipped (already invoiced)
        runs = {m["run_id"] for m in jobs_of(messages)}
        outcomes = []
        for run_id in runs:
            status, _, run = call("GET", f"/v1/billing-runs/{run_id}", key=admin_key)
            assert status == 200, run
            outcomes += [j["outcome"] for j in run["jobs"] if j["customer_id"] == customer["id"]]
        assert sorted(outcomes) == ["issued", "skipped"]


def test_mid_period_upgrade_proration_is_on_the_next_invoice_with_its_days(call, admin_key, app_env, queues):
    basic = make_plan(call, admin_key, amount=3100, pay_in_advance=True)
    pro = make_plan(call, admin_key, amount=6200, pay_in_advance=True)
    start = at(1, 1, y=2033)
    with frozen(start + timedelta(minutes=1)) as clock:
        customer = make_customer(call, admin_key)
        sub = subscribe(call, admin_key, customer["id"], basic["code"], start_date=start.isoformat())
        run_billing(clock.now())
        work([m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]])
        clock.current = at(1, 20, 9, y=2033)
        status, _, changed = call(
            "PATCH",
            f"/v1/subscriptions/{sub['id']}",
            key=admin_key,
            json_body={"version": 2, "item": {"plan": pro["code"]}},
        )
        assert status == 200, changed
        assert [(p["kind"], p["amount_exact"], p["days"]) for p in changed["pending_prorations"]] == [
            ("credit", "-1200", 12),  # 3100 × 12/31
            ("charge", "2400", 12),  # 6200 × 12/31
        ]
        status, _, upcoming = call("GET", f"/v1/invoices/upcoming?subscription={sub['id']}", key=admin_key)
        assert status == 200, upcoming
        preview = upcoming["invoice"]
        clock.current = at(2, 1, 0, y=2033) + timedelta(minutes=5)
        run_billing(clock.now())
        work([m for m in receive_all() if jobs_of([m])[0]["customer_id"] == customer["id"]])
        feb = invoices_of(app_env, customer["id"])[-1]
        assert [(line.kind, line.amount) for line in feb.lines] == [
            ("fixed_fee", 6200),
            ("proration", -1200),
            ("proration", 2400),
        ]
        assert feb.lines[1].breakdown[0]["explanation"] == "12 of 31 days"
        assert feb.total == preview["total"] == 7400  # the preview was the invoice
        status, _, changes = call("GET", f"/v1/subscriptions/{sub['id']}/changes", key=admin_key)
        assert [c["action"] for c in changes["data"]] == ["created", "item_changed"]
        assert changes["data"][1]["actor"] != "system"


def test_poison_job_fails_and_is_reported(app_env, queues):
    from billing.models.api_keys import Role  # noqa: F401 - the app env is loaded

    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": '{"customer_id": "cus_00000000000000ff", "billing_date": "2031-01-01T00:00:00Z", "run_id": "br_0000000000000000"}',
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:InvoiceJobs",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert handler("InvoiceWorkerFunction")(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_dry_run_previews_without_creating(call, admin_key, app_env, queues):
    plan = make_plan(call, admin_key, amount=900)
    start = at(5, 1, y=2034)
    segment = f"seg{datetime.now(UTC).microsecond}"
    with frozen(start) as clock:
        customer = make_customer(call, admin_key, segments=[segment])
        subscribe(call, admin_key, customer["id"], plan["code"], start_date=start.isoformat())
        clock.current = at(6, 1, 1, y=2034)
        status, _, preview = call(
            "POST", "/v1/billing-runs", key=admin_key, json_body={"segment": segment, "dry_run": True}
        )
        assert status == 201, preview
        assert preview["customers_due"] == 1
        assert preview["customers"][0]["invoices"][0]["total"] == 900
        assert invoices_of(app_env, customer["id"]) == []
        status, _, run = call("POST", "/v1/billing-runs", key=admin_key, json_body={"segment": segment})
        assert status == 201 and run["jobs_enqueued"] == 1, run
        assert (run["status"], run["jobs_pending"]) == ("running", 1)
        work(receive_all())
        assert [i.total for i in invoices_of(app_env, customer["id"])] == [900]
        status, _, got = call("GET", f"/v1/billing-runs/{run['id']}", key=admin_key)
        assert (got["issued"], got["jobs_enqueued"], got["jobs_pending"]) == (1, 1, 0), got
        assert got["status"] == "completed"


def test_a_draft_held_for_a_missing_address_is_taxed_once_the_address_is_known(call, admin_key, queues):
    """Priced while the customer had no address, the cycle draft carries no tax and is held; with the
    address added, finalizing taxes it as a fresh draft would be (coupon kept, not applied twice)."""
    from tests.integration.invoice_helpers import make_tax_rate

    region = f"Q{secrets.token_hex(1).upper()}"  # tax rates are account-wide: a region of our own
    rate = make_tax_rate(  # other tests' national AQ rates do not apply in this region
        call, admin_key, percentage="8.25", state=region, display_name="Sales tax", replaces_national=True
    )
    code = f"TENOFF{uid()}".upper()
    status, _, _ = call(
        "POST", "/v1/coupons", key=admin_key,
        json_body={"code": code, "percent_off": "10", "duration": "forever"},
    )  # fmt: skip
    assert status == 201
    plan = make_plan(call, admin_key, amount=10_000, pay_in_advance=True)
    start = at(3, 1, y=2034)
    with frozen(start + timedelta(minutes=1)) as clock:
        customer = make_customer(call, admin_key, address=None)
        subscribe(
            call, admin_key, customer["id"], plan["code"], start_date=start.isoformat(), coupons=[code],
            collection_method="send_invoice", days_until_due=30,
        )  # fmt: skip
        work(jobs_of_run(clock.now()))
        [draft] = call("GET", f"/v1/invoices?customer={customer['id']}", key=admin_key)[2]["data"]
        assert (draft["subtotal"], draft["discount"], draft["tax"], draft["total"]) == (
            10_000,
            1_000,
            0,
            9_000,
        )
        assert [r["code"] for r in draft["hold_reasons"]] == ["missing_address"]

        status, _, body = call("POST", f"/v1/invoices/{draft['id']}/finalize", key=admin_key)
        assert status == 409 and body["error"]["code"] == "invoice_held", body

        status, _, _ = call(
            "PATCH", f"/v1/customers/{customer['id']}", key=admin_key,
            json_body={"address": {"country": "AQ", "state": region, "postal_code": "1"}},
        )  # fmt: skip
        assert status == 200
        status, _, final = call("POST", f"/v1/invoices/{draft['id']}/finalize", key=admin_key)
        assert status == 200 and final["status"] == "open", final
        # 8.25% of (10,000 − 1,000) = 742.5 → 743 (half-up, once)
        assert (final["subtotal"], final["discount"], final["tax"], final["total"]) == (
            10_000,
            1_000,
            743,
            9_743,
        )
        assert final["amount_due"] == 9_743 and final["hold_reasons"] == []
        [line] = final["lines"]["data"] if isinstance(final["lines"], dict) else final["lines"]
        assert line["tax_rates"] == [rate["id"]]
        assert [(t["rate_id"], t["amount"]) for t in line["taxes"]] == [(rate["id"], 743)]
        assert [(t["rate_id"], t["taxable_amount"], t["amount"]) for t in final["taxes"]] == [
            (rate["id"], 9_000, 743)
        ]


def jobs_of_run(now: datetime) -> list[dict[str, object]]:
    run_billing(now)
    return receive_all()


def test_a_cycle_draft_cannot_be_deleted(call, admin_key, queues):
    plan = make_plan(call, admin_key, amount=2_000, pay_in_advance=True)
    start = at(4, 1, y=2034)
    with frozen(start + timedelta(minutes=1)) as clock:
        customer = make_customer(call, admin_key)
        subscribe(call, admin_key, customer["id"], plan["code"], start_date=start.isoformat())
        work(jobs_of_run(clock.now()))
        [draft] = call("GET", f"/v1/invoices?customer={customer['id']}", key=admin_key)[2]["data"]
        status, _, body = call("DELETE", f"/v1/invoices/{draft['id']}", key=admin_key)
        assert status == 409 and body["error"]["code"] == "invoice_from_subscription", body
        assert call("GET", f"/v1/invoices/{draft['id']}", key=admin_key)[2]["status"] == "draft"


def test_concurrent_deliveries_of_one_job_report_what_the_job_did(app_env):
    """Deliveries of one job recording at once (real threads, DynamoDB Local): the report keeps the
    outcome that did the most, whatever order they commit in, and the run counts the job once."""
    from billing.models.billing_runs import BillingRun, JobOutcome
    from billing.repositories.billing_runs import BillingRunRepository

    repo = BillingRunRepository(table_name=app_env["BILLING_TABLE"])
    when = datetime(2033, 5, 1, tzinfo=UTC)
    for round_ in range(5):
        run = BillingRun(id=f"br_race{secrets.token_hex(6)}", trigger="api", status="enqueued",
                         up_to=when, jobs_enqueued=1, created_at=when)  # fmt: skip
        assert repo.create(run)
        kinds = ["skipped"] * 4 + ["failed"] * 3 + ["issued"]
        kinds = kinds[round_:] + kinds[:round_]  # a different commit order each round
        barrier = threading.Barrier(len(kinds))

        def deliver(kind: str, run_id: str = run.id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            repo.record_outcome(JobOutcome(run_id=run_id, customer_id="cus_race", billing_date=when,
                                           outcome=kind, invoice_ids=["in_1"] if kind == "issued" else [], at=when))  # fmt: skip

        threads = [threading.Thread(target=deliver, args=(k,)) for k in kinds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert repo.outcome(run.id, "cus_race", when).outcome == "issued"
        stored = repo.get(run.id)
        assert (stored.issued, stored.held, stored.skipped, stored.failed) == (1, 0, 0, 0)
        assert stored.progress == "completed"
