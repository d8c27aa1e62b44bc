"""/v1/billing-runs: start a run on demand (a segment, a currency, a collection method or a list of
customers), or a dry run (what every invoice of it would be, nothing created); list runs and read one
with its counts by outcome and its jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr

from api_routes.billing_deps import billing
from api_routes.upcoming import PreviewInvoiceOut
from billing import clock
from billing.errors import NotFound
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.billing_runs import BillingRun, BillingRunFilter, JobOutcome, RunProgress
from billing.money import normalize_currency
from billing.observability import logger, metrics
from billing.repositories.dynamo import decode_cursor
from billing.services import billing_runs as service

router = Router()
DRY_RUN_LIMIT = 50


class BillingRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: StrictStr | None = Field(default=None, max_length=64)
    currency: StrictStr | None = None
    collection_method: Literal["charge_automatically", "send_invoice"] | None = None
    customers: list[StrictStr] = Field(
        default_factory=list, max_length=100, description="Our ids or external ids."
    )
    up_to: AwareDatetime | None = Field(
        default=None, description="Bill what is due at or before this; default now."
    )
    dry_run: bool = False


class BillingRunOut(BaseModel):
    object: str = "billing_run"
    id: str
    trigger: str
    status: RunProgress = Field(
        description="enqueueing (fan-out under way), running (jobs pending), completed, or "
        "completed_with_failures (some job failed; SQS retries it, then dead-letters it)."
    )
    up_to: datetime
    filter: BillingRunFilter
    subscriptions_due: int
    jobs_enqueued: int
    jobs_pending: int = Field(description="Jobs enqueued whose outcome is not recorded yet.")
    issued: int
    held: int
    skipped: int
    failed: int
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, run: BillingRun) -> BillingRunOut:
        return cls(**{**run.model_dump(), "status": run.progress, "jobs_pending": run.jobs_pending})


class JobOut(BaseModel):
    object: str = "billing_job"
    customer_id: str
    billing_date: datetime
    outcome: str
    invoice_ids: list[str]
    hold_reasons: list[dict[str, str]]
    error: str | None
    at: datetime

    @classmethod
    def of(cls, job: JobOutcome) -> JobOut:
        return cls(**job.model_dump(exclude={"run_id"}))


class DryRunCustomer(BaseModel):
    customer_id: str
    invoices: list[PreviewInvoiceOut]


class DryRunOut(BaseModel):
    object: str = "billing_run_preview"
    up_to: datetime
    filter: BillingRunFilter
    customers_due: int
    customers: list[DryRunCustomer]
    has_more: bool


class BillingRunDetail(BillingRunOut):
    jobs: list[JobOut] = Field(default_factory=list, description="The first 100 jobs' outcomes.")


def _filter(body: BillingRunRequest) -> BillingRunFilter:
    ids = []
    for n, ref in enumerate(body.customers):
        found = billing().customers.resolve(ref)
        if found is None:
            raise NotFound(f"no customer {ref}", code="customer_not_found", param=f"customers.{n}")
        ids.append(found.id)
    currency = normalize_currency(body.currency) if body.currency is not None else None
    return BillingRunFilter(
        segment=body.segment, currency=currency, collection_method=body.collection_method, customer_ids=ids
    )


@router.post(
    "/v1/billing-runs", status_code=201, tags=["billing-runs"], summary="Start (or preview) a billing run"
)
def start_billing_run(body: BillingRunRequest) -> BillingRunOut | DryRunOut:
    run_filter = _filter(body)
    up_to = body.up_to or clock.now()
    if body.dry_run:
        previews, due = service.preview_run(
            billing(), up_to=up_to, run_filter=run_filter, limit=DRY_RUN_LIMIT
        )
        return DryRunOut(
            up_to=up_to,
            filter=run_filter,
            customers_due=due,
            customers=[
                DryRunCustomer(
                    customer_id=p.customer_id,
                    invoices=[PreviewInvoiceOut.of(i, stored=False) for i in p.invoices],
                )
                for p in previews
            ],
            has_more=due > len(previews),
        )
    principal = current_principal(router)  # type: ignore[arg-type]
    run = service.start_run(
        billing(), trigger="api", up_to=up_to, run_filter=run_filter, created_by=principal.key_id
    )
    logger.info("billing run started", run_id=run.id, jobs=run.jobs_enqueued, by=principal.key_id)
    metrics.add_metric(name="InvoiceJobsEnqueued", unit="Count", value=run.jobs_enqueued)
    return BillingRunOut.of(run)


@router.get("/v1/billing-runs", tags=["billing-runs"], summary="List billing runs, newest first")
def list_billing_runs(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[BillingRunOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    runs, last = billing().runs.list(limit=limit, cursor=cursor)
    return page([BillingRunOut.of(r) for r in runs], last)


@router.get(
    "/v1/billing-runs/<run_id>", tags=["billing-runs"], summary="A billing run: counts by outcome, jobs"
)
def get_billing_run(run_id: Annotated[str, Path(pattern=r"^br_[0-9a-f]{16}$")]) -> BillingRunDetail:
    run = billing().runs.get(run_id)
    if run is None:
        raise NotFound(f"no billing run {run_id}", code="billing_run_not_found", param="run_id")
    jobs, _ = billing().runs.list_outcomes(run_id, limit=100, cursor=None)
    return BillingRunDetail(**BillingRunOut.of(run).model_dump(), jobs=[JobOut.of(j) for j in jobs])
