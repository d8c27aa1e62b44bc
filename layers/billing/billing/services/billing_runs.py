"""Billing runs: find what is due, fan out one job per customer and billing date, and bill a job.

* ``start_run`` (the scheduled ``billing_run`` function, and ``POST /v1/billing-runs``): query each
  shard of the billing schedule (gsi2 ``DUE#nn``, sk <= now; never a scan), keep the subscriptions
  the run's filter takes, and enqueue one ``InvoiceJob`` per (customer, next billing date). It only
  fans out: a job enqueued twice (two runs, a retried run) is harmless.
* ``bill_customer`` (the ``invoice_worker``): for one customer, every boundary due at or before the
  job's date (and any boundary that fell due since, up to now: a late run catches up), earliest
  first, one draft invoice per boundary. Exactly once per (subscription item, boundary): the
  invoice, one ``invoice_period_guard`` per item (``attribute_not_exists``) and every subscription
  moved to its next period (conditional on its ``version``) commit in ONE TransactWriteItems. A
  transaction lost to another worker, a redelivery or an API change is re-read: what is done is
  not redone, and what is still due is recomputed from the new state.
* Transactions take at most 100 items: the items due at one boundary are split by subscription
  (sorted by id, greedily) into as many invoices as needed; a subscription is never split, since
  its new state commits with its guards.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from billing import clock
from billing.errors import BillingError, NotFound
from billing.gateways.invoice_jobs import InvoiceJobQueue
from billing.models.billing_runs import (
    BILLING_RUN_ID_PREFIX,
    BillingRun,
    BillingRunFilter,
    InvoiceJob,
    JobOutcome,
)
from billing.models.catalog import Coupon, Metric, Plan
from billing.models.catalog import TaxRate as CatalogTaxRate
from billing.models.customers import Customer
from billing.models.invoices import Invoice
from billing.models.subscriptions import Subscription, SubscriptionChange
from billing.repositories import keys, transactions
from billing.repositories import subscriptions as subscription_items
from billing.repositories.billing_runs import BillingRunRepository
from billing.repositories.catalog import CouponRepository, MetricRepository, PlanRepository, TaxRateRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.invoices import item_of as invoice_item
from billing.repositories.subscriptions import SubscriptionRepository
from billing.repositories.transactions import TransactionConflict
from billing.repositories.usage import UsageRepository
from billing.services import invoice_drafts as drafts
from billing.services.tax_rates import all_tax_rates
from billing.settings import Settings

MAX_BOUNDARIES_PER_JOB = 24
"""Boundaries one job bills (a customer far behind catches up over several runs)."""
MAX_CONFLICTS = 8
"""Lost transactions a job re-reads before it gives up (SQS then redelivers it)."""
TRANSACTION_ITEMS = transactions.MAX_ITEMS
SYSTEM = "system"


class UnknownCustomer(BillingError):
    """A job names a customer that does not exist: a poison message (it ends in the DLQ)."""

    default_code = "customer_not_found"


@dataclass
class Billing:
    """What billing reads and writes, built once per container by the functions."""

    customers: CustomerRepository
    subscriptions: SubscriptionRepository
    plans: PlanRepository
    metrics: MetricRepository
    coupons: CouponRepository
    tax_rates: TaxRateRepository
    invoices: InvoiceRepository
    runs: BillingRunRepository
    usage: UsageRepository | None = None
    queue: InvoiceJobQueue | None = None
    seller_country: str | None = None
    grace: timedelta = field(default_factory=lambda: timedelta(hours=1))

    @classmethod
    def from_table(
        cls,
        table: str,
        *,
        usage: UsageRepository | None = None,
        queue: InvoiceJobQueue | None = None,
        seller_country: str | None = None,
        grace_hours: int = 1,
    ) -> Billing:
        return cls(
            customers=CustomerRepository(table_name=table),
            subscriptions=SubscriptionRepository(table_name=table),
            plans=PlanRepository(table_name=table),
            metrics=MetricRepository(table_name=table),
            coupons=CouponRepository(table_name=table),
            tax_rates=TaxRateRepository(table_name=table),
            invoices=InvoiceRepository(table_name=table),
            runs=BillingRunRepository(table_name=table),
            usage=usage,
            queue=queue,
            seller_country=seller_country,
            grace=timedelta(hours=grace_hours),
        )


def billing_from_settings(settings: Settings, *, queue: bool = True, usage: bool = True) -> Billing:
    """The billing dependencies of a function, from its settings (parsed once at cold start)."""
    store = None
    if usage and settings.usage_table:
        store = UsageRepository(table_name=settings.usage_table, shards=settings.usage_shards)
    jobs = InvoiceJobQueue(url=settings.require("invoice_jobs_queue_url")) if queue else None
    return Billing.from_table(
        settings.require("billing_table"),
        usage=store,
        queue=jobs,
        seller_country=settings.seller_country,
        grace_hours=settings.draft_grace_hours,
    )


# --------------------------------------------------------------------------- catalog reads


class Catalog:
    """Plans (by code and version), metrics, coupons and tax rates, each read once per job."""

    def __init__(self, billing: Billing) -> None:
        self._billing = billing
        self._plans: dict[drafts.PlanKey, Plan] = {}
        self._metrics: dict[str, Metric] = {}
        self._coupons: dict[str, Coupon] = {}
        self._tax_rates: list[CatalogTaxRate] | None = None

    def plans_for(self, subscriptions: Iterable[Subscription]) -> dict[drafts.PlanKey, Plan]:
        wanted: set[drafts.PlanKey] = set()
        for sub in subscriptions:
            wanted |= {(i.plan_code, i.plan_version) for i in sub.items}
            wanted |= {
                (c.plan_code, c.plan_version)
                for c in sub.pending_changes
                if c.plan_code is not None and c.plan_version is not None
            }
        for code, version in sorted(wanted - set(self._plans)):
            plan = self._billing.plans.get(code, version)
            if plan is None:
                raise NotFound(f"plan {code} v{version} does not exist", code="plan_not_found")
            self._plans[(code, version)] = plan
        return self._plans

    def metrics_for(self, plans: Iterable[Plan]) -> dict[str, Metric]:
        codes = {c.metric for p in plans for c in p.charges} - set(self._metrics)
        if codes:
            self._metrics.update(self._billing.metrics.get_many(sorted(codes)))
        return self._metrics

    def coupons_for(self, subscriptions: Iterable[Subscription]) -> dict[str, Coupon]:
        codes = {d.coupon_code for s in subscriptions for d in s.discounts} - set(self._coupons)
        if codes:
            self._coupons.update(self._billing.coupons.get_many(sorted(codes)))
        return self._coupons

    def tax_for(self, customer: Customer) -> drafts.TaxSetup:
        if self._tax_rates is None:
            self._tax_rates = all_tax_rates(self._billing.tax_rates)
        if not self._billing.seller_country:
            return drafts.NO_TAX
        return drafts.tax_setup_for(
            customer, seller_country=self._billing.seller_country, catalog_rates=self._tax_rates
        )


# --------------------------------------------------------------------------- fan-out


def new_run_id() -> str:
    return BILLING_RUN_ID_PREFIX + secrets.token_hex(8)


def scheduled_run_id(fired_at: datetime) -> str:
    """The same id for every delivery of one scheduled event (EventBridge may invoke twice)."""
    import hashlib

    return BILLING_RUN_ID_PREFIX + hashlib.sha256(fired_at.isoformat().encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class DueGroup:
    customer_id: str
    billing_date: datetime
    subscription_ids: tuple[str, ...]


def find_due(
    billing: Billing, *, up_to: datetime, run_filter: BillingRunFilter | None = None
) -> list[DueGroup]:
    """Every (customer, billing date) with a subscription due at or before ``up_to`` that the filter
    takes: one Query per schedule shard (paginated), the customers' segment from the gsi1 index."""
    run_filter = run_filter or BillingRunFilter()
    allowed: set[str] | None = set(run_filter.customer_ids) or None
    if run_filter.segment is not None:
        in_segment = _segment_customers(billing, run_filter.segment)
        allowed = in_segment if allowed is None else allowed & in_segment
    groups: dict[tuple[str, datetime], list[str]] = {}
    for shard in range(keys.DUE_SHARDS):
        cursor: dict[str, Any] | None = None
        while True:
            subs, cursor = billing.subscriptions.due(shard, up_to=up_to, cursor=cursor)
            for sub in subs:
                if sub.next_billing_at is None or sub.next_billing_at > up_to:
                    continue
                if allowed is not None and sub.customer_id not in allowed:
                    continue
                if run_filter.currency is not None and sub.currency != run_filter.currency:
                    continue
                if (
                    run_filter.collection_method is not None
                    and sub.collection_method != run_filter.collection_method
                ):
                    continue
                groups.setdefault((sub.customer_id, sub.next_billing_at), []).append(sub.id)
            if not cursor:
                break
    return [
        DueGroup(customer_id=c, billing_date=d, subscription_ids=tuple(sorted(ids)))
        for (c, d), ids in sorted(groups.items())
    ]


