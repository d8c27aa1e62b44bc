"""Coupons: create, read, list, update (name, limits, metadata), archive.

The discount itself (``percent_off`` or ``amount_off`` + ``currency``, ``duration``,
``duration_in_periods``, ``applies_to``) is validated by ``billing.discounts.parse_coupon``, the
code that will apply it, and cannot change once created (as Stripe): create a new coupon.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from billing import clock
from billing.discounts import parse_coupon
from billing.errors import BillingError, Conflict, NotFound, ValidationFailed
from billing.models.catalog import Coupon, CouponAppliesTo
from billing.repositories.catalog import CouponRepository, MetricRepository, PlanRepository
from billing.services.customers import check_metadata
from billing.services.metrics import check_code

DISCOUNT_FIELDS = ("percent_off", "amount_off", "currency", "duration", "duration_in_periods", "applies_to")
EDITABLE_FIELDS = ("name", "max_redemptions", "redeem_by", "metadata")
FIELDS = frozenset({"code", *DISCOUNT_FIELDS, *EDITABLE_FIELDS})


def get_coupon(repo: CouponRepository, code: str) -> Coupon:
    coupon = repo.get(code)
    if coupon is None:
        raise NotFound(f"no coupon {code!r}", code="coupon_not_found", param="code")
    return coupon


def list_coupons(
    repo: CouponRepository, *, limit: int, cursor: dict[str, Any] | None, include_archived: bool = False
) -> tuple[list[Coupon], dict[str, Any] | None]:
    items, last = repo.list(limit=limit, cursor=cursor)
    return [c for c in items if include_archived or not c.archived], last


def create_coupon(
    repo: CouponRepository, *, plans: PlanRepository, metrics: MetricRepository, fields: Mapping[str, Any]
) -> Coupon:
    code = check_code(fields.get("code"), param="code")
    definition = {"id": code, **{k: fields[k] for k in DISCOUNT_FIELDS if fields.get(k) is not None}}
    try:
        parsed = parse_coupon(definition)
    except BillingError as error:
        if error.param == "id":
            error.param = "code"
        raise
    applies_to = None
    if parsed.applies_to is not None:
        applies_to = CouponAppliesTo(
            plans=sorted(parsed.applies_to.plans), metrics=sorted(parsed.applies_to.metrics)
        )
        _check_targets(fields.get("applies_to") or {}, plans=plans, metrics=metrics)
    now = clock.now()
    limits = _limits(fields, now=now)
    coupon = Coupon(
        code=code,
        name=_name(fields.get("name")),
        percent_off=parsed.percent_off,
        amount_off=parsed.amount_off,
        currency=parsed.currency,
        duration=parsed.duration.value,
        duration_in_periods=parsed.duration_in_periods,
        applies_to=applies_to,
        **limits,
        metadata=check_metadata(fields.get("metadata") or {}),
        created_at=now,
        updated_at=now,
    )
    repo.create(coupon)
    return coupon


def update_coupon(repo: CouponRepository, code: str, changes: Mapping[str, Any]) -> Coupon:
    current = get_coupon(repo, code)
    if current.archived:
        raise Conflict(f"coupon {code!r} is archived", code="coupon_archived", param="code")
    for name in changes:
        if name not in EDITABLE_FIELDS:
            raise ValidationFailed(
                f"{name} cannot change once a coupon exists: create a new coupon",
                code="immutable_field",
                param=name,
            )
    now = clock.now()
    update: dict[str, Any] = {}
    if "name" in changes:
        update["name"] = _name(changes["name"])
    if "max_redemptions" in changes or "redeem_by" in changes:
        limits = _limits({k: changes[k] for k in ("max_redemptions", "redeem_by") if k in changes}, now=now)
        update |= {k: v for k, v in limits.items() if k in changes}
        if update.get("max_redemptions") is not None and update["max_redemptions"] < current.times_redeemed:
            raise ValidationFailed(
                f"the coupon was already redeemed {current.times_redeemed} times",
                code="out_of_range",
                param="max_redemptions",
            )
    if "metadata" in changes:
        merged = {} if changes["metadata"] is None else {**current.metadata, **changes["metadata"]}
        update["metadata"] = check_metadata({k: v for k, v in merged.items() if v != ""})
    candidate = current.model_copy(update=update)
    if candidate == current:
        return current
    new = candidate.model_copy(update={"version": current.version + 1, "updated_at": now})
    try:
        repo.update(current, new)
    except Conflict:
        fresh = get_coupon(repo, code)
        if new.max_redemptions is not None and fresh.times_redeemed > new.max_redemptions:
            raise ValidationFailed(
                f"the coupon was already redeemed {fresh.times_redeemed} times",
                code="out_of_range",
                param="max_redemptions",
            ) from None
        raise
    return new


def archive_coupon(repo: CouponRepository, code: str) -> Coupon:
    """Archived coupons cannot be redeemed again; subscriptions that have one keep their discount."""
    current = get_coupon(repo, code)
    if current.archived:
        return current
    new = current.model_copy(
        update={"archived": True, "version": current.version + 1, "updated_at": clock.now()}
    )
    repo.update(current, new)
    return new


# --------------------------------------------------------------------------- rules


def _name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("name must not be blank", code="too_short", param="name")
    return value.strip()


def _limits(fields: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    max_redemptions = fields.get("max_redemptions")
    if max_redemptions is not None and max_redemptions < 1:
        raise ValidationFailed(
            "max_redemptions must be at least 1", code="out_of_range", param="max_redemptions"
        )
    redeem_by = fields.get("redeem_by")
    if redeem_by is not None:
        if redeem_by.tzinfo is None:
            raise ValidationFailed(
                "redeem_by needs a time zone (e.g. Z)", code="invalid_datetime", param="redeem_by"
            )
        if redeem_by <= now:
            raise ValidationFailed("redeem_by must be in the future", code="out_of_range", param="redeem_by")
    return {"max_redemptions": max_redemptions, "redeem_by": redeem_by}


def _check_targets(
    applies_to: Mapping[str, Any], *, plans: PlanRepository, metrics: MetricRepository
) -> None:
    """Plans and metrics a coupon is restricted to must exist (a typo would make it apply to nothing)."""
    for i, code in enumerate(applies_to.get("plans") or []):
        if plans.get(code) is None:
            raise ValidationFailed(f"no plan {code!r}", code="unknown_plan", param=f"applies_to.plans.{i}")
    metric_codes = list(applies_to.get("metrics") or [])
    found = metrics.get_many(metric_codes)
    for i, code in enumerate(metric_codes):
        if code not in found:
            raise ValidationFailed(
                f"no metric {code!r}", code="unknown_metric", param=f"applies_to.metrics.{i}"
            )
