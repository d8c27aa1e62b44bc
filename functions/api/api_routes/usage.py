"""/v1/customers/{customer_id}/usage: aggregated usage per metric (and group) over a window."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api_routes import repos
from billing.models.catalog import Aggregation
from billing.repositories.usage import UsageRepository
from billing.services import usage as service
from billing.settings import get_settings

router = Router()


@cache
def store() -> UsageRepository:
    settings = get_settings()
    return UsageRepository(
        table_name=settings.require("usage_table"),
        shards=settings.usage_shards,
        concurrency=settings.usage_write_concurrency,
    )


def quantity(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros (``12``, ``0.5``)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


class GroupUsageOut(BaseModel):
    group: str = Field(description='The group_by property\'s value ("" for events without it).')
    quantity: str


class MetricUsageOut(BaseModel):
    metric: str
    name: str
    aggregation: Aggregation
    field: str | None
    group_by: str | None
    quantity: str = Field(description="The aggregated quantity over the window, as a decimal string.")
    events: int = Field(description="Events of the window that the metric saw (before its filters).")
    groups: list[GroupUsageOut] | None = Field(description="Per value of group_by, when the metric groups.")


class CustomerUsageOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    object: Literal["customer_usage"] = "customer_usage"
    customer_id: str
    external_id: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    metrics: list[MetricUsageOut]

    @classmethod
    def of(cls, usage: service.CustomerUsage) -> CustomerUsageOut:
        return cls(
            customer_id=usage.customer.id,
            external_id=usage.customer.external_id,
            from_=usage.start,
            to=usage.end,
            metrics=[
                MetricUsageOut(
                    metric=m.metric.code,
                    name=m.metric.name,
                    aggregation=m.metric.aggregation,
                    field=m.metric.field,
                    group_by=m.metric.group_by,
                    quantity=quantity(m.quantity),
                    events=m.events,
                    groups=None
                    if m.groups is None
                    else [GroupUsageOut(group=g, quantity=quantity(q)) for g, q in m.groups.items()],
                )
                for m in usage.metrics
            ],
        )


@router.get("/v1/customers/<customer_id>/usage", tags=["usage"], summary="Current usage of a customer")
def get_customer_usage(
    customer_id: Annotated[str, Path(min_length=1, max_length=255, description="Our id or the external_id.")],
    metric: Annotated[str | None, Query(max_length=64, description="Only this metric.")] = None,
    from_: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Window start (inclusive); default `to` - 30 days."),
    ] = None,
    to: Annotated[AwareDatetime | None, Query(description="Window end (exclusive); default now.")] = None,
) -> CustomerUsageOut:
    usage = service.get_current_usage(
        store=store(),
        customers=repos.customers(),
        metrics=repos.metrics(),
        customer_ref=customer_id,
        metric_code=metric,
        start=from_,
        end=to,
    )
    return CustomerUsageOut.of(usage)
