"""A billing month end to end, over HTTP against `python -m local.stack --in-memory`.

Issue 4 (customers, catalog, usage): customers, metrics, plans, a coupon and a tax rate created and
listed; a batch of valid, duplicate and invalid events answered per event; the same batch resent
changes nothing; usage read back with the right aggregates.

Issue 5 (cycle invoicing), with the local clock moved across a period end: one invoice per customer
(a monthly plan with a mid-period upgrade, graduated usage, a coupon and German VAT; an annual and a
monthly fee paid in advance, with New York sales tax), every amount checked against the arithmetic in
the comments; billing runs fired again, started on demand and jobs redelivered create nothing more; a
draft held by a pre-send check lists its reasons; after the grace period the finalizer numbers the
others PREFIX-0001; the hosted page and the email show them.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import boto3
import pytest
import requests
from pypdf import PdfReader

from tests.stack_api import Api, wait_for

pytestmark = pytest.mark.e2e

NBSP = "\u00a0"


def test_a_billing_month_end_to_end(start_stack, tmp_path):
    stack = start_stack("--in-memory", "--data-dir", str(tmp_path)).ready()
    admin = stack.admin_key
    api = Api(stack.url, admin)
    schedules = {s["function"]: s["name"] for s in api.local("GET", "schedules")["schedules"]}
    billing_run, finalizer = schedules["BillingRunFunction"], schedules["InvoiceFinalizerFunction"]

    def idle_queues() -> bool:
        queues = api.local("GET", "queues")["queues"]
        return all(q["visible"] == 0 and q["in_flight"] == 0 and q["delayed"] == 0 for q in queues)

    def settle() -> None:
        api.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})
        wait_for("the queues to be empty", idle_queues)

    # A fixed start, then everything is created "on Jan 15 2027".
    clock = api.local("POST", "clock", {"set": "2027-01-15T10:00:00Z"})
    assert clock["now"].startswith("2027-01-15T10:00")

    # Who bills: no invoice is issued until the seller has a legal name and an address.
    assert api.get("/v1/account")["ready_to_invoice"] is False
    seller = {"legal_name": "Acme Billing Inc.", "address": {"line1": "350 Fifth Avenue", "city": "New York",
              "postal_code": "10118", "state": "NY", "country": "US"}, "support_email": "billing@acme.example"}  # fmt: skip
    assert api.call("PATCH", "/v1/account", seller)["ready_to_invoice"] is True

    # ------------------------------------------------------------------ issue 4: catalog and customers
    api.post(
        "/v1/tax-rates",
        {
            "id": "us_ny_sales",
            "display_name": "Sales tax",
            "percentage": "8.875",
            "country": "US",
            "state": "NY",
        },
    )
    rates = {r["id"]: r for r in api.all("/v1/tax-rates")}
    assert rates["us_ny_sales"]["percentage"] == "8.875"
    assert rates["us_ny_sales"]["origin"] == "custom"
    assert rates["eu_de_vat_standard"]["percentage"] == "19"  # shipped with the product

    api.post(
        "/v1/metrics", {"code": "api_calls", "name": "API calls", "aggregation": "sum", "field": "calls"}
    )
    api.post(
        "/v1/metrics",
        {"code": "exports", "name": "Exports", "aggregation": "count", "filters": {"status": ["ok"]}},
    )
    assert sorted(m["code"] for m in api.all("/v1/metrics")) == ["api_calls", "exports"]

    usage_charges = [
        {
            "metric": "api_calls",
            "model": "graduated",
            "tiers": [
                {"up_to": 1000, "unit_amount": 0},
                {"up_to": 5000, "unit_amount_decimal": "0.5"},
                {"up_to": None, "unit_amount_decimal": "0.2"},
            ],
        },
        {"metric": "exports", "model": "standard", "unit_amount": 25},
    ]
    for plan in (
        # monthly, in arrears (EUR): the upgrade goes from basic to pro
        {"code": "basic", "name": "Basic", "interval": "month", "currency": "eur", "amount": 3100},
        {"code": "pro", "name": "Pro", "interval": "month", "currency": "eur", "amount": 6200},
    ):
        api.post("/v1/plans", {**plan, "charges": usage_charges})
    api.post(
        "/v1/plans",
        {
            "code": "platform",
            "name": "Platform",
            "interval": "year",
            "currency": "usd",
            "amount": 120000,
            "pay_in_advance": True,
        },
    )
    api.post(
        "/v1/plans",
        {
            "code": "seats",
            "name": "Seats",
            "interval": "month",
            "currency": "usd",
            "amount": 1500,
            "pay_in_advance": True,
        },
    )
    plans = {p["code"]: p for p in api.all("/v1/plans")}
    assert sorted(plans) == ["basic", "platform", "pro", "seats"]
    assert plans["pro"]["charges"][0]["tiers"][1] == {
        "up_to": 5000,
        "unit_amount_decimal": "0.5",
        "flat_amount": 0,
    }

    api.post(
        "/v1/coupons",
        {"code": "LAUNCH10", "percent_off": "10", "duration": "repeating", "duration_in_periods": 3},
    )
    assert [(c["code"], c["percent_off"], c["valid"]) for c in api.all("/v1/coupons")] == [
        ("LAUNCH10", "10", True)
    ]

    berlin = api.post(
        "/v1/customers",
        {
            "external_id": "berlin-tools",
            "name": "Berlin Tools GmbH",
            "emails": ["rechnung@berlin-tools.example"],
            "address": {"country": "DE", "postal_code": "10115", "city": "Berlin", "line1": "Hauptstr. 1"},
            "currency": "eur",
            "time_zone": "Europe/Berlin",
            "locale": "de_DE",
            "invoice_prefix": "BERLIN",
        },
    )
    ny = api.post(
        "/v1/customers",
        {
            "external_id": "ny-corp",
            "name": "NY Corp",
            "emails": ["ap@nycorp.example"],
            "address": {"country": "US", "state": "NY", "postal_code": "10001", "city": "New York"},
            "currency": "usd",
            "invoice_prefix": "NYC",
        },
    )
    nomail = api.post(
        "/v1/customers",
        {
            "external_id": "no-mail",
            "name": "No Mail GmbH",
            "address": {"country": "DE", "city": "München"},
            "currency": "eur",
            "invoice_prefix": "NOMAIL",
        },
    )
    assert [c["external_id"] for c in api.all("/v1/customers")] == ["no-mail", "ny-corp", "berlin-tools"]
    assert api.get("/v1/customers/berlin-tools")["id"] == berlin["id"]

    # ------------------------------------------------------------------ subscriptions
    # Berlin: basic monthly from Jan 1 (Berlin time), send_invoice, 10 % off for three periods.
    sub_berlin = api.post(
        "/v1/subscriptions",
        {
            "customer": "berlin-tools",
            "items": [{"plan": "basic"}],
            "start_date": "2027-01-01T00:00:00+01:00",
            "coupons": ["LAUNCH10"],
            "collection_method": "send_invoice",
            "days_until_due": 14,
        },
    )
    assert sub_berlin["next_billing_at"] == "2027-01-31T23:00:00Z"  # Feb 1, 00:00 in Berlin
    # NY: an annual platform fee and 3 monthly seats, both in advance, from Feb 1.
    sub_ny = api.post(
        "/v1/subscriptions",
        {
            "customer": "ny-corp",
            "items": [{"plan": "platform"}, {"plan": "seats", "quantity": 3}],
            "start_date": "2027-02-01T00:00:00Z",
            "collection_method": "send_invoice",
            "days_until_due": 30,
        },
    )
    assert sub_ny["next_billing_at"] == "2027-02-01T00:00:00Z"
    # No Mail: basic monthly, send_invoice but no email: its draft will be held.
    sub_nomail = api.post(
        "/v1/subscriptions",
        {
            "customer": "no-mail",
            "items": [{"plan": "basic"}],
            "start_date": "2027-01-01T00:00:00Z",
            "collection_method": "send_invoice",
            "days_until_due": 30,
        },
    )

    # ------------------------------------------------------------------ issue 4: usage
    usage_key = api.post("/v1/api-keys", {"name": "metering", "role": "usage"})["key"]
    batch = {
        "events": [
            {
                "id": "c-1",
                "customer": "berlin-tools",
                "metric": "api_calls",
                "timestamp": "2027-01-15T09:00:00Z",
                "properties": {"calls": 2500},
            },
            {
                "id": "c-2",
                "customer": berlin["id"],
                "metric": "api_calls",
                "timestamp": "2027-01-15T09:10:00Z",
                "properties": {"calls": "1500.5"},
            },
            # the same id for the same customer: a duplicate of c-1, whatever it says
            {
                "id": "c-1",
                "customer": "berlin-tools",
                "metric": "api_calls",
                "timestamp": "2027-01-15T09:00:00Z",
                "properties": {"calls": 999},
            },
            {
                "id": "c-3",
                "customer": "berlin-tools",
                "metric": "api_calls",
                "timestamp": "2027-01-15T09:20:00Z",
            },
            {
                "id": "c-4",
                "customer": "berlin-tools",
                "metric": "api_cals",
                "timestamp": "2027-01-15T09:20:00Z",
            },
            {"id": "c-5", "customer": "nobody", "metric": "exports", "timestamp": "2027-01-15T09:20:00Z"},
            {
                "id": "c-6",
                "customer": "berlin-tools",
                "metric": "exports",
                "timestamp": "2026-12-01T00:00:00Z",
            },
            {
                "id": "c-7",
                "customer": "berlin-tools",
                "metric": "exports",
                "timestamp": "2027-01-16T09:00:00Z",
            },
            {
                "id": "x-1",
                "customer": "berlin-tools",
                "metric": "exports",
                "timestamp": "2027-01-15T09:30:00Z",
                "properties": {"status": "ok"},
            },
            # filtered out by the metric (status must be ok), but stored
            {
                "id": "x-2",
                "customer": "berlin-tools",
                "metric": "exports",
                "timestamp": "2027-01-15T09:31:00Z",
                "properties": {"status": "failed"},
            },
            "not an event",
        ]
    }
    first = api.post("/v1/events/batch", batch, expect=202, key=usage_key)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (4, 1, 6)
    assert [(r["index"], r["id"], r["status"], r["code"], r["param"]) for r in first["results"]] == [
        (0, "c-1", "accepted", None, None),
        (1, "c-2", "accepted", None, None),
        (2, "c-1", "duplicate", None, None),
        (3, "c-3", "rejected", "invalid_property", "properties.calls"),
        (4, "c-4", "rejected", "unknown_metric", "metric"),
        (5, "c-5", "rejected", "unknown_customer", "customer"),
        (6, "c-6", "rejected", "timestamp_too_old", "timestamp"),
        (7, "c-7", "rejected", "timestamp_in_future", "timestamp"),
        (8, "x-1", "accepted", None, None),
        (9, "x-2", "accepted", None, None),
        (10, None, "rejected", "invalid_event", None),
    ]
    usage_path = "/v1/customers/berlin-tools/usage?from=2027-01-01T00:00:00Z"
    usage_before = api.get(usage_path)
    again = api.post("/v1/events/batch", batch, expect=202, key=usage_key)  # a retry: nothing new
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 5, 6)
    assert [r["status"] for r in again["results"]] == [
        "duplicate",
        "duplicate",
        "duplicate",
        *["rejected"] * 5,
        "duplicate",
        "duplicate",
        "rejected",
    ]
    usage = api.get(usage_path)
    assert usage["metrics"] == usage_before["metrics"]
    by_metric = {m["metric"]: m for m in usage["metrics"]}
    # api_calls: 2500 + 1500.5 (c-1's repeat with 999 is not counted) = 4000.5 over 2 events
    assert (by_metric["api_calls"]["quantity"], by_metric["api_calls"]["events"]) == ("4000.5", 2)
    # exports: 2 events, 1 with status ok
    assert (by_metric["exports"]["quantity"], by_metric["exports"]["events"]) == ("1", 2)
    assert api.get("/v1/customers/berlin-tools/usage?from=2027-01-01T00:00:00Z&metric=exports")[
        "metrics"
    ] == [by_metric["exports"]]
    single = {
        "id": "c-1",
        "customer": "berlin-tools",
        "metric": "api_calls",
        "timestamp": "2027-01-15T09:00:00Z",
    }
    assert api.post("/v1/events", {**single, "properties": {"calls": 1}}, expect=202, key=usage_key) == {
        "object": "event",
        "id": "c-1",
        "status": "duplicate",
    }
    assert api.get(usage_path)["metrics"] == usage_before["metrics"]

    # ------------------------------------------------------------------ Jan 20: a mid-period upgrade
    moved = api.local("POST", "clock", {"advance": "P5D"})
    assert moved["now"].startswith("2027-01-20T10:00")
    assert api.get("/v1/invoices")["data"] == []  # nothing is due before the period ends
    upgraded = api.call(
        "PATCH", f"/v1/subscriptions/{sub_berlin['id']}", {"item": {"plan": "pro"}, "effective": "now"}
    )
    # By whole days in Berlin: Jan 1..19 used on basic (19 of 31), Jan 20..31 on pro (12 of 31).
    # Basic in arrears: 3100 × 19/31 = 1900 charged; pro: 6200 × 12/31 = 2400 charged.
    assert [
        (p["plan_code"], p["kind"], p["amount_exact"], p["days"], p["days_in_period"])
        for p in upgraded["pending_prorations"]
    ] == [
        ("basic", "charge", "1900", 19, 31),
        ("pro", "charge", "2400", 12, 31),
    ]
    assert upgraded["items"][0]["plan_code"] == "pro"
    more = api.post(
        "/v1/events/batch",
        {
            "events": [
                {
                    "id": "c-8",
                    "customer": "berlin-tools",
                    "metric": "api_calls",
                    "timestamp": "2027-01-20T09:00:00Z",
                    "properties": {"calls": 3000},
                },
                *(
                    {
                        "id": f"x-{n}",
                        "customer": "berlin-tools",
                        "metric": "exports",
                        "timestamp": "2027-01-20T09:30:00Z",
                        "properties": {"status": "ok"},
                    }
                    for n in (3, 4, 5)
                ),
            ]
        },
        expect=202,
        key=usage_key,
    )
    assert more["accepted"] == 4
    by_metric = {m["metric"]: m for m in api.get(usage_path)["metrics"]}
    assert (by_metric["api_calls"]["quantity"], by_metric["exports"]["quantity"]) == ("7000.5", "4")

    # ------------------------------------------------------------------ Feb 1, 00:30 UTC: the period ends
    crossed = api.local("POST", "clock", {"set": "2027-02-01T00:30:00Z"})
    assert billing_run in [f["name"] for f in crossed["fired"] if f["outcome"] == "ok"]
    # the billing run again at once, while the worker is (or may be) drafting: its jobs race the first
    # run's for the same customers and boundaries; one transaction per boundary wins
    assert api.local("POST", f"schedules/{billing_run}/fire")["outcome"] == "ok"

    def drafts() -> list[dict[str, Any]] | None:
        invoices = api.all("/v1/invoices")
        return invoices if len(invoices) >= 3 else None

    wait_for("three drafts", drafts)
    settle()
    invoices = {i["customer"]: i for i in api.all("/v1/invoices")}
    assert sorted(invoices) == sorted([berlin["id"], ny["id"], nomail["id"]])  # exactly one each
    assert all(i["status"] == "draft" and i["number"] is None for i in invoices.values())

    # Berlin: the January usage rated on pro (the plan at period end), the two prorations, 10 % off,
    # 19 % German VAT (destination principle: the seller is in the US, the customer a German consumer).
    inv_berlin = invoices[berlin["id"]]
    lines = api.all(f"/v1/invoices/{inv_berlin['id']}/lines")
    assert [
        (li["kind"], li["plan_code"], li["quantity"], li["amount_exact"], li["amount"], li["discount"])
        for li in lines
    ] == [
        # api_calls 7000.5: 1000 × 0 + 4000 × 0.5 + 2000.5 × 0.2 = 0 + 2000 + 400.1 = 2400.1 → 2400
        ("usage", "pro", "7000.5", "2400.1", 2400, 240),
        # exports with status ok: 4 × 25 = 100
        ("usage", "pro", "4", "100", 100, 10),
        # the upgrade's prorations; the coupon has no applies_to: it discounts the basic line too
        ("proration", "basic", "1", "1900", 1900, 190),
        ("proration", "pro", "1", "2400", 2400, 240),
    ]
    assert [t["explanation"] for t in lines[0]["breakdown"]] == [
        "sum of calls over 3 events = 7000.5",
        "units 1–1000: 1000 × 0 = 0",
        "units 1001–5000: 4000 × 0.5 = 2000",
        "units over 5000 up to 7000.5: 2000.5 × 0.2 = 400.1",
    ]
    # subtotal 2400 + 100 + 1900 + 2400 = 6800; discount 10 % = 680; taxable 6120;
    # VAT 19 % of 6120 = 1162.8 → 1163; total 6800 − 680 + 1163 = 7283
    assert (inv_berlin["subtotal"], inv_berlin["discount"], inv_berlin["tax"], inv_berlin["total"]) == (
        6800,
        680,
        1163,
        7283,
    )
    assert inv_berlin["coupons"] == [{"coupon": "LAUNCH10", "amount": 680}]
    assert [
        (t["rate_id"], t["percentage"], t["taxable_amount"], t["amount"]) for t in inv_berlin["taxes"]
    ] == [("eu_de_vat_standard", "19", 6120, 1163)]
    assert (inv_berlin["billing_date"], inv_berlin["period_start"], inv_berlin["period_end"]) == (
        "2027-01-31T23:00:00Z",
        "2026-12-31T23:00:00Z",
        "2027-01-31T23:00:00Z",
    )
    assert inv_berlin["hold_reasons"] == []

    # NY: the annual fee and February's seats, in advance; 8.875 % NY sales tax
    inv_ny = invoices[ny["id"]]
    assert sorted(
        (li["plan_code"], li["quantity"], li["amount"], li["period_end"]) for li in inv_ny["lines"]["data"]
    ) == [
        ("platform", "1", 120000, "2028-02-01T00:00:00Z"),  # a year
        ("seats", "3", 4500, "2027-03-01T00:00:00Z"),  # 3 × 1500
    ]
    # subtotal 124500; tax 124500 × 8.875 % = 11049.375 → 11049; total 135549
    assert (inv_ny["subtotal"], inv_ny["discount"], inv_ny["tax"], inv_ny["total"]) == (
        124500,
        0,
        11049,
        135549,
    )

    # No Mail: January's basic fee in arrears (UTC), no usage; 19 % of 3100 = 589; total 3689; held
    inv_nomail = invoices[nomail["id"]]
    assert [(li["kind"], li["amount"]) for li in inv_nomail["lines"]["data"] if li["amount"]] == [
        ("fixed_fee", 3100)
    ]
    assert (inv_nomail["subtotal"], inv_nomail["tax"], inv_nomail["total"]) == (3100, 589, 3689)
    assert [r["code"] for r in inv_nomail["hold_reasons"]] == ["missing_billing_email"]

    # The runs' reports: the first enqueued a job per customer; the second, fired at once, enqueued one
    # for each customer still due then (the job that lost the race was skipped). Across both: 2 invoices
    # issued, 1 held, the rest skipped, none failed.
    reports = [
        api.get(f"/v1/billing-runs/{r['id']}") for r in api.all("/v1/billing-runs") if r["jobs_enqueued"]
    ]
    assert 1 <= len(reports) <= 2
    assert 3 <= sum(r["jobs_enqueued"] for r in reports) <= 6
    outcomes = [(r["issued"], r["held"], r["skipped"], r["failed"]) for r in reports]
    assert tuple(map(sum, zip(*outcomes, strict=True))) == (
        2,
        1,
        sum(r["jobs_enqueued"] for r in reports) - 3,
        0,
    )
    jobs = {j["customer_id"]: j for r in reports for j in r["jobs"] if j["outcome"] != "skipped"}
    assert jobs[nomail["id"]]["outcome"] == "held"
    assert [r["code"] for r in jobs[nomail["id"]]["hold_reasons"]] == ["missing_billing_email"]
    assert jobs[berlin["id"]]["invoice_ids"] == [inv_berlin["id"]]
    assert jobs[ny["id"]]["invoice_ids"] == [inv_ny["id"]]
    run = reports[-1]  # the first run (newest first)

    # ------------------------------------------------------------------ running it again creates nothing
    for _ in range(2):
        assert api.local("POST", f"schedules/{billing_run}/fire")["outcome"] == "ok"
    on_demand = api.post("/v1/billing-runs", {})
    assert (on_demand["subscriptions_due"], on_demand["jobs_enqueued"]) == (0, 0)
    for_berlin = api.post(
        "/v1/billing-runs", {"customers": ["berlin-tools"], "up_to": "2027-02-01T00:00:00Z"}
    )
    assert for_berlin["jobs_enqueued"] == 0
    assert api.post("/v1/billing-runs", {"dry_run": True})["customers_due"] == 0
    assert sum(r["jobs_enqueued"] for r in api.all("/v1/billing-runs")) == sum(
        r["jobs_enqueued"] for r in reports
    )
    # ... and the jobs of the run delivered again (as SQS may): the worker finds nothing due
    queue = next(q for q in api.local("GET", "queues")["queues"] if q["name"] == "InvoiceJobs")
    done_before = queue["consumers"][0]["deleted"]
    skipped_line = re.compile(r'"invoice job done".*"outcome":"skipped"')
    skipped_before = len(skipped_line.findall(stack.output))
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    for job in run["jobs"]:
        body = {"customer_id": job["customer_id"], "billing_date": job["billing_date"], "run_id": run["id"]}
        sqs.send_message(QueueUrl=queue["url"], MessageBody=json.dumps(body))
    settle()

    def redelivered() -> bool:
        jobs_queue = next(q for q in api.local("GET", "queues")["queues"] if q["name"] == "InvoiceJobs")
        return jobs_queue["consumers"][0]["deleted"] >= done_before + 3

    wait_for("the redelivered jobs to be processed", redelivered)
    wait_for("the worker to log them", lambda: len(skipped_line.findall(stack.output)) >= skipped_before + 3)
    assert len(skipped_line.findall(stack.output)) == skipped_before + 3
    assert len(api.all("/v1/invoices")) == 3
    again = api.get(f"/v1/billing-runs/{run['id']}")
    assert [again[k] for k in ("issued", "held", "skipped", "failed")] == [
        run[k] for k in ("issued", "held", "skipped", "failed")
    ]  # a job's outcome is counted once
    for sub, customer in ((sub_berlin, "berlin-tools"), (sub_ny, "ny-corp"), (sub_nomail, "no-mail")):
        (now_sub,) = api.all(f"/v1/subscriptions?customer={customer}")
        assert now_sub["id"] == sub["id"]
        assert now_sub["pending_prorations"] == []
    assert {i["customer"]: i["id"] for i in api.all("/v1/invoices")} == {
        c: i["id"] for c, i in invoices.items()
    }

    # ------------------------------------------------------------------ the grace period, then finalization
    assert api.local("POST", f"schedules/{finalizer}/fire")["outcome"] == "ok"  # 00:30: too early
    assert all(i["status"] == "draft" for i in api.all("/v1/invoices"))
    api.local("POST", "clock", {"advance": "PT1H30M"})  # 02:00: the finalizer's hourly run is due

    def finalized() -> dict[str, dict[str, Any]] | None:
        current = {i["customer"]: i for i in api.all("/v1/invoices")}
        return current if current[berlin["id"]]["status"] == current[ny["id"]]["status"] == "open" else None

    invoices = wait_for("the drafts to be finalized", finalized)
    settle()
    inv_berlin, inv_ny, inv_nomail = invoices[berlin["id"]], invoices[ny["id"]], invoices[nomail["id"]]
    assert (inv_berlin["number"], inv_ny["number"]) == ("BERLIN-0001", "NYC-0001")
    assert (inv_berlin["amount_due"], inv_ny["amount_due"]) == (7283, 135549)  # frozen as drafted
    assert inv_berlin["due_date"].startswith("2027-02-15")  # 14 days
    assert inv_ny["due_date"].startswith("2027-03-03")  # 30 days
    # held: still a draft, no number used, the reason says why
    assert (inv_nomail["status"], inv_nomail["number"]) == ("draft", None)
    assert [r["code"] for r in inv_nomail["hold_reasons"]] == ["missing_billing_email"]
    assert "no email" in inv_nomail["hold_reasons"][0]["message"]

    # ------------------------------------------------------------------ the hosted page, no API key
    page = requests.get(inv_berlin["hosted_invoice_url"], timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "BERLIN-0001" in page.text
    assert f"72,83{NBSP}€" in page.text  # de_DE
    ny_page = requests.get(inv_ny["hosted_invoice_url"], timeout=30)
    assert "NYC-0001" in ny_page.text and "$1,355.49" in ny_page.text
    assert requests.get(f"{stack.url}/i/not-a-token", timeout=30).status_code == 404
    # its PDF, binary through the gateway (base64 in the Lambda response, bytes on the wire)
    pdf = requests.get(inv_berlin["invoice_pdf"], timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'inline; filename="BERLIN-0001.pdf"'
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "BERLIN-0001" in pdf_text and f"72,83{NBSP}€" in pdf_text

    # ------------------------------------------------------------------ the customer portal, no API key
    portal = api.post(
        f"/v1/customers/{inv_berlin['customer']}/portal-sessions",
        {"return_url": "https://berlin-tools.example/konto"},
    )
    overview = requests.get(portal["url"], timeout=30)
    assert overview.status_code == 200 and '<html lang="de">' in overview.text
    assert "BERLIN-0001" in overview.text and f"72,83{NBSP}€" in overview.text
    opened = requests.get(f"{portal['url']}/invoices/{inv_berlin['id']}", timeout=30)  # on to the hosted page
    assert opened.status_code == 200 and opened.url == inv_berlin["hosted_invoice_url"]
    assert requests.get(f"{stack.url}/p/{'A' * 43}", timeout=30).status_code == 404

    # ------------------------------------------------------------------ the emails SES recorded
    def mail() -> list[dict[str, Any]] | None:
        messages = api.local("GET", "mail")["messages"]
        return messages if len(messages) >= 2 else None

    sent = wait_for("two emails", mail)
    messages = {number: m for m in sent for number in ("BERLIN-0001", "NYC-0001") if number in m["subject"]}
    assert sorted(messages) == ["BERLIN-0001", "NYC-0001"] and len(sent) == 2
    assert all("Acme Billing Inc." in m["subject"] for m in sent)  # who bills, in every subject
    to_berlin = messages["BERLIN-0001"]
    assert to_berlin["destinations"]["ToAddresses"] == ["rechnung@berlin-tools.example"]
    assert inv_berlin["hosted_invoice_url"] in to_berlin["body"]
    assert f"72,83{NBSP}€" in to_berlin["body"]
    assert inv_ny["hosted_invoice_url"] in messages["NYC-0001"]["body"]

    # ------------------------------------------------------------------ the held one, once fixed
    api.call("PATCH", "/v1/customers/no-mail", {"emails": ["billing@nomail.example"]})
    assert api.local("POST", f"schedules/{finalizer}/fire")["outcome"] == "ok"
    fixed = api.get(f"/v1/invoices/{inv_nomail['id']}")
    assert (fixed["status"], fixed["number"], fixed["hold_reasons"]) == ("open", "NOMAIL-0001", [])

    # Every schedule once more, then the queues: no new invoice, number or email.
    for name in (billing_run, finalizer):
        assert api.local("POST", f"schedules/{name}/fire")["outcome"] == "ok"
    settle()
    wait_for("the third email", lambda: len(api.local("GET", "mail")["messages"]) == 3)
    final = api.all("/v1/invoices")
    assert sorted(i["number"] for i in final) == ["BERLIN-0001", "NOMAIL-0001", "NYC-0001"]
    assert len(api.local("GET", "mail")["messages"]) == 3
    assert "Traceback" not in stack.output, stack.output

    assert stack.stop() == 0
