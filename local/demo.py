"""`make demo` (`python -m local.demo`): a scripted billing month on the local stack, over HTTP only.

Starts its own `python -m local.stack --in-memory` on free ports (or uses a running stack when
DEMO_URL and DEMO_KEY are set; DEMO_STRIPE_URL then names its Stripe stand-in, default
http://127.0.0.1:12111), and walks five customers through January 2027:

* catalog: a metric, two plans with graduated usage, a coupon, New York sales tax;
* customers with payment methods (Stripe test cards), subscriptions, usage events;
* the clock moved past the period end: billing run, drafts, finalization after the grace period,
  automatic collection (two webhooks swapped by the stand-in on the way);
* a declined card (insufficient funds is refused at attach, then a card whose charges decline)
  recovered by dunning when the customer attaches a working card (its webhook delivered twice);
* a card that always declines: retried on the dunning schedule day by day, then uncollectible;
* a payment made at Stripe whose webhook is dropped: found and fixed by a reconciliation run;
* the journal exported as CSV, every entry balanced.

Every expectation is checked as it goes; each failure is printed as `FAIL: ...` and the exit status
is 1 if any failed.

The stack it started keeps running after the summary, with its links (hosted invoice pages, the API,
the admin key) printed, until Enter is pressed, when standard input is a terminal; otherwise (CI) it
is stopped at once (SIGINT, then wait). DEMO_KEEP=1 or DEMO_KEEP=0 forces either.

On an existing stack (DEMO_URL), the demo first checks that none of the codes it creates (metric,
plans, coupon, tax rate, customers' external ids) exists yet, and refuses (exit 2) before changing
anything if one does: run it on a fresh stack (`rm -rf .local` or `--in-memory`).
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests

from local.process import StackProcess, all_pages, poll

STANDIN_KEY = "sk_test_demo"  # the stand-in takes any sk_test_ key
PERIOD_START = "2027-01-01T00:00:00Z"


def say(line: str = "") -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------------------- the stack
class LocalStack(StackProcess):
    """`python -m local.stack --in-memory` on free ports, with the offline Stripe stand-in."""

    def __init__(self) -> None:
        super().__init__("--in-memory")

    def started(self, timeout: float = 120) -> tuple[str, str, str]:
        """(gateway URL, admin key, stand-in URL) once the stack prints Ready."""
        try:
            self.ready(timeout)
            return self.url, self.admin_key, self.stripe_url
        except AssertionError as exc:
            raise RuntimeError(str(exc)) from None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        try:
            return super().stop(sig, timeout)
        except subprocess.TimeoutExpired:
            return -9


# ------------------------------------------------------------------------------------------- the client
class Demo:
    def __init__(self, url: str, key: str, standin: str) -> None:
        self.url, self.standin = url.rstrip("/"), standin.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.failures: list[str] = []
        self.checks = 0

    # expectations
    def expect(self, ok: bool, what: str) -> bool:
        self.checks += 1
        if not ok:
            self.failures.append(what)
            say(f"FAIL: {what}")
        return ok

    def equal(self, got: Any, wanted: Any, what: str) -> bool:
        return self.expect(got == wanted, f"{what}: got {got!r}, expected {wanted!r}")

    # HTTP
    def api(self, method: str, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        r = self.http.request(method, self.url + path, json=body, timeout=60)
        wanted = expect if expect is not None else (201 if method == "POST" else 200)
        if r.status_code != wanted:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def all(self, path: str) -> list[dict[str, Any]]:
        return all_pages(lambda page: self.api("GET", page), path)

    def local(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"{self.url}/_local/{path}", json=body, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"{method} /_local/{path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def standin_call(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"{self.standin}{path}", json=body, timeout=60)
        if r.status_code != 200:
            raise RuntimeError(f"{method} {path} (stand-in): {r.status_code} {r.text[:500]}")
        return r.json()

    def webhook_mode(self, mode: str, **extra: Any) -> None:
        self.standin_call("POST", "/_standin/webhooks/mode", {"mode": mode, **extra})

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.standin_call("GET", "/_standin/webhooks")["deliveries"])

    def charges(self, invoice_id: str) -> list[dict[str, Any]]:
        got = self.standin_call("GET", f"/_standin/charges?invoice_id={invoice_id}")
        return list(got["data"])

    def settle(self) -> None:
        """Process what is queued, let the stand-in deliver its webhooks, process what they queued."""
        for _ in range(2):
            self.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})
            self.standin_call("POST", "/_standin/webhooks/wait", {"timeout": 15})
        self.local("POST", "queues/drain", {"timeout": 30, "wait_invisible": True})

    def wait_for[T](self, what: str, probe: Callable[[], T | None], timeout: float = 30) -> T | None:
        got = poll(probe, timeout)
        if not got:
            self.expect(False, f"timed out after {timeout:.0f}s waiting for {what}")
        return got

    def invoice_of(self, customer: str) -> dict[str, Any]:
        (invoice,) = self.all(f"/v1/invoices?customer={customer}")
        return invoice


# -------------------------------------------------------------------------------------------- the month
USAGE_CHARGES = [
    {
        "metric": "api_calls",
        "model": "graduated",
        "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": None, "unit_amount_decimal": "0.5"}],
    }
]

# external_id -> what the demo sets up, and the arithmetic of its January invoice (cents)
CUSTOMERS: dict[str, dict[str, Any]] = {
    # NY: starter $29 + (5000 - 1000) x 0.5¢ = 4900; 20 % off = 980; NY tax 8.875 % of 3920 = 347.9
    "acme": {"name": "Acme Corp", "state": "NY", "plan": "starter", "calls": 5000, "card": "pm_card_visa",
             "coupon": "WELCOME20", "total": 4900 - 980 + 348, "story": "paid by card"},
    # growth $99 + (21000 - 1000) x 0.5¢ = 19900, no sales tax in Oregon
    "globex": {"name": "Globex Inc", "state": "OR", "plan": "growth", "calls": 21000, "card": "pm_card_visa",
               "total": 19900, "story": "paid by card"},
    # starter $29 + 2000 x 0.5¢ = 3900
    "initech": {"name": "Initech LLC", "state": "OR", "plan": "starter", "calls": 3000,
                "card": "pm_card_chargeCustomerFail", "total": 3900,
                "story": "declined, recovered by dunning (new card)"},
    # starter $29, 1000 calls within the free tier
    "umbrella": {"name": "Umbrella Co", "state": "OR", "plan": "starter", "calls": 1000,
                 "card": "pm_card_chargeCustomerFail", "total": 2900,
                 "story": "always declined: uncollectible"},
    # starter $29 + 1200 x 0.5¢ = 3500, billed by email (send_invoice)
    "hooli": {"name": "Hooli", "state": "OR", "plan": "starter", "calls": 2200, "card": "pm_card_visa",
              "send_invoice": True, "total": 3500, "story": "paid at Stripe, webhook dropped: reconciled"},
}  # fmt: skip


def run_month(d: Demo) -> dict[str, dict[str, Any]]:
    schedules = {s["function"]: s["name"] for s in d.local("GET", "schedules")["schedules"]}
    billing_run, dunning = schedules["BillingRunFunction"], schedules["DunningFunction"]

    clock = d.local("POST", "clock", {"set": "2027-01-15T10:00:00Z"})
    say(f"clock set to {clock['now']}")

    # ---------------------------------------------------------------- who bills
    account = d.api("PATCH", "/v1/account", {
        "legal_name": "Demo Analytics Inc.",
        "address": {"line1": "350 Fifth Avenue", "city": "New York", "postal_code": "10118", "state": "NY",
                    "country": "US"},
        "support_email": "billing@demo-analytics.example", "support_phone": "+1 212 555 0100",
        "payment_instructions": "Bank transfer: Demo Bank, account 000123456789, routing 021000021.",
    })  # fmt: skip
    d.equal(account["ready_to_invoice"], True, "the seller's identity is set (PATCH /v1/account)")
    say(f"seller: {account['legal_name']}, {account['address']['city']}")

    # ---------------------------------------------------------------- catalog
    d.api("POST", "/v1/tax-rates", {"id": "us_ny_sales", "display_name": "Sales tax", "percentage": "8.875",
                                    "country": "US", "state": "NY"})  # fmt: skip
    d.api(
        "POST",
        "/v1/metrics",
        {"code": "api_calls", "name": "API calls", "aggregation": "sum", "field": "calls"},
    )
    d.api("POST", "/v1/plans", {"code": "starter", "name": "Starter", "interval": "month", "currency": "usd",
                                "amount": 2900, "charges": USAGE_CHARGES})  # fmt: skip
    d.api("POST", "/v1/plans", {"code": "growth", "name": "Growth", "interval": "month", "currency": "usd",
                                "amount": 9900, "charges": USAGE_CHARGES})  # fmt: skip
    d.api("POST", "/v1/coupons", {"code": "WELCOME20", "percent_off": "20", "duration": "repeating",
                                  "duration_in_periods": 3})  # fmt: skip
    d.equal(sorted(p["code"] for p in d.all("/v1/plans")), ["growth", "starter"], "plans")
    say(
        "catalog: metric api_calls, plans starter ($29) and growth ($99) with graduated usage, coupon WELCOME20, NY sales tax"
    )

    # ---------------------------------------------------------------- customers, cards, subscriptions, usage
    ids: dict[str, str] = {}
    for ext, c in CUSTOMERS.items():
        customer = d.api("POST", "/v1/customers", {
            "external_id": ext, "name": c["name"], "emails": [f"billing@{ext}.example"],
            "address": {"country": "US", "state": c["state"], "postal_code": "10001", "city": "Springfield"},
            "currency": "usd", "invoice_prefix": ext.upper(),
        })  # fmt: skip
        ids[ext] = customer["id"]
        if ext == "initech":  # Stripe refuses to attach a card that declines: so does the API
            r = d.http.post(f"{d.url}/v1/customers/{ext}/payment-methods",
                            json={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}, timeout=60)  # fmt: skip
            d.expect(r.status_code == 402 and "insufficient_funds" in r.text,
                     f"attaching pm_card_chargeDeclinedInsufficientFunds is refused (402 insufficient_funds): {r.status_code} {r.text[:200]}")  # fmt: skip
        method = d.api("POST", f"/v1/customers/{ext}/payment-methods", {"payment_method": c["card"]})
        d.expect(method["is_default"], f"{ext}: {c['card']} is the default payment method")
        c["provider_customer"] = method["provider_customer_id"]
        sub: dict[str, Any] = {"customer": ext, "items": [{"plan": c["plan"]}], "start_date": PERIOD_START}
        if c.get("coupon"):
            sub["coupons"] = [c["coupon"]]
        if c.get("send_invoice"):
            sub |= {"collection_method": "send_invoice", "days_until_due": 30}
        d.api("POST", "/v1/subscriptions", sub)
    events = [
        {"id": f"{ext}-{n}", "customer": ext, "metric": "api_calls", "timestamp": f"2027-01-{10 + n}T12:00:00Z",
         "properties": {"calls": part}}
        for ext, c in CUSTOMERS.items()
        for n, part in enumerate((c["calls"] // 2, c["calls"] - c["calls"] // 2))
    ]  # fmt: skip
    batch = d.api("POST", "/v1/events/batch", {"events": events}, expect=202)
    d.equal(batch["accepted"], len(events), "usage events accepted")
    d.equal(d.api("POST", "/v1/events/batch", {"events": events}, expect=202)["duplicates"], len(events),
            "the same batch resent: all duplicates")  # fmt: skip
    say(
        f"{len(CUSTOMERS)} customers with cards and subscriptions from {PERIOD_START[:10]}; {len(events)} usage events"
    )

    # ---------------------------------------------------------------- the period ends: billing run, drafts
    crossed = d.local("POST", "clock", {"set": "2027-02-01T00:30:00Z"})
    d.expect(billing_run in [f["name"] for f in crossed["fired"] if f["outcome"] == "ok"],
             "moving the clock past the period end fires the billing run")  # fmt: skip
    d.equal(d.local("POST", f"schedules/{billing_run}/fire")["outcome"], "ok", "the billing run fired again")
    d.wait_for("five drafts", lambda: len(d.all("/v1/invoices")) >= len(CUSTOMERS) or None)
    d.settle()
    drafts = d.all("/v1/invoices")
    d.equal(len(drafts), len(CUSTOMERS), "one invoice per customer (a second run creates nothing)")
    d.expect(all(i["status"] == "draft" for i in drafts), "every invoice is a draft in the grace period")
    for ext, c in CUSTOMERS.items():
        d.equal(d.invoice_of(ids[ext])["total"], c["total"], f"{ext}: invoice total")
    say("Feb 1 00:30: billing run -> 5 drafts with the right totals")

    # ---------------------------------------------------------------- finalization and collection
    before = len(d.deliveries())
    d.webhook_mode("reorder_next_two", seconds=10)  # the first two payment webhooks arrive swapped
    d.local("POST", "clock", {"advance": "PT1H30M"})
    d.wait_for("the drafts to be finalized",
               lambda: all(i["status"] != "draft" for i in d.all("/v1/invoices")) or None)  # fmt: skip
    d.settle()
    new = [x for x in d.deliveries()[before:] if x["attempt"] == 1]
    created = [e["id"] for e in reversed(_events(d))]
    order = [x["event_id"] for x in new]
    first_two = [e for e in created if e in order][:2]
    d.expect(len(first_two) == 2 and order.index(first_two[0]) > order.index(first_two[1]),
             f"the stand-in delivered the first two payment webhooks swapped: {order}")  # fmt: skip
    for ext in ("acme", "globex", "hooli"):
        inv = d.invoice_of(ids[ext])
        d.expect(
            inv["number"] == f"{ext.upper()}-0001", f"{ext}: numbered {ext.upper()}-0001 ({inv['number']})"
        )
    for ext, status in (("acme", "paid"), ("globex", "paid"), ("initech", "open"), ("umbrella", "open"),
                        ("hooli", "open")):  # fmt: skip
        d.equal(d.invoice_of(ids[ext])["status"], status, f"{ext}: status after collection and webhooks")
    say(
        "Feb 1 02:00: finalized and collected; acme and globex paid, initech and umbrella declined (webhooks reordered)"
    )

    # ---------------------------------------------------------------- initech: a new card, dunning retries at once
    before = len(d.deliveries())
    d.webhook_mode("duplicate_next", count=1)
    d.api("POST", "/v1/customers/initech/payment-methods", {"payment_method": "pm_card_visa"})
    d.wait_for("initech's retry", lambda: d.invoice_of(ids["initech"])["status"] == "paid" or None)
    d.settle()
    copies = [x for x in d.deliveries()[before:] if x["type"] == "payment_intent.succeeded"]
    d.expect(len(copies) == 2 and copies[0]["event_id"] == copies[1]["event_id"]
             and all(x["status"] == 200 for x in copies),
             f"initech's payment webhook delivered twice and accepted: {copies}")  # fmt: skip
    inv = d.invoice_of(ids["initech"])
    d.equal((inv["status"], inv["amount_paid"], inv["amount_remaining"]), ("paid", 3900, 0),
            "initech: paid once despite the duplicated webhook")  # fmt: skip
    subs = d.all("/v1/subscriptions?customer=initech")
    d.equal([s["status"] for s in subs], ["active"], "initech: subscription active again")
    say("initech attached pm_card_visa: dunning retried at once, paid (its webhook delivered twice)")

    # ---------------------------------------------------------------- umbrella: dunning day by day
    days = 0
    while days < 9:
        days += 1
        d.local("POST", "clock", {"advance": "P1D"})
        d.local("POST", f"schedules/{dunning}/fire")
        d.settle()
        status = d.invoice_of(ids["umbrella"])["status"]
        if status != "open":
            break
    d.equal(d.invoice_of(ids["umbrella"])["status"], "uncollectible", "umbrella: uncollectible after dunning")
    umbrella = d.invoice_of(ids["umbrella"])
    d.equal(len(d.charges(umbrella["id"])), 4, "umbrella: charged 4 times (day 0, 3, 5, 7)")
    subjects = [m["subject"] for m in d.local("GET", "mail")["messages"]
                if "billing@umbrella.example" in (m.get("destinations") or {}).get("ToAddresses", [])]  # fmt: skip
    d.expect(any(s.startswith("Final notice") for s in subjects), f"umbrella got a final notice: {subjects}")
    say(f"umbrella: declined on day 0, 3, 5 and 7 (dunning fired daily for {days} days) -> uncollectible")

    # ---------------------------------------------------------------- hooli pays at Stripe; the webhook is dropped
    hooli = d.invoice_of(ids["hooli"])
    d.webhook_mode("drop_next", count=1)
    r = requests.post(
        f"{d.standin}/v1/payment_intents",
        headers={"Authorization": f"Bearer {STANDIN_KEY}", "Idempotency-Key": f"demo-{hooli['id']}"},
        data={
            "amount": hooli["amount_due"], "currency": "usd", "customer": CUSTOMERS["hooli"]["provider_customer"],
            "payment_method": "pm_card_visa", "confirm": "true", "off_session": "true",
            "automatic_payment_methods[enabled]": "true", "automatic_payment_methods[allow_redirects]": "never",
            "metadata[invoice_id]": hooli["id"],
        },
        timeout=60,
    )  # fmt: skip
    d.expect(r.status_code == 200 and r.json().get("status") == "succeeded",
             f"hooli's payment at Stripe: {r.status_code} {r.text[:200]}")  # fmt: skip
    d.settle()
    d.expect(
        any(x["status"] == "dropped" for x in d.deliveries()[-3:]), "the stand-in dropped hooli's webhook"
    )
    d.equal(d.invoice_of(ids["hooli"])["status"], "open", "hooli: still open (the webhook was lost)")
    now = d.local("GET", "clock")["now"]
    window = {"from": "2027-02-01T00:00:00Z", "to": now}
    report = d.api("POST", "/v1/reconciliations", window)
    found = [(m["code"], m["fixed"], m["invoice_id"]) for m in report["mismatches"]]
    d.equal(
        found,
        [("paid_at_provider_open_here", True, hooli["id"])],
        "reconciliation finds and fixes hooli's payment",
    )
    d.equal(d.invoice_of(ids["hooli"])["status"], "paid", "hooli: paid after reconciliation")
    again = d.api("POST", "/v1/reconciliations", window)
    d.equal(
        (again["mismatches_found"], again["mismatches_fixed"]),
        (0, 0),
        "a second reconciliation finds nothing",
    )
    say(
        f"reconciliation {report['id']}: 1 mismatch (paid_at_provider_open_here) fixed; a second run finds none"
    )

    # ---------------------------------------------------------------- the journal
    r = d.http.get(f"{d.url}/v1/exports/journal",
                   params={"from": "2027-01-01T00:00:00Z", "to": "2027-03-01T00:00:00Z", "format": "csv"},
                   timeout=60)  # fmt: skip
    d.expect(r.status_code == 200 and r.headers.get("content-type", "").startswith("text/csv"),
             f"journal export as CSV: {r.status_code}")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(r.text)))
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        sums[row["entry_id"]][0] += Decimal(row["debit"] or 0)
        sums[row["entry_id"]][1] += Decimal(row["credit"] or 0)
    unbalanced = {e: s for e, s in sums.items() if s[0] != s[1]}
    d.equal(unbalanced, {}, "every journal entry balanced")
    kinds = sorted({e.rsplit("_", 1)[1] for e in sums})
    d.equal(kinds, ["finalized", "settled", "uncollectible"], "journal entry kinds")
    d.equal(len([e for e in sums if e.endswith("_finalized")]), 5, "one finalized entry per invoice")
    d.equal(len([e for e in sums if e.endswith("_settled")]), 4, "one settled entry per payment")
    debit = sum((s[0] for s in sums.values()), Decimal(0))
    say(f"journal: {len(sums)} entries, {len(rows)} lines, all balanced (total debits {debit} USD)")
    return {ext: {**c, "id": ids[ext]} for ext, c in CUSTOMERS.items()}


# What run_month creates under fixed codes: on a stack that has any of them, it cannot run.
DEMO_OBJECTS: dict[str, str] = {
    "metric api_calls": "/v1/metrics/api_calls",
    "plan starter": "/v1/plans/starter",
    "plan growth": "/v1/plans/growth",
    "coupon WELCOME20": "/v1/coupons/WELCOME20",
    "tax rate us_ny_sales": "/v1/tax-rates/us_ny_sales",
    **{f"customer {ext}": f"/v1/customers/{ext}" for ext in CUSTOMERS},
}


class Refused(Exception):
    """The stack cannot take the demo; nothing was changed (exit 2)."""


def check_fresh(d: Demo) -> None:
    """Refuse a stack that already has what the demo creates, before changing anything."""
    found = []
    for what, path in DEMO_OBJECTS.items():
        r = d.http.get(d.url + path, timeout=30)
        if r.status_code == 200:
            found.append(what)
        elif r.status_code in (401, 403):
            raise Refused(
                f"{d.url} does not accept DEMO_KEY ({r.status_code} on GET {path}): use an admin key"
            )
        elif r.status_code != 404:
            raise Refused(f"GET {d.url}{path}: {r.status_code} {r.text[:200]}")
    if found:
        raise Refused(
            f"the stack at {d.url} already has {', '.join(found)}: the demo creates these and would fail "
            "half-way. Nothing was changed. Run it on a fresh stack: `make demo` without DEMO_URL (its own "
            "in-memory stack), or stop `make run` and `rm -rf .local` first."
        )


def summary(d: Demo, customers: dict[str, dict[str, Any]]) -> list[str]:
    say()
    head = f"{'customer':<12} {'invoice':<14} {'total':>10}  {'status':<14} {'payments/attempts':<18} story"
    say(head)
    say("-" * len(head))
    links = []
    for ext, c in customers.items():
        inv = d.invoice_of(c["id"])
        charges = d.charges(inv["id"])
        paid = len([x for x in charges if x["status"] == "succeeded"])
        total = f"${inv['total'] / 100:,.2f}"
        say(
            f"{ext:<12} {inv['number'] or '-':<14} {total:>10}  {inv['status']:<14} {f'{paid}/{len(charges)}':<18} {c['story']}"
        )
        links.append(f"  {inv['number']}: {inv['hosted_invoice_url']}")
        page = requests.get(inv["hosted_invoice_url"], timeout=30)
        d.expect(page.status_code == 200 and str(inv["number"]) in page.text,
                 f"{ext}: the hosted page shows {inv['number']} ({page.status_code})")  # fmt: skip
    say()
    say("Hosted invoice pages (no API key needed, while the stack runs):")
    for line in links:
        say(line)
    return links


def keep_stack() -> bool:
    """DEMO_KEEP=1/0 decides; otherwise keep the stack when a person is at the terminal."""
    wanted = os.environ.get("DEMO_KEEP", "").strip().lower()
    if wanted in ("1", "true", "yes"):
        return True
    if wanted in ("0", "false", "no"):
        return False
    return sys.stdin.isatty()


def wait_for_enter(*, url: str, key: str, standin: str, links: list[str]) -> None:
    say()
    say("The stack keeps running so you can look around:")
    say(f"  API             {url}   (Authorization: Bearer {key})")
    say(f"  try             curl -s {url}/v1/invoices -H 'Authorization: Bearer {key}'")
    say(f"  mail sent       {url}/_local/mail")
    say(f"  Stripe stand-in {standin}")
    if links:
        say("  hosted invoice pages:")
        for line in links:
            say(f"  {line}")
    try:
        input("Press Enter to stop the stack. ")
    except (EOFError, KeyboardInterrupt):
        say()


def _events(d: Demo) -> list[dict[str, Any]]:
    r = requests.get(f"{d.standin}/v1/events", params={"limit": 100},
                     headers={"Authorization": f"Bearer {STANDIN_KEY}"}, timeout=60)  # fmt: skip
    r.raise_for_status()
    return list(r.json()["data"])


def main() -> int:
    started = time.monotonic()
    stack: LocalStack | None = None
    links: list[str] = []
    try:
        if os.environ.get("DEMO_URL") and os.environ.get("DEMO_KEY"):
            url, key = os.environ["DEMO_URL"].rstrip("/"), os.environ["DEMO_KEY"]
            standin = os.environ.get("DEMO_STRIPE_URL", "http://127.0.0.1:12111")
            say(f"Using the stack at {url}")
            try:
                check_fresh(Demo(url, key, standin))
            except (Refused, requests.RequestException) as exc:
                say(f"Refused: {exc}")
                return 2
        else:
            say("Starting the local stack (in memory) ...")
            stack = LocalStack()
            url, key, standin = stack.started()
            say(f"Stack ready at {url} in {time.monotonic() - started:.0f}s (Stripe stand-in {standin})")
        demo = Demo(url, key, standin)
        try:
            customers = run_month(demo)
            links = summary(demo, customers)
        except Exception as exc:  # a broken step: report it as a failure, still stop the stack
            demo.expect(False, f"the demo stopped: {type(exc).__name__}: {exc}")
        say()
        took = time.monotonic() - started
        if demo.failures:
            say(f"{len(demo.failures)} of {demo.checks} expectations FAILED ({took:.0f}s):")
            for failure in demo.failures:
                say(f"FAIL: {failure}")
        else:
            say(f"All {demo.checks} expectations met in {took:.0f}s.")
        if stack is not None and keep_stack():
            wait_for_enter(url=url, key=key, standin=standin, links=links)
        return 1 if demo.failures else 0
    finally:
        if stack is not None:
            say("Stopping the stack ...")
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
