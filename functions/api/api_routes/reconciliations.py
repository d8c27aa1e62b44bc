"""/v1/reconciliations: compare Stripe's payments and refunds of a window (at most 31 days) with the
books, inline; fix what is unambiguous (a missed webhook) and report every mismatch."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from billing.errors import NotFound
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.reconciliations import Mismatch, MismatchCode, ReconciliationReport
from billing.payments import get_payment_provider
from billing.repositories.dynamo import decode_cursor
from billing.repositories.reconciliations import ReconciliationRepository
from billing.services import reconciliation as service
from billing.services.collection import collection_from_settings
from billing.settings import get_settings

router = Router()


@cache
def reports() -> ReconciliationRepository:
    return ReconciliationRepository(table_name=get_settings().require("billing_table"))


class ReconciliationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AwareDatetime = Field(alias="from", description="Start of the window (inclusive).")
    to: AwareDatetime = Field(description="End of the window (exclusive); at most 31 days after from.")


class MismatchOut(BaseModel):
    code: MismatchCode
    fixed: bool
    provider_payment_id: str | None
    provider_refund_id: str | None
    invoice_id: str | None
    payment_id: str | None
    provider_amount: int | None
    recorded_amount: int | None
    currency: str | None
    note: str | None

    @classmethod
    def of(cls, mismatch: Mismatch) -> MismatchOut:
        return cls(**mismatch.model_dump())


class ReconciliationOut(BaseModel):
    object: str = "reconciliation"
    id: str
    trigger: str
    window_from: datetime
    window_to: datetime
    provider_payments: int
    provider_refunds: int
    recorded_payments: int
    mismatches_found: int
    mismatches_fixed: int
    counts: dict[str, int]
    mismatches: list[MismatchOut]
    truncated: bool
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, report: ReconciliationReport) -> ReconciliationOut:
        data = report.model_dump(exclude={"mismatches"})
        return cls(**data, mismatches=[MismatchOut.of(m) for m in report.mismatches])


@router.post(
    "/v1/reconciliations", status_code=201, tags=["reconciliations"], summary="Reconcile a window with Stripe"
)
def start_reconciliation(body: ReconciliationRequest) -> ReconciliationOut:
    principal = current_principal(router)  # type: ignore[arg-type]
    settings = get_settings()
    deps = service.Reconciliation(
        collection=collection_from_settings(settings, get_payment_provider()), reports=reports()
    )
    report = service.run_reconciliation(
        deps, start=body.from_, end=body.to, trigger="api", created_by=principal.key_id
    )
    return ReconciliationOut.of(report)


@router.get(
    "/v1/reconciliations", tags=["reconciliations"], summary="List reconciliation reports, newest first"
)
def list_reconciliations(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[ReconciliationOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    found, last = reports().list(limit=limit, cursor=cursor)
    return page([ReconciliationOut.of(r) for r in found], last)


@router.get(
    "/v1/reconciliations/<reconciliation_id>",
    tags=["reconciliations"],
    summary="A reconciliation report: every mismatch, fixed or to look at",
)
def get_reconciliation(
    reconciliation_id: Annotated[str, Path(pattern=r"^rc_[0-9a-f]{16}$")],
) -> ReconciliationOut:
    report = reports().get(reconciliation_id)
    if report is None:
        raise NotFound(
            f"no reconciliation {reconciliation_id}",
            code="reconciliation_not_found",
            param="reconciliation_id",
        )
    return ReconciliationOut.of(report)
