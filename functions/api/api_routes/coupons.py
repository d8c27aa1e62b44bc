"""/v1/coupons: percentage or fixed-amount discounts, for one, several or every period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api_routes import repos
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.catalog import Coupon, CouponDuration
from billing.observability import logger
from billing.repositories.dynamo import decode_cursor
from billing.services import coupons as service

router = Router()

CouponCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
DECIMAL = r"^\d{1,3}(\.\d{1,6})?$"


class AppliesToIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plans: list[StrictStr] = Field(default_factory=list, max_length=100)
    metrics: list[StrictStr] = Field(default_factory=list, max_length=100)


class CouponCreate(BaseModel):
    """``percent_off`` (a decimal string, 0 < x ≤ 100) or ``amount_off`` (minor units) with ``currency``."""

    model_config = ConfigDict(extra="forbid")

    code: StrictStr = Field(description="Unique; what a customer or subscription is given.")
    name: StrictStr | None = Field(default=None, max_length=200)
    percent_off: StrictStr | None = Field(
        default=None, pattern=DECIMAL, description='Decimal string ("15.5").'
    )
    amount_off: StrictInt | None = Field(default=None, description="Minor units.")
    currency: StrictStr | None = None
    duration: CouponDuration
    duration_in_periods: StrictInt | None = Field(default=None, description="With duration repeating.")
    applies_to: AppliesToIn | None = Field(default=None, description="Only these plans' / metrics' lines.")
    max_redemptions: StrictInt | None = None
    redeem_by: datetime | None = Field(default=None, description="Last moment it can be redeemed (ISO 8601).")
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class CouponUpdate(BaseModel):
    """The discount cannot change (create a new coupon); its name, limits and metadata can."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(default=None, max_length=200)
    max_redemptions: StrictInt | None = None
    redeem_by: datetime | None = None
    metadata: dict[StrictStr, StrictStr] | None = None


class AppliesToOut(BaseModel):
    plans: list[str]
    metrics: list[str]


class CouponOut(BaseModel):
    object: Literal["coupon"] = "coupon"
    code: str
    name: str | None
    percent_off: str | None = Field(description="Decimal string.")
    amount_off: int | None
    currency: str | None
    duration: CouponDuration
    duration_in_periods: int | None
    applies_to: AppliesToOut | None
    max_redemptions: int | None
    redeem_by: datetime | None
    times_redeemed: int
    valid: bool = Field(description="Can be redeemed now.")
    metadata: dict[str, str]
    archived: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Coupon) -> CouponOut:
        from billing import clock

        applies_to = (
            AppliesToOut(plans=list(c.applies_to.plans), metrics=list(c.applies_to.metrics))
            if c.applies_to
            else None
        )
        return cls(
            code=c.code, name=c.name, percent_off=str(c.percent_off) if c.percent_off is not None else None,
            amount_off=c.amount_off, currency=c.currency, duration=c.duration,
            duration_in_periods=c.duration_in_periods, applies_to=applies_to, max_redemptions=c.max_redemptions,
            redeem_by=c.redeem_by, times_redeemed=c.times_redeemed, valid=c.redeemable(clock.now()),
            metadata=dict(c.metadata), archived=c.archived, created_at=c.created_at, updated_at=c.updated_at,
        )  # fmt: skip


@router.post("/v1/coupons", status_code=201, tags=["coupons"], summary="Create a coupon")
def create_coupon(body: CouponCreate) -> CouponOut:
    coupon = service.create_coupon(
        repos.coupons(), plans=repos.plans(), metrics=repos.metrics(), fields=body.model_dump()
    )
    logger.info("coupon created", coupon=coupon.code)
    return CouponOut.of(coupon)


@router.get("/v1/coupons", tags=["coupons"], summary="List coupons")
def list_coupons(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    include_archived: Annotated[bool, Query()] = False,
) -> ListResponse[CouponOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    items, last = service.list_coupons(
        repos.coupons(), limit=limit, cursor=cursor, include_archived=include_archived
    )
    return page([CouponOut.of(c) for c in items], last)


@router.get("/v1/coupons/<code>", tags=["coupons"], summary="Get a coupon")
def get_coupon(code: CouponCode) -> CouponOut:
    return CouponOut.of(service.get_coupon(repos.coupons(), code))


@router.patch("/v1/coupons/<code>", tags=["coupons"], summary="Update a coupon's name, limits or metadata")
def update_coupon(code: CouponCode, body: CouponUpdate) -> CouponOut:
    coupon = service.update_coupon(repos.coupons(), code, body.model_dump(exclude_unset=True))
    logger.info("coupon updated", coupon=coupon.code)
    return CouponOut.of(coupon)


@router.delete("/v1/coupons/<code>", tags=["coupons"], summary="Archive a coupon")
def archive_coupon(code: CouponCode) -> CouponOut:
    coupon = service.archive_coupon(repos.coupons(), code)
    logger.info("coupon archived", coupon=coupon.code)
    return CouponOut.of(coupon)