def _segment_customers(billing: Billing, segment: str) -> set[str]:
    out: set[str] = set()
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = billing.customers.list(limit=100, cursor=cursor, segment=segment)
        out |= {c.id for c in page}
        if not cursor:
            return out


def start_run(
    billing: Billing,
    *,
    trigger: str,
    run_id: str | None = None,
    up_to: datetime | None = None,
    run_filter: BillingRunFilter | None = None,
    created_by: str = SYSTEM,
) -> BillingRun:
    """Record a run, enqueue its jobs, return it. A run id seen before is not enqueued again once
    it finished enqueueing (a retried scheduled invocation)."""
    now = clock.now()
    up_to = up_to or now
    run = BillingRun(
        id=run_id or new_run_id(),
        trigger="schedule" if trigger == "schedule" else "api",
        up_to=up_to,
        filter=run_filter or BillingRunFilter(),
        created_at=now,
        created_by=created_by,
    )
    if not billing.runs.create(run):
        existing = billing.runs.get(run.id)
        if existing is not None and existing.status == "enqueued":
            return existing
    due = find_due(billing, up_to=up_to, run_filter=run.filter)
    jobs = [InvoiceJob(customer_id=g.customer_id, billing_date=g.billing_date, run_id=run.id) for g in due]
    if jobs:
        if billing.queue is None:
            raise RuntimeError("no InvoiceJobs queue configured")
        billing.queue.send(jobs)
    subscriptions_due = sum(len(g.subscription_ids) for g in due)
    billing.runs.mark_enqueued(run.id, subscriptions_due=subscriptions_due, jobs_enqueued=len(jobs))
    return run.model_copy(
        update={"status": "enqueued", "subscriptions_due": subscriptions_due, "jobs_enqueued": len(jobs)}
    )


