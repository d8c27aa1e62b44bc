"""/v1/subscriptions: create, list (by customer and status, cursor), get, change, cancel, pause,
resume, and the audit trail of every change (/changes).

Every write takes an optional ``version`` (the one read): a subscription changed since answers 409
``version_mismatch``; a write that loses a race answers 409 ``concurrent_update``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr

from api_routes.billing_deps import billing
from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.invoices import Invoice
from billing.models.subscriptions import (
    CollectionMethod,
    Discount,
    PendingChange,
    PendingProration,
    Subscription,
    SubscriptionChange,
    SubscriptionItem,
    SubscriptionStatus,
)
from billing.observability import logger, metrics
from billing.repositories.dynamo import decode_cursor
from billing.services import subscriptions as service

router = Router()
SubscriptionId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{16}$")]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: StrictStr = Field(min_length=1, max_length=64, description="The plan's code.")
    plan_version: int | None = Field(default=None, ge=1, description="Default: the plan's current version.")
    quantity: int = Field(default=1, ge=1, le=1_000_000)


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: StrictStr = Field(
        min_length=1, max_length=128, description="Our customer id or its external_id."
    )
    items: list[ItemIn] = Field(min_length=1, max_length=service.MAX_ITEMS)
    start_date: AwareDatetime | None = Field(default=None, description="Past, now or future; default now.")
    billing_anchor: AwareDatetime | None = Field(
        default=None, description="Default: the trial end, else the start."
    )
    trial_end: AwareDatetime | None = Field(
        default=None, description="Default: the start + the plans' trial_days."
    )
    trial_from_plan: bool = True
    coupons: list[StrictStr] = Field(default_factory=list, max_length=5)
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = Field(default=None, ge=0, le=365)
    metadata: dict[str, str] = Field(default_factory=dict)


class ItemChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = Field(default=None, description="The item (si_...); optional with one item.")
    plan: StrictStr | None = Field(default=None, max_length=64)
    plan_version: int | None = Field(default=None, ge=1)
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None, ge=1, description="The version read: refused if it changed since."
    )
    item: ItemChange | None = None
    effective: Literal["now", "period_end"] = "now"
    proration_behavior: service.ProrationBehavior = Field(
        default="create_prorations",
        description="create_prorations: on the next invoice; invoice_now: a draft invoice at once; none.",
    )
    metadata: dict[str, str] | None = None
    collection_method: CollectionMethod | None = None
    days_until_due: int | None = Field(default=None, ge=0, le=365)
    cancel_at_period_end: bool | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at_period_end: bool = False
    version: int | None = Field(default=None, ge=1)


class VersionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1)


class SubscriptionOut(BaseModel):
    object: str = "subscription"
    id: str
    customer_id: str
    status: SubscriptionStatus
    currency: str
    time_zone: str
    items: list[SubscriptionItem]
    billing_anchor: datetime
    start_date: datetime
    trial_end: datetime | None
    collection_method: CollectionMethod
    days_until_due: int | None
    discounts: list[Discount]
    pending_changes: list[PendingChange]
    pending_prorations: list[PendingProration]
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    paused_at: datetime | None
    next_billing_at: datetime | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int
    latest_invoice_id: str | None = Field(default=None, description="The draft a change invoiced at once.")

    @classmethod
    def of(cls, sub: Subscription, invoice: Invoice | None = None) -> SubscriptionOut:
        return cls(**sub.model_dump(), latest_invoice_id=invoice.id if invoice else None)


class ChangeOut(BaseModel):
    object: str = "subscription_change"
    subscription_id: str
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]

    @classmethod
    def of(cls, change: SubscriptionChange) -> ChangeOut:
        return cls(**change.model_dump())


def _actor() -> str:
    return current_principal(router).key_id  # type: ignore[arg-type]


@router.post("/v1/subscriptions", status_code=201, tags=["subscriptions"], summary="Create a subscription")
def create_subscription(body: SubscriptionCreate) -> SubscriptionOut:
    sub = service.create_subscription(
        billing(),
        customer_ref=body.customer,
        items_requested=[service.ItemRequest(i.plan, i.plan_version, i.quantity) for i in body.items],
        actor=_actor(),
        start_date=body.start_date,
        billing_anchor=body.billing_anchor,
        trial_end=body.trial_end,
        trial_from_plan=body.trial_from_plan,
        coupons=body.coupons,
        collection_method=body.collection_method,
        days_until_due=body.days_until_due,
        metadata=body.metadata,
    )
    logger.info("subscription created", subscription_id=sub.id, customer_id=sub.customer_id)
    metrics.add_metric(name="SubscriptionsCreated", unit="Count", value=1)
    return SubscriptionOut.of(sub)


@router.get("/v1/subscriptions", tags=["subscriptions"], summary="List a customer's subscriptions")
def list_subscriptions(
    customer: Annotated[str, Query(min_length=1, max_length=128, description="Our id or external_id.")],
    status: Annotated[SubscriptionStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[SubscriptionOut]:
    found = service.resolve_customer(billing(), customer)
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    subs, last = billing().subscriptions.list_for_customer(
        found.id, limit=limit, cursor=cursor, status=status
    )
    return page([SubscriptionOut.of(s) for s in subs], last)


@router.get("/v1/subscriptions/<subscription_id>", tags=["subscriptions"], summary="Get a subscription")
def get_subscription(subscription_id: SubscriptionId) -> SubscriptionOut:
    return SubscriptionOut.of(service.get_subscription(billing(), subscription_id))


@router.patch(
    "/v1/subscriptions/<subscription_id>",
    tags=["subscriptions"],
    summary="Change a subscription: an item's plan or quantity (now, prorated, or at the period end), settings",
)
def update_subscription(subscription_id: SubscriptionId, body: SubscriptionUpdate) -> SubscriptionOut:
    actor = _actor()
    invoice = None
    if body.item is not None:
        result = service.change_item(
            billing(),
            subscription_id,
            actor=actor,
            item_id=body.item.id,
            plan_code=body.item.plan,
            plan_version=body.item.plan_version,
            quantity=body.item.quantity,
            effective=body.effective,
            proration_behavior=body.proration_behavior,
            expected_version=body.version,
        )
        sub, invoice = result.subscription, result.invoice
        expected = sub.version
    else:
        sub, expected = service.get_subscription(billing(), subscription_id), body.version
    if any(v is not None for v in (body.metadata, body.collection_method, body.cancel_at_period_end)):
        sub = service.update_subscription(
            billing(),
            subscription_id,
            actor=actor,
            expected_version=expected,
            metadata=body.metadata,
            collection_method=body.collection_method,
            days_until_due=body.days_until_due,
            cancel_at_period_end=body.cancel_at_period_end,
        )
    logger.info("subscription changed", subscription_id=sub.id, by=actor, version=sub.version)
    return SubscriptionOut.of(sub, invoice)


@router.post(
    "/v1/subscriptions/<subscription_id>/cancel", tags=["subscriptions"], summary="Cancel a subscription"
)
def cancel_subscription(subscription_id: SubscriptionId, body: CancelRequest) -> SubscriptionOut:
    actor = _actor()
    result = service.cancel_subscription(
        billing(),
        subscription_id,
        actor=actor,
        at_period_end=body.at_period_end,
        expected_version=body.version,
    )
    logger.info(
        "subscription canceled", subscription_id=subscription_id, by=actor, at_period_end=body.at_period_end
    )
    metrics.add_metric(name="SubscriptionsCanceled", unit="Count", value=1)
    return SubscriptionOut.of(result.subscription, result.invoice)


@router.post("/v1/subscriptions/<subscription_id>/pause", tags=["subscriptions"], summary="Pause billing")
def pause_subscription(subscription_id: SubscriptionId, body: VersionRequest) -> SubscriptionOut:
    return SubscriptionOut.of(
        service.pause_subscription(billing(), subscription_id, actor=_actor(), expected_version=body.version)
    )


@router.post("/v1/subscriptions/<subscription_id>/resume", tags=["subscriptions"], summary="Resume billing")
def resume_subscription(subscription_id: SubscriptionId, body: VersionRequest) -> SubscriptionOut:
    return SubscriptionOut.of(
        service.resume_subscription(billing(), subscription_id, actor=_actor(), expected_version=body.version)
    )


@router.get(
    "/v1/subscriptions/<subscription_id>/changes",
    tags=["subscriptions"],
    summary="Every change, who and when",
)
def list_changes(
    subscription_id: SubscriptionId,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
) -> ListResponse[ChangeOut]:
    service.get_subscription(billing(), subscription_id)
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk"})
    changes, last = billing().subscriptions.list_changes(subscription_id, limit=limit, cursor=cursor)
    return page([ChangeOut.of(c) for c in changes], last)
