"""Dunning: a declined automatic payment retried on the schedule, the customer emailed at each step,
the final action. The collector, dunning and notifier functions against DynamoDB Local, moto (SQS,
SES) and the offline Stripe stand-in, with billing.clock frozen and moved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.billing_helpers import frozen, make_plan, scheduled_event, subscribe, uid
from tests.integration.invoice_helpers import get_invoice, make_customer, one_off, sqs_event
from tests.integration.test_payments_collection import charges, collect, payment_jobs, standin

pytestmark = pytest.mark.integration
__all__ = ["standin"]  # the stand-in fixture, shared with the collection tests

DECLINING = "pm_card_chargeCustomerFail"  # attaches, then every charge fails (generic_decline: soft)


def customer_with(call: Any, key: str, card: str) -> dict[str, Any]:
    customer = make_customer(call, key, emails=[f"dunning-{uid()}@example.com"])
    status, _, method = call(
        "POST", f"/v1/customers/{customer['id']}/payment-methods", key=key, json_body={"payment_method": card}
    )
    assert status == 201, method
    return customer


def attach(call: Any, key: str, customer: dict[str, Any], card: str) -> None:
    status, _, method = call(
        "POST", f"/v1/customers/{customer['id']}/payment-methods", key=key, json_body={"payment_method": card}
    )
    assert status == 201, method


def automatic_invoice(call: Any, key: str, customer: dict[str, Any], amount: int) -> dict[str, Any]:
    invoice = one_off(
        call,
        key,
        customer,
        collection_method="charge_automatically",
        lines=[{"description": "Licence", "quantity": 1, "unit_amount": amount}],
        auto_finalize=True,
    )
    assert invoice["status"] == "open", invoice
    return invoice


def run_dunning() -> dict[str, Any]:
    from billing import clock
    from local.functions import function_specs, invoke

    return invoke(function_specs()["DunningFunction"], scheduled_event(clock.now()))  # type: ignore[no-any-return]


def state(app_env: dict[str, str], invoice_id: str) -> Any:
    from billing.repositories.dunning import DunningRepository

    return DunningRepository(table_name=app_env["BILLING_TABLE"]).get(invoice_id)


def due_now(app_env: dict[str, str], invoice_id: str) -> bool:
    """Whether the invoice is on the dunning due-index at the (frozen) current time."""
    from billing import clock
    from billing.repositories import keys
    from billing.repositories.dunning import DunningRepository

    repo = DunningRepository(table_name=app_env["BILLING_TABLE"])
    return invoice_id in repo.due(keys.dunning_shard(invoice_id), clock.now() + timedelta(days=3650))


def notifications(app_env: dict[str, str], invoice_id: str) -> list[dict[str, Any]]:
    """The Notifications messages of this invoice (taken off the queue; others are put back)."""
    import boto3

    sqs, url = boto3.client("sqs"), app_env["NOTIFICATIONS_QUEUE_URL"]
    mine, others = [], []
    for _ in range(30):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            body = json.loads(message["Body"])
            if body.get("invoice_id") == invoice_id:
                mine.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message)
    for message in others:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return mine


def deliver(messages: list[dict[str, Any]]) -> None:
    from local.functions import function_specs, invoke

    assert invoke(function_specs()["NotifierFunction"], sqs_event(messages)) == {"batchItemFailures": []}


def mails_to(address: str) -> list[dict[str, Any]]:
    from local.moto_server import sent_mail

    return [m for m in sent_mail() if address in (m.get("destinations") or {}).get("ToAddresses", [])]


@dataclass
class Emails:
    """Every dunning step's email: enqueued for the notifier, delivered, recorded by moto's SES."""

    app_env: dict[str, str]
    invoice_id: str
    address: str
    kinds: list[str]

    receipts: list[dict[str, Any]] = field(default_factory=list)
    """Receipt messages seen (``invoice_paid``), kept apart from the dunning steps."""

    def take(self) -> list[dict[str, Any]]:
        """The dunning emails enqueued since the last take, delivered (the invoice email is dropped,
        receipts are kept in ``receipts``)."""
        found = notifications(self.app_env, self.invoice_id)
        self.receipts += [m for m in found if m["kind"] == "invoice_paid"]
        messages = [m for m in found if m["kind"] not in ("invoice_finalized", "invoice_paid")]
        if messages:
            deliver(messages)
        self.kinds += [m["kind"] for m in messages]
        return messages


@pytest.fixture
def jan_2036() -> Iterator[Any]:
    with frozen(datetime(2036, 1, 5, 10, tzinfo=UTC)) as clock:
        yield clock


def test_declined_retried_then_a_new_card_pays_at_once_and_the_subscription_recovers(
    call, admin_key, app_env, standin, jan_2036
):
    from billing.services.billing_runs import bill_customer, billing_from_settings
    from billing.settings import Settings

    t0 = jan_2036.current
    customer = customer_with(call, admin_key, DECLINING)
    address = customer["emails"][0]
    plan = make_plan(call, admin_key, amount=4_000, pay_in_advance=True)
    sub = subscribe(call, admin_key, customer["id"], plan["code"])
    bill_customer(billing_from_settings(Settings.from_env()), customer_id=customer["id"], up_to=t0)
    status, _, invoices = call("GET", f"/v1/invoices?customer={customer['id']}", key=admin_key)
    assert status == 200, invoices
    [draft] = invoices["data"]
    status, _, invoice = call("POST", f"/v1/invoices/{draft['id']}/finalize", key=admin_key)
    assert status == 200 and invoice["status"] == "open", invoice
    emails = Emails(app_env, invoice["id"], address, [])

    # Attempt 1 (enqueued at finalization) is declined: dunning starts, the subscription is past_due.
    [job] = payment_jobs(invoice["id"], app_env)
    assert job["attempt"] == 1
    assert collect(job) == {"batchItemFailures": []}
    started = state(app_env, invoice["id"])
    assert (started.status, started.failures, started.next_retry_at) == (
        "scheduled",
        1,
        t0 + timedelta(days=3),
    )
    assert get_sub(call, admin_key, sub["id"])["status"] == "past_due"
    [failed] = emails.take()
    assert failed["kind"] == "payment_failed" and failed["attempt"] == 1
    [mail] = mails_to(address)
    assert "failed" in mail["subject"] and invoice["number"] in mail["subject"]
    body = json.dumps(mail.get("body") or {})
    assert "/i/" in body and "January 8, 2036" in body  # the hosted link, the retry date

    # Nothing is due before day 3; on day 3 the retry (attempt 2) is enqueued and declined again.
    jan_2036.current = t0 + timedelta(days=2)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == []
    jan_2036.current = t0 + timedelta(days=3, hours=1)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == [
        {"kind": "collect", "invoice_id": invoice["id"], "attempt": 2}
    ]
    assert collect({"kind": "collect", "invoice_id": invoice["id"], "attempt": 2}) == {
        "batchItemFailures": []
    }
    again = state(app_env, invoice["id"])
    assert (again.status, again.failures, again.next_retry_at) == ("scheduled", 2, t0 + timedelta(days=5))
    [retry] = emails.take()
    assert retry["kind"] == "payment_retry_scheduled" and retry["attempt"] == 2
    assert "January 10, 2036" in mails_to(address)[-1]["subject"]

    # The customer attaches a working card: attempt 3 is enqueued at once and pays the invoice.
    attach(call, admin_key, customer, "pm_card_visa")
    assert payment_jobs(invoice["id"], app_env) == [
        {"kind": "collect", "invoice_id": invoice["id"], "attempt": 3}
    ]
    assert collect({"kind": "collect", "invoice_id": invoice["id"], "attempt": 3}) == {
        "batchItemFailures": []
    }
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "paid"
    assert state(app_env, invoice["id"]).status == "resolved"
    assert not due_now(app_env, invoice["id"])  # the schedule is stopped
    assert get_sub(call, admin_key, sub["id"])["status"] == "active"
    jan_2036.current = t0 + timedelta(days=30)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == []
    assert emails.take() == []
    assert emails.kinds == ["payment_failed", "payment_retry_scheduled"]
    assert emails.receipts == [{"kind": "invoice_paid", "invoice_id": invoice["id"]}]  # the retry that paid
    assert len(mails_to(address)) == 2
    made = charges(standin, invoice["id"])
    assert sorted(c["idempotency_key"] for c in made) == [
        f"invoice-{invoice['id']}-attempt-{n}" for n in (1, 2, 3)
    ]


def get_sub(call: Any, key: str, subscription_id: str) -> dict[str, Any]:
    status, _, sub = call("GET", f"/v1/subscriptions/{subscription_id}", key=key)
    assert status == 200, sub
    return sub  # type: ignore[no-any-return]


def test_four_declines_end_in_the_final_notice_and_uncollectible(call, admin_key, app_env, standin, jan_2036):
    t0 = jan_2036.current
    customer = customer_with(call, admin_key, DECLINING)
    invoice = automatic_invoice(call, admin_key, customer, amount=6_100)
    emails = Emails(app_env, invoice["id"], customer["emails"][0], [])
    [job] = payment_jobs(invoice["id"], app_env)
    assert collect(job) == {"batchItemFailures": []}
    emails.take()
    for attempt, day in ((2, 3), (3, 5), (4, 7)):
        jan_2036.current = t0 + timedelta(days=day, minutes=5)
        # Two runs at the same time (and one more after): the retry is enqueued once.
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: run_dunning(), range(2)))
        run_dunning()
        assert all(r["failed"] == 0 for r in results), results
        jobs = payment_jobs(invoice["id"], app_env)
        assert jobs == [{"kind": "collect", "invoice_id": invoice["id"], "attempt": attempt}], (day, jobs)
        assert collect(jobs[0]) == {"batchItemFailures": []}
        emails.take()

    done = state(app_env, invoice["id"])
    assert (done.status, done.failures, done.final_action) == ("exhausted", 4, "mark_uncollectible")
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "uncollectible"
    assert emails.kinds == [
        "payment_failed",
        "payment_retry_scheduled",
        "payment_retry_scheduled",
        "payment_final_notice",
    ]
    subjects = [m["subject"] for m in mails_to(emails.address)]
    assert len(subjects) == 4 and subjects[-1].startswith("Final notice")
    # Over: later runs enqueue nothing.
    jan_2036.current = t0 + timedelta(days=40)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == []
    assert len(charges(standin, invoice["id"])) == 4


class StolenCard:
    """The real provider (the stand-in), charging the stolen test card: Stripe refuses to attach
    the declining test cards, so they are passed as ``payment_method_id`` (docs/payments.md)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self.name = provider.name

    def charge(self, **kwargs: Any) -> Any:
        return self._provider.charge(**kwargs, payment_method_id="pm_card_chargeDeclinedStolenCard")