# --------------------------------------------------------------------------- one customer


@dataclass
class CustomerBilling:
    """What billing one customer came to."""

    customer_id: str
    invoices: list[Invoice] = field(default_factory=list)
    boundaries: int = 0
    conflicts: int = 0

    @property
    def outcome(self) -> str:
        if any(i.hold_reasons for i in self.invoices):
            return "held"
        return "issued" if self.invoices else "skipped"

    @property
    def hold_reasons(self) -> list[dict[str, str]]:
        return [r for i in self.invoices for r in i.hold_reasons]


def bill_customer(
    billing: Billing,
    *,
    customer_id: str,
    up_to: datetime,
    run_id: str | None = None,
    commit: bool = True,
    only: Sequence[str] | None = None,
    max_boundaries: int = MAX_BOUNDARIES_PER_JOB,
) -> CustomerBilling:
    """Draft the invoices of every boundary due at or before ``up_to`` (module docstring).

    ``commit=False`` computes the same drafts without writing anything (previews, dry runs);
    ``only`` restricts billing to these subscriptions."""
    customer = billing.customers.get(customer_id)
    if customer is None:
        raise UnknownCustomer(f"no customer {customer_id}", param="customer_id")
    catalog = Catalog(billing)
    result = CustomerBilling(customer_id=customer.id)
    subs = _load(billing, customer.id, only)
    while result.boundaries < max_boundaries:
        live = [s for s in subs.values() if s.next_billing_at is not None]
        plans = catalog.plans_for(live)
        found = drafts.earliest_due(live, plans, up_to=up_to)
        if found is None:
            break
        boundary, steps = found
        try:
            for chunk in split_steps(steps, subs):
                invoice, updated = _draft(
                    billing, catalog, customer, subs, chunk, boundary=boundary, run_id=run_id
                )
                if commit:
                    _commit(billing, invoice, chunk, subs, updated)
                subs.update(updated)
                if invoice is not None:
                    result.invoices.append(invoice)
        except TransactionConflict:
            result.conflicts += 1
            if result.conflicts > MAX_CONFLICTS:
                raise
            subs = _load(billing, customer.id, only)  # another writer got there first: re-read
            continue
        result.boundaries += 1
    return result


