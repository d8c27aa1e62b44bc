"""/v1/metrics: billable metrics (what usage is counted, and how)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictStr, WithJsonSchema

from api_routes import repos
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.catalog import Aggregation, Metric
from billing.observability import logger
from billing.repositories.dynamo import decode_cursor
from billing.services import metrics as service

router = Router()

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
MetricCode = Annotated[str, Path(pattern=CODE)]


def _filter_value(value: object) -> str | int | bool:
    if isinstance(value, str | int) and not isinstance(value, float):  # bool is an int
        return value
    raise ValueError("filter values are strings, integers or booleans")


FilterValue = Annotated[
    str | int | bool,
    PlainValidator(_filter_value),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}),
]


class MetricCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: StrictStr = Field(description="Unique; charges and events refer to the metric by it (api_calls).")
    name: StrictStr = Field(min_length=1, max_length=200)
    description: StrictStr | None = Field(default=None, max_length=1000)
    aggregation: Aggregation
    field: StrictStr | None = Field(
        default=None, max_length=128, description="The event property read; required except for count."
    )
    filters: dict[StrictStr, list[FilterValue]] = Field(
        default_factory=dict, description="Property -> accepted values; every filter must match."
    )
    group_by: StrictStr | None = Field(
        default=None, max_length=128, description="Price each value on its own."
    )


class MetricUpdate(BaseModel):
    """Aggregation, field, filters and group_by cannot change while a plan charges the metric."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    description: StrictStr | None = Field(default=None, max_length=1000)
    aggregation: Aggregation | None = None
    field: StrictStr | None = Field(default=None, max_length=128)
    filters: dict[StrictStr, list[FilterValue]] | None = None
    group_by: StrictStr | None = Field(default=None, max_length=128)


class MetricOut(BaseModel):
    object: Literal["metric"] = "metric"
    code: str
    name: str
    description: str | None
    aggregation: Aggregation
    field: str | None
    filters: dict[str, list[str]]
    group_by: str | None
    in_use: bool
    plans: list[str] = Field(description="Plans whose current version charges this metric.")
    archived: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, m: Metric) -> MetricOut:
        return cls(
            code=m.code, name=m.name, description=m.description, aggregation=m.aggregation, field=m.field,
            filters={k: list(v) for k, v in m.filters.items()}, group_by=m.group_by, in_use=m.in_use,
            plans=list(m.used_by_plans), archived=m.archived, created_at=m.created_at, updated_at=m.updated_at,
            version=m.version,
        )  # fmt: skip


@router.post("/v1/metrics", status_code=201, tags=["metrics"], summary="Create a metric")
def create_metric(body: MetricCreate) -> MetricOut:
    metric = service.create_metric(repos.metrics(), body.model_dump())
    logger.info("metric created", metric=metric.code, aggregation=metric.aggregation)
    return MetricOut.of(metric)


@router.get("/v1/metrics", tags=["metrics"], summary="List metrics")
def list_metrics(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    include_archived: Annotated[bool, Query()] = False,
) -> ListResponse[MetricOut]:
    cursor = decode_cursor(starting_after, allowed_keys={"pk", "sk", "gsi1pk", "gsi1sk"})
    items, last = service.list_metrics(
        repos.metrics(), limit=limit, cursor=cursor, include_archived=include_archived
    )
    return page([MetricOut.of(m) for m in items], last)


@router.get("/v1/metrics/<code>", tags=["metrics"], summary="Get a metric")
def get_metric(code: MetricCode) -> MetricOut:
    return MetricOut.of(service.get_metric(repos.metrics(), code))


@router.patch("/v1/metrics/<code>", tags=["metrics"], summary="Update a metric")
def update_metric(code: MetricCode, body: MetricUpdate) -> MetricOut:
    metric = service.update_metric(repos.metrics(), code, body.model_dump(exclude_unset=True))
    logger.info("metric updated", metric=metric.code, version=metric.version)
    return MetricOut.of(metric)


@router.delete("/v1/metrics/<code>", tags=["metrics"], summary="Archive a metric")
def archive_metric(code: MetricCode) -> MetricOut:
    metric = service.archive_metric(repos.metrics(), code)
    logger.info("metric archived", metric=metric.code)
    return MetricOut.of(metric)
