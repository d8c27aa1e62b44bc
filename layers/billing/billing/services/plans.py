"""Plans: create, read (current or any version), list, update (versioned), archive.

A plan is versioned, never edited in place where it matters: every change of a field that
affects what is billed (``PRICE_FIELDS``) creates version n+1, which new subscriptions get;
subscriptions keep the version they pinned. Name, description and metadata change in place.

Usage charges reference metrics by code. A charge is ``{"metric": code, "model": ..., ...}``:
everything but ``metric`` is validated by ``billing.rating.validate_charge`` (errors rebased
under ``charges.N.``) and stored normalized, ready for ``billing.rating.rate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billing import clock
from billing.errors import BillingError, Conflict, NotFound, ValidationFailed
from billing.models.catalog import Plan, PlanCharge
from billing.money import normalize_currency
from billing.rating import validate_charge
from billing.repositories.catalog import MetricRepository, PlanRepository, UnknownMetrics
from billing.services.customers import check_metadata
from billing.services.metrics import check_code

PRICE_FIELDS = (
    "interval", "interval_count", "currency", "amount", "pay_in_advance", "trial_days", "minimum_commitment",
    "charges",
)  # fmt: skip
TEXT_FIELDS = ("name", "description", "metadata")
FIELDS = frozenset({"code", *PRICE_FIELDS, *TEXT_FIELDS})
MAX_CHARGES = 50
MAX_TRIAL_DAYS = 730
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
"""At most three years per period (as Stripe)."""
MAX_AMOUNT = 10**15
"""Upper bound of any amount in minor units (a typo guard, far above any real price)."""


def get_plan(repo: PlanRepository, code: str, *, version: int | None = None) -> Plan:
    plan = repo.get(code, version)
    if plan is None:
        if version is not None and repo.get(code) is not None:
            raise NotFound(
                f"plan {code!r} has no version {version}", code="plan_version_not_found", param="version"
            )
        raise NotFound(f"no plan {code!r}", code="plan_not_found", param="code")
    return plan


def list_plans(
    repo: PlanRepository, *, limit: int, cursor: dict[str, Any] | None, include_archived: bool = False
) -> tuple[list[Plan], dict[str, Any] | None]:
    items, last = repo.list(limit=limit, cursor=cursor)
    return [p for p in items if include_archived or not p.archived], last


def list_plan_versions(
    repo: PlanRepository, code: str, *, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[Plan], dict[str, Any] | None]:
    get_plan(repo, code)
    return repo.list_versions(code, limit=limit, cursor=cursor)


def create_plan(repo: PlanRepository, metrics: MetricRepository, fields: Mapping[str, Any]) -> Plan:
    code = check_code(fields.get("code"), param="code")
    for required in ("name", "interval", "currency"):
        if fields.get(required) is None:
            raise ValidationFailed(f"{required} is required", code="missing_field", param=required)
    definition = _definition(fields, metrics)
    now = clock.now()
    plan = Plan(
        code=code,
        version=1,
        current_version=1,
        **definition,
        version_created_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        repo.create(plan)
    except UnknownMetrics as exc:
        raise _unknown_metric(plan.charges, exc.codes) from None
    return plan


def update_plan(
    repo: PlanRepository, metrics: MetricRepository, code: str, changes: Mapping[str, Any]
) -> Plan:
    """A price change makes a new version (returned); a text-only change edits in place."""
    current = get_plan(repo, code)
    if current.archived:
        raise Conflict(f"plan {code!r} is archived", code="plan_archived", param="code")
    if "code" in changes:
        raise ValidationFailed("a plan's code cannot change", code="immutable_field", param="code")
    for required in (
        "name",
        "interval",
        "currency",
        "interval_count",
        "amount",
        "pay_in_advance",
        "trial_days",
    ):
        if required in changes and changes[required] is None:
            raise ValidationFailed(f"{required} cannot be null", code="invalid_value", param=required)
    merged: dict[str, Any] = {
        **{name: getattr(current, name) for name in (*PRICE_FIELDS, *TEXT_FIELDS) if name != "charges"},
        "charges": [{"metric": c.metric, **c.definition} for c in current.charges],
        **changes,
    }
    if "metadata" in changes:
        merged["metadata"] = (
            {} if changes["metadata"] is None else {**current.metadata, **changes["metadata"]}
        )
        merged["metadata"] = {k: v for k, v in merged["metadata"].items() if v != ""}
    definition = _definition(merged, metrics, only_new_metrics=current.metric_codes)
    now = clock.now()
    price_changed = any(definition[f] != getattr(current, f) for f in PRICE_FIELDS)
    text_changed = any(definition[f] != getattr(current, f) for f in TEXT_FIELDS)
    if price_changed:
        new = current.model_copy(
            update={
                **definition,
                "version": current.current_version + 1,
                "current_version": current.current_version + 1,
                "version_created_at": now,
                "updated_at": now,
                "revision": current.revision + 1,
            }
        )
        try:
            repo.add_version(current, new)
        except UnknownMetrics as exc:
            raise _unknown_metric(new.charges, exc.codes) from None
        return new
    if text_changed:
        new = current.model_copy(update={**definition, "updated_at": now, "revision": current.revision + 1})
        repo.update_in_place(current, new)
        return new
    return current


def archive_plan(repo: PlanRepository, code: str) -> Plan:
    current = get_plan(repo, code)
    if current.archived:
        return current
    now = clock.now()
    repo.archive(current, at=now)
    return current.model_copy(update={"archived": True, "updated_at": now, "revision": current.revision + 1})


# --------------------------------------------------------------------------- rules


def _definition(
    fields: Mapping[str, Any], metrics: MetricRepository, *, only_new_metrics: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Every versioned and text field, checked and normalized (defaults filled in)."""
    unknown = [k for k in fields if k not in FIELDS]
    if unknown:
        raise ValidationFailed(f"unknown field {unknown[0]!r}", code="unknown_field", param=unknown[0])
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("name must not be blank", code="too_short", param="name")
    interval = fields["interval"]
    interval_count = fields.get("interval_count", 1)
    if not 1 <= interval_count <= MAX_INTERVAL_COUNT[interval]:
        raise ValidationFailed(
            f"interval_count for {interval} must be 1 to {MAX_INTERVAL_COUNT[interval]} (at most three years)",
            code="out_of_range",
            param="interval_count",
        )
    currency = normalize_currency(fields["currency"], param="currency")
    amount = _amount(fields.get("amount", 0), param="amount")
    minimum = fields.get("minimum_commitment")
    if minimum is not None:
        _amount(minimum, param="minimum_commitment")
    trial_days = fields.get("trial_days", 0)
    if not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise ValidationFailed(
            f"trial_days must be 0 to {MAX_TRIAL_DAYS}", code="out_of_range", param="trial_days"
        )
    return {
        "name": name.strip(),
        "description": fields.get("description"),
        "metadata": check_metadata(fields.get("metadata") or {}),
        "interval": interval,
        "interval_count": interval_count,
        "currency": currency,
        "amount": amount,
        "pay_in_advance": fields.get("pay_in_advance", False),
        "trial_days": trial_days,
        "minimum_commitment": minimum,
        "charges": _charges(fields.get("charges") or [], metrics, only_new_metrics),
    }