def _load(billing: Billing, customer_id: str, only: Sequence[str] | None) -> dict[str, Subscription]:
    subs = (
        billing.subscriptions.get_many(only)
        if only is not None
        else billing.subscriptions.all_for_customer(customer_id)
    )
    return {s.id: s for s in subs if s.customer_id == customer_id}


def split_steps(
    steps: Sequence[drafts.ItemStep], subs: Mapping[str, Subscription]
) -> list[list[drafts.ItemStep]]:
    """Chunks of whole subscriptions whose transaction fits in ``TRANSACTION_ITEMS``: one invoice,
    then per subscription its put, its audit entry and one guard per item due. Subscriptions are
    taken in id order, so the split is deterministic; currencies and collection methods never mix."""
    by_sub: dict[str, list[drafts.ItemStep]] = {}
    for step in steps:
        by_sub.setdefault(step.subscription_id, []).append(step)
    groups: dict[tuple[str, str, int | None], list[tuple[int, list[drafts.ItemStep]]]] = {}
    for sid in sorted(by_sub):
        sub = subs[sid]
        size = 2 + len(by_sub[sid])
        if 1 + size > TRANSACTION_ITEMS:
            raise ValueError(f"subscription {sid} has too many items due at once for one transaction")
        chunks = groups.setdefault((sub.currency, sub.collection_method, sub.days_until_due), [])
        if not chunks or chunks[-1][0] + size > TRANSACTION_ITEMS:
            chunks.append((1, []))
        used, members = chunks[-1]
        chunks[-1] = (used + size, members + by_sub[sid])
    return [members for chunks in groups.values() for _, members in chunks]


def _draft(
    billing: Billing,
    catalog: Catalog,
    customer: Customer,
    subs: Mapping[str, Subscription],
    steps: Sequence[drafts.ItemStep],
    *,
    boundary: datetime,
    run_id: str | None,
) -> tuple[Invoice | None, dict[str, Subscription]]:
    involved = {s.subscription_id: subs[s.subscription_id] for s in steps}
    plans = catalog.plans_for(involved.values())
    closing_plans = [s.plan for s in steps if s.closing is not None and s.bill_closing]
    metrics = catalog.metrics_for(closing_plans)
    usage = _usage(billing, customer.id, steps) if any(p.charges for p in closing_plans) else {}
    first = next(iter(involved.values()))
    draft = drafts.compose_draft(
        currency=first.currency,
        steps=steps,
        subscriptions=involved,
        metrics=metrics,
        usage=usage,
        coupons=catalog.coupons_for(involved.values()),
        tax=catalog.tax_for(customer),
        credit_balance=billing.invoices.credit_balance(customer.id, first.currency),
    )
    updated = {
        sid: drafts.advance_subscription(
            sub, steps, plans, at=boundary, coupon_results=draft.coupon_results.get(sid)
        )
        for sid, sub in involved.items()
    }
    if not draft.lines:
        return None, updated
    now = clock.now()
    invoice = drafts.build_invoice(
        invoice_id=new_invoice_id(),
        customer=customer,
        draft=draft,
        subscriptions=list(involved.values()),
        billing_date=boundary,
        now=now,
        finalize_after=now + billing.grace,
        run_id=run_id,
        tax=catalog.tax_for(customer),
    )
    return invoice, updated


def new_invoice_id() -> str:
    from billing.models.invoices import INVOICE_ID_PREFIX

    return INVOICE_ID_PREFIX + secrets.token_hex(8)


def _usage(billing: Billing, customer_id: str, steps: Sequence[drafts.ItemStep]) -> dict[str, list[Any]]:
    if billing.usage is None:
        raise RuntimeError("no usage store configured: usage charges cannot be rated")
    from billing.services.usage import read_billable_events

    periods = [s.closing for s in steps if s.closing is not None and s.bill_closing]
    start, end = min(p.start for p in periods), max(p.end for p in periods)
    return dict(read_billable_events(billing.usage, customer_id, start=start, end=end))