def test_a_hard_decline_skips_to_the_final_notice_and_final_action(
    call, admin_key, app_env, standin, jan_2036
):
    from billing.payments import get_payment_provider
    from billing.services.collection import collect as collect_invoice
    from billing.services.collection import collection_from_settings
    from billing.settings import Settings

    customer = customer_with(call, admin_key, "pm_card_visa")
    invoice = automatic_invoice(call, admin_key, customer, amount=2_500)
    emails = Emails(app_env, invoice["id"], customer["emails"][0], [])
    deps = collection_from_settings(Settings.from_env(), StolenCard(get_payment_provider()))  # type: ignore[arg-type]
    [job] = payment_jobs(invoice["id"], app_env)  # the finalization's job, run here with the stolen card
    assert collect_invoice(deps, invoice["id"], attempt=job["attempt"]) == "failed"

    done = state(app_env, invoice["id"])
    assert (done.status, done.hard_decline, done.last_decline_code) == ("exhausted", True, "stolen_card")
    assert get_invoice(call, admin_key, invoice["id"])["status"] == "uncollectible"
    assert [m["kind"] for m in emails.take()] == ["payment_final_notice"]
    [mail] = mails_to(emails.address)
    assert mail["subject"].startswith("Final notice")
    assert "Your card was declined." in json.dumps(mail.get("body") or {})  # stolen_card: never told more
    # No retry is ever scheduled.
    jan_2036.current += timedelta(days=10)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == []


def declined_subscription_invoice(
    call: Any, key: str, app_env: dict[str, str], now: datetime
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer with a declining card, a subscription, its first invoice declined once (in dunning,
    the subscription ``past_due``): (customer, subscription, invoice)."""
    from billing.services.billing_runs import bill_customer, billing_from_settings
    from billing.settings import Settings

    customer = customer_with(call, key, DECLINING)
    plan = make_plan(call, key, amount=3_000, pay_in_advance=True)
    sub = subscribe(call, key, customer["id"], plan["code"])
    bill_customer(billing_from_settings(Settings.from_env()), customer_id=customer["id"], up_to=now)
    status, _, invoices = call("GET", f"/v1/invoices?customer={customer['id']}", key=key)
    assert status == 200, invoices
    [draft] = invoices["data"]
    status, _, invoice = call("POST", f"/v1/invoices/{draft['id']}/finalize", key=key)
    assert status == 200 and invoice["status"] == "open", invoice
    [job] = payment_jobs(invoice["id"], app_env)
    assert collect(job) == {"batchItemFailures": []}
    assert state(app_env, invoice["id"]).status == "scheduled"
    assert due_now(app_env, invoice["id"])
    assert get_sub(call, key, sub["id"])["status"] == "past_due"
    return customer, sub, invoice


def test_paid_out_of_band_ends_dunning_at_once_and_the_subscription_recovers(
    call, admin_key, app_env, standin, jan_2036
):
    t0 = jan_2036.current
    customer, sub, invoice = declined_subscription_invoice(call, admin_key, app_env, t0)
    emails = Emails(app_env, invoice["id"], customer["emails"][0], [])
    emails.take()

    # Paid by bank transfer the next day, long before the retry (day 3): dunning ends at once.
    jan_2036.current = t0 + timedelta(days=1)
    status, _, paid = call("POST", f"/v1/invoices/{invoice['id']}/pay", key=admin_key)
    assert status == 200 and paid["status"] == "paid", paid
    resolved = state(app_env, invoice["id"])
    assert (resolved.status, resolved.next_retry_at) == ("resolved", None)
    assert not due_now(app_env, invoice["id"])
    assert get_sub(call, admin_key, sub["id"])["status"] == "active"

    # The retry day and later: nothing is enqueued, no more emails, nothing left to resolve.
    for day in (3, 30):
        jan_2036.current = t0 + timedelta(days=day, hours=1)
        run_dunning()
        assert payment_jobs(invoice["id"], app_env) == []
    assert state(app_env, invoice["id"]).status == "resolved"
    assert emails.take() == []
    # Money was received (a bank transfer): the one receipt, enqueued with the payment.
    assert emails.receipts == [{"kind": "invoice_paid", "invoice_id": invoice["id"]}]
    assert len(charges(standin, invoice["id"])) == 1


@pytest.mark.parametrize(("action", "status"), [("void", "void"), ("mark-uncollectible", "uncollectible")])
def test_voided_or_written_off_by_hand_ends_dunning_at_once(  # noqa: PLR0917
    call, admin_key, app_env, standin, jan_2036, action, status
):
    t0 = jan_2036.current
    customer = customer_with(call, admin_key, DECLINING)
    invoice = automatic_invoice(call, admin_key, customer, amount=1_900)
    emails = Emails(app_env, invoice["id"], customer["emails"][0], [])
    [job] = payment_jobs(invoice["id"], app_env)
    assert collect(job) == {"batchItemFailures": []}
    assert state(app_env, invoice["id"]).status == "scheduled"
    assert [m["kind"] for m in emails.take()] == ["payment_failed"]

    jan_2036.current = t0 + timedelta(days=1)
    code, _, changed = call("POST", f"/v1/invoices/{invoice['id']}/{action}", key=admin_key)
    assert code == 200 and changed["status"] == status, changed
    resolved = state(app_env, invoice["id"])
    assert (resolved.status, resolved.next_retry_at, resolved.final_action) == ("resolved", None, None)
    assert not due_now(app_env, invoice["id"])

    jan_2036.current = t0 + timedelta(days=8)
    run_dunning()
    assert payment_jobs(invoice["id"], app_env) == []
    assert emails.take() == []  # no final notice: dunning was over
    assert len(charges(standin, invoice["id"])) == 1


@pytest.mark.parametrize(
    ("action", "subscription_after"), [("void", "active"), ("mark-uncollectible", "past_due")]
)
def test_a_voided_invoice_returns_its_subscription_to_active_a_written_off_one_does_not(  # noqa: PLR0917
    call, admin_key, app_env, standin, jan_2036, action, subscription_after
):
    t0 = jan_2036.current
    _, sub, invoice = declined_subscription_invoice(call, admin_key, app_env, t0)
    jan_2036.current = t0 + timedelta(days=1)
    code, _, changed = call("POST", f"/v1/invoices/{invoice['id']}/{action}", key=admin_key)
    assert code == 200, changed
    assert state(app_env, invoice["id"]).status == "resolved"
    # Voided, nothing is owed on it any more; written off, the debt stays: past_due.
    assert get_sub(call, admin_key, sub["id"])["status"] == subscription_after


def test_a_subscription_stays_past_due_while_another_of_its_invoices_is_in_dunning(
    call, admin_key, app_env, standin, jan_2036
):
    from billing.services.billing_runs import bill_customer, billing_from_settings
    from billing.settings import Settings

    t0 = jan_2036.current
    customer, sub, first = declined_subscription_invoice(call, admin_key, app_env, t0)
    # A month later the next period's invoice is declined too: both are in dunning.
    jan_2036.current = t0 + timedelta(days=32)
    bill_customer(
        billing_from_settings(Settings.from_env()), customer_id=customer["id"], up_to=jan_2036.current
    )
    status, _, invoices = call("GET", f"/v1/invoices?customer={customer['id']}&status=draft", key=admin_key)
    assert status == 200, invoices
    [draft] = invoices["data"]
    status, _, second = call("POST", f"/v1/invoices/{draft['id']}/finalize", key=admin_key)
    assert status == 200 and second["status"] == "open", second
    [job] = payment_jobs(second["id"], app_env)
    assert collect(job) == {"batchItemFailures": []}
    assert state(app_env, second["id"]).status == "scheduled"

    # The first is paid: its dunning ends, but the subscription still owes the second.
    status, _, paid = call("POST", f"/v1/invoices/{first['id']}/pay", key=admin_key)
    assert status == 200 and paid["status"] == "paid", paid
    assert state(app_env, first["id"]).status == "resolved"
    assert get_sub(call, admin_key, sub["id"])["status"] == "past_due"
    # The second is paid too: now it recovers.
    status, _, paid = call("POST", f"/v1/invoices/{second['id']}/pay", key=admin_key)
    assert status == 200 and paid["status"] == "paid", paid
    assert state(app_env, second["id"]).status == "resolved"
    assert get_sub(call, admin_key, sub["id"])["status"] == "active"
