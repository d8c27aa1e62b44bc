"""/v1/plans: plans with a fixed fee and usage charges; every price change is a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from api_routes import repos
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.catalog import Interval, Plan
from billing.observability import logger
from billing.repositories.dynamo import decode_cursor
from billing.services import plans as service

router = Router()

PlanCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class ChargeIn(BaseModel):
    """A usage charge: the metric it prices and a charge model with that model's fields
    (``standard``: ``unit_price``; ``graduated``/``volume``: ``tiers``; ``package``; ``percentage``; ...)
    plus the common options (``transform_quantity``, ``min_amount_per_period``, ``pay_in_advance``,
    ``group_by``). Money as integer minor units, unit prices and rates as decimal strings."""

    model_config = ConfigDict(extra="allow")

    metric: StrictStr = Field(min_length=1, max_length=64)
    model: StrictStr = Field(
        description="Charge model (standard, package, graduated, volume, percentage, ...)."
    )


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: StrictStr = Field(description="Unique; subscriptions refer to the plan by it.")
    name: StrictStr = Field(min_length=1, max_length=200)
    description: StrictStr | None = Field(default=None, max_length=1000)
    interval: Interval
    interval_count: StrictInt = 1
    currency: StrictStr
    amount: StrictInt = Field(default=0, description="Fixed fee per period, minor units.")
    pay_in_advance: StrictBool = Field(
        default=False, description="Fixed fee billed at the start of the period."
    )
    trial_days: StrictInt = 0
    minimum_commitment: StrictInt | None = Field(
        default=None, description="Minimum billed per period, minor units."
    )
    charges: list[ChargeIn] = Field(default_factory=list, max_length=service.MAX_CHARGES)
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class PlanUpdate(BaseModel):
    """A change of interval, currency, amount, pay_in_advance, trial_days, minimum_commitment or
    charges creates a new version (new subscriptions get it; existing ones keep theirs).
    name, description and metadata change in place. ``charges`` replaces the whole list."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    description: StrictStr | None = Field(default=None, max_length=1000)
    interval: Interval | None = None
    interval_count: StrictInt | None = None
    currency: StrictStr | None = None
    amount: StrictInt | None = None
    pay_in_advance: StrictBool | None = None
    trial_days: StrictInt | None = None
    minimum_commitment: StrictInt | None = None
    charges: list[ChargeIn] | None = Field(default=None, max_length=service.MAX_CHARGES)
    metadata: dict[StrictStr, StrictStr] | None = None


class ChargeOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    metric: str
    model: str


class PlanOut(BaseModel):
    object: Literal["plan"] = "plan"
    code: str
    version: int = Field(description="The version shown.")
    current_version: int = Field(description="The version new subscriptions get.")
    is_current: bool
    name: str
    description: str | None
    interval: Interval
    interval_count: int
    currency: str
    amount: int
    pay_in_advance: bool
    trial_days: int
    minimum_commitment: int | None
    charges: list[ChargeOut]
    metadata: dict[str, str]
    archived: bool
    in_use: bool
    subscriptions_count: int
    version_created_at: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        charges: list[dict[str, Any]] = [{"metric": c.metric, **c.definition} for c in p.charges]
        return cls(
            code=p.code, version=p.version, current_version=p.current_version, is_current=p.is_current,
            name=p.name, description=p.description, interval=p.interval, interval_count=p.interval_count,
            currency=p.currency, amount=p.amount, pay_in_advance=p.pay_in_advance, trial_days=p.trial_days,
            minimum_commitment=p.minimum_commitment, charges=[ChargeOut(**c) for c in charges],
            metadata=dict(p.metadata), archived=p.archived, in_use=p.in_use,
            subscriptions_count=p.subscriptions_count, version_created_at=p.version_created_at,
            created_at=p.created_at, updated_at=p.updated_at,
        )  # fmt: skip


def _fields(body: BaseModel, *, exclude_unset: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=exclude_unset)
    if data.get("charges") is not None:
        # Extra fields of a charge (the model's own) are kept exactly as sent.
        data["charges"] = [c.model_dump() for c in body.charges]  # type: ignore[attr-defined]
    return data


@router.post("/v1/plans", status_code=201, tags=["plans"], summary="Create a plan")
def create_plan(body: PlanCreate) -> PlanOut:
    plan = service.create_plan(repos.plans(), repos.metrics(), _fields(body, exclude_unset=False))
    logger.info("plan created", plan=plan.code, version=plan.version)
    return PlanOut.of(plan)


@router.get("/v1/plans", tags=["plans"], summary="List plans (current versions)")
def list_plans(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    include_archived: Annotated[bool, Query()] = False,
) -> ListResponse[PlanOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    items, last = service.list_plans(
        repos.plans(), limit=limit, cursor=cursor, include_archived=include_archived
    )
    return page([PlanOut.of(p) for p in items], last)


@router.get("/v1/plans/<code>", tags=["plans"], summary="Get a plan (current version, or ?version=n)")
def get_plan(code: PlanCode, version: Annotated[int | None, Query(ge=1)] = None) -> PlanOut:
    return PlanOut.of(service.get_plan(repos.plans(), code, version=version))


@router.get("/v1/plans/<code>/versions", tags=["plans"], summary="List a plan's versions, newest first")
def list_plan_versions(
    code: PlanCode,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[PlanOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk"})
    items, last = service.list_plan_versions(repos.plans(), code, limit=limit, cursor=cursor)
    return page([PlanOut.of(p) for p in items], last)


@router.patch("/v1/plans/<code>", tags=["plans"], summary="Update a plan (price changes make a new version)")
def update_plan(code: PlanCode, body: PlanUpdate) -> PlanOut:
    plan = service.update_plan(repos.plans(), repos.metrics(), code, _fields(body, exclude_unset=True))
    logger.info("plan updated", plan=plan.code, version=plan.version)
    return PlanOut.of(plan)


@router.delete("/v1/plans/<code>", tags=["plans"], summary="Archive a plan")
def archive_plan(code: PlanCode) -> PlanOut:
    plan = service.archive_plan(repos.plans(), code)
    logger.info("plan archived", plan=plan.code)
    return PlanOut.of(plan)
