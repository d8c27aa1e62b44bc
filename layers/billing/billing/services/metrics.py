"""Billable metrics: create, read, list, update, archive.

The aggregation definition (``aggregation``, ``field``, ``filters``) is validated by
``billing.metering`` so the metric stored is one the metering code can aggregate. A metric
charged by a plan's current version is *in use*: what it measures (aggregation, field,
filters, group_by) cannot change and it cannot be archived (409 ``metric_in_use``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from billing import clock
from billing.errors import Conflict, NotFound, ValidationFailed
from billing.metering import validate_aggregation
from billing.models.catalog import Metric
from billing.repositories.catalog import MetricRepository

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PROPERTY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_.\-$]{0,127}$")
MEASURE_FIELDS = ("aggregation", "field", "filters", "group_by")
"""What a metric measures: frozen while a plan charges the metric."""
FIELDS = frozenset({"code", "name", "description", *MEASURE_FIELDS})
MAX_FILTERS = 20
MAX_FILTER_VALUES = 100


def get_metric(repo: MetricRepository, code: str) -> Metric:
    metric = repo.get(code)
    if metric is None:
        raise NotFound(f"no metric {code!r}", code="metric_not_found", param="code")
    return metric


def list_metrics(
    repo: MetricRepository, *, limit: int, cursor: dict[str, Any] | None, include_archived: bool = False
) -> tuple[list[Metric], dict[str, Any] | None]:
    items, last = repo.list(limit=limit, cursor=cursor)
    return [m for m in items if include_archived or not m.archived], last


def create_metric(repo: MetricRepository, fields: Mapping[str, Any]) -> Metric:
    code = check_code(fields.get("code"), param="code")
    now = clock.now()
    metric = Metric(
        code=code,
        name=_name(fields.get("name")),
        description=fields.get("description"),
        **_measure(fields),
        created_at=now,
        updated_at=now,
    )
    repo.create(metric)
    return metric


def update_metric(repo: MetricRepository, code: str, changes: Mapping[str, Any]) -> Metric:
    current = get_metric(repo, code)
    if current.archived:
        raise Conflict(f"metric {code!r} is archived", code="metric_archived", param="code")
    if "code" in changes:
        raise ValidationFailed("a metric's code cannot change", code="immutable_field", param="code")
    if "name" in changes:
        _name(changes["name"])
    merged = {
        "aggregation": current.aggregation,
        "field": current.field,
        "filters": current.filters,
        "group_by": current.group_by,
        **{k: v for k, v in changes.items() if k in MEASURE_FIELDS},
    }
    measure = _measure(merged)
    candidate = current.model_copy(
        update={
            **{k: v for k, v in changes.items() if k in ("name", "description")},
            **measure,
        }
    )
    if candidate == current:
        return current
    changed = [f for f in MEASURE_FIELDS if getattr(candidate, f) != getattr(current, f)]
    new = candidate.model_copy(update={"version": current.version + 1, "updated_at": clock.now()})
    for attempt in range(2):
        if changed and current.in_use:
            raise Conflict(
                f"metric {code!r} is charged by plans {', '.join(current.used_by_plans)}: its {changed[0]} "
                "cannot change (create a new metric and a new plan version instead)",
                code="metric_in_use",
                param=changed[0],
            )
        try:
            if changed:
                repo.update_unused(current, new)
            else:
                repo.update(current, new)
            return new
        except Conflict:
            fresh = get_metric(repo, code)
            if attempt or fresh.version != current.version:
                raise
            current = fresh  # only used_by_plans moved: check it again
    raise AssertionError("unreachable")  # pragma: no cover


def archive_metric(repo: MetricRepository, code: str) -> Metric:
    current = get_metric(repo, code)
    if current.archived:
        return current
    if current.in_use:
        raise Conflict(
            f"metric {code!r} is charged by plans {', '.join(current.used_by_plans)}",
            code="metric_in_use",
            param="code",
        )
    new = current.model_copy(
        update={"archived": True, "version": current.version + 1, "updated_at": clock.now()}
    )
    try:
        repo.update_unused(current, new)
    except Conflict:
        fresh = get_metric(repo, code)
        if fresh.in_use:
            raise Conflict(
                f"metric {code!r} is charged by a plan", code="metric_in_use", param="code"
            ) from None
        raise
    return new


# --------------------------------------------------------------------------- rules


def check_code(value: object, *, param: str) -> str:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise ValidationFailed(
            f"{param}: 1-64 letters, digits and . _ - (starting with a letter or digit)",
            code="invalid_code",
            param=param,
        )
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("name must not be blank", code="too_short", param="name")
    return value.strip()


def _measure(fields: Mapping[str, Any]) -> dict[str, Any]:
    filters = fields.get("filters") or {}
    if len(filters) > MAX_FILTERS:
        raise ValidationFailed(f"at most {MAX_FILTERS} filters", code="too_many_items", param="filters")
    for name, values in filters.items():
        if not _PROPERTY_RE.match(name):
            raise ValidationFailed(
                "a filter names an event property", code="invalid_filter", param=f"filters.{name}"
            )
        if len(values) > MAX_FILTER_VALUES:
            raise ValidationFailed(
                f"at most {MAX_FILTER_VALUES} values per filter",
                code="too_many_items",
                param=f"filters.{name}",
            )
    definition: dict[str, object] = {"aggregation": fields.get("aggregation"), "filters": filters}
    if fields.get("field") is not None:
        definition["field"] = fields["field"]
        if not isinstance(fields["field"], str) or not _PROPERTY_RE.match(fields["field"]):
            raise ValidationFailed(
                "field must be an event property name", code="invalid_field", param="field"
            )
    normalized = validate_aggregation(definition)
    group_by = fields.get("group_by")
    if group_by is not None and not _PROPERTY_RE.match(group_by):
        raise ValidationFailed(
            "group_by must be an event property name", code="invalid_group_by", param="group_by"
        )
    return {
        "aggregation": normalized["aggregation"],
        "field": normalized.get("field"),
        "filters": normalized["filters"],
        "group_by": group_by,
    }