def _commit(
    billing: Billing,
    invoice: Invoice | None,
    steps: Sequence[drafts.ItemStep],
    before: Mapping[str, Subscription],
    after: Mapping[str, Subscription],
) -> None:
    actions: list[dict[str, Any]] = []
    if invoice is not None:
        actions.append(
            {"Put": {"Item": invoice_item(invoice), "ConditionExpression": "attribute_not_exists(pk)"}}
        )
    for step in steps:
        actions.append(
            subscription_items.period_guard_action(
                step.subscription_id, step.item.id, step.boundary, invoice.id if invoice else None
            )
        )
    for sid, new in after.items():
        actions.append(subscription_items.replace_action(before[sid], new))
        change = worker_change(before[sid], new, steps, invoice)
        if change is not None:
            actions.append(subscription_items.change_action(change, version=new.version))
    billing.subscriptions.write(actions)


def worker_change(
    before: Subscription, after: Subscription, steps: Sequence[drafts.ItemStep], invoice: Invoice | None
) -> SubscriptionChange | None:
    """The audit entry of a period roll, when it changed more than the periods (a scheduled change
    applied, the trial ended, the subscription ended)."""
    applied = [
        c.model_dump(mode="json") for s in steps if s.subscription_id == before.id for c in s.applied_changes
    ]
    if not applied and before.status == after.status:
        return None
    return SubscriptionChange(
        subscription_id=before.id,
        at=after.updated_at,
        actor=SYSTEM,
        action="canceled" if after.status == "canceled" else "period_rolled",
        details={
            "status": [before.status, after.status],
            "applied_changes": applied,
            "invoice_id": invoice.id if invoice else None,
        },
    )


# --------------------------------------------------------------------------- one job


def process_job(billing: Billing, job: InvoiceJob) -> CustomerBilling:
    """Bill the job's customer up to its date (and what fell due since) and record the outcome.

    Raises on failure, after recording ``failed``: SQS redelivers, then moves it to the DLQ."""
    up_to = max(job.billing_date, clock.now())
    try:
        result = bill_customer(billing, customer_id=job.customer_id, up_to=up_to, run_id=job.run_id)
    except Exception as exc:
        _record(billing, job, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _record(
        billing,
        job,
        result.outcome,
        invoice_ids=[i.id for i in result.invoices],
        hold_reasons=result.hold_reasons,
    )
    return result


def _record(
    billing: Billing,
    job: InvoiceJob,
    outcome: str,
    *,
    invoice_ids: Sequence[str] = (),
    hold_reasons: Sequence[dict[str, str]] = (),
    error: str | None = None,
) -> None:
    billing.runs.record_outcome(
        JobOutcome(
            run_id=job.run_id,
            customer_id=job.customer_id,
            billing_date=job.billing_date,
            outcome=outcome,
            invoice_ids=list(invoice_ids),
            hold_reasons=list(hold_reasons),
            error=error[:500] if error else None,
            at=clock.now(),
        )
    )


# --------------------------------------------------------------------------- previews


def preview_run(
    billing: Billing, *, up_to: datetime, run_filter: BillingRunFilter | None = None, limit: int = 50
) -> tuple[list[CustomerBilling], int]:
    """What every job of a run would draft, writing nothing: (previews of the first ``limit``
    customers, how many customers are due)."""
    due = find_due(billing, up_to=up_to, run_filter=run_filter)
    customers = list(dict.fromkeys(g.customer_id for g in due))
    return [bill_customer(billing, customer_id=c, up_to=up_to, commit=False) for c in customers[:limit]], len(
        customers
    )


def preview_upcoming(
    billing: Billing, *, customer_id: str, subscription_id: str | None = None
) -> CustomerBilling:
    """The invoice the next boundary of the subscription (or of the customer's subscriptions) will
    draft, from the usage so far; nothing is written."""
    only = [subscription_id] if subscription_id else None
    subs = _load(billing, customer_id, only)
    live = [s for s in subs.values() if s.next_billing_at is not None]
    if not live:
        return CustomerBilling(customer_id=customer_id)
    up_to = min(s.next_billing_at for s in live if s.next_billing_at is not None)
    return bill_customer(
        billing, customer_id=customer_id, up_to=up_to, commit=False, only=only, max_boundaries=1
    )


Sender = Callable[[Sequence[InvoiceJob]], int]