def _amount(value: int, *, param: str) -> int:
    if not 0 <= value <= MAX_AMOUNT:
        raise ValidationFailed(
            f"{param} must be 0 to {MAX_AMOUNT} minor units", code="out_of_range", param=param
        )
    return value


def _charges(
    raw: Sequence[Mapping[str, Any]], metrics: MetricRepository, keep: frozenset[str]
) -> list[PlanCharge]:
    if len(raw) > MAX_CHARGES:
        raise ValidationFailed(f"at most {MAX_CHARGES} charges", code="too_many_items", param="charges")
    charges: list[PlanCharge] = []
    for i, raw_charge in enumerate(raw):
        metric = raw_charge.get("metric")
        if not isinstance(metric, str) or not metric:
            raise ValidationFailed(
                "a charge needs the metric it prices", code="missing_field", param=f"charges.{i}.metric"
            )
        try:
            definition = validate_charge({k: v for k, v in raw_charge.items() if k != "metric"})
        except BillingError as error:
            error.param = f"charges.{i}.{error.param}" if error.param else f"charges.{i}"
            raise
        charges.append(PlanCharge(metric=metric, definition=definition))
    # Metrics the plan already charges stay valid (even archived since: the version is history).
    wanted = {c.metric for c in charges} - keep
    found = metrics.get_many(wanted)
    for i, charge in enumerate(charges):
        if charge.metric in wanted:
            metric_model = found.get(charge.metric)
            if metric_model is None:
                raise _unknown_metric(charges, [charge.metric])
            if metric_model.archived:
                raise ValidationFailed(
                    f"metric {charge.metric!r} is archived",
                    code="metric_archived",
                    param=f"charges.{i}.metric",
                )
    return charges


def _unknown_metric(charges: Sequence[PlanCharge], codes: Sequence[str]) -> ValidationFailed:
    index = next((i for i, c in enumerate(charges) if c.metric in codes), 0)
    return ValidationFailed(
        f"no metric {charges[index].metric!r} (create it first with POST /v1/metrics)",
        code="unknown_metric",
        param=f"charges.{index}.metric",
    )
