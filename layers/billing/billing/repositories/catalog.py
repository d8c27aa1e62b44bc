"""The catalog in the BillingTable: metrics, plans (head + versions), coupons, tax rates.

Items (keys from ``keys``; access patterns in docs/data-model.md):

* ``METRIC#{code} / METRIC`` (gsi1 ``METRICS``/code). ``used_by_plans`` is a string set of the
  plans whose *current* version charges the metric; plan writes maintain it in their transaction.
* ``PLAN#{code} / PLAN``: the head (gsi1 ``PLANS``/code): current version number, a copy of the
  current definition, ``archived``, ``subscriptions_count``, ``revision`` (optimistic lock).
* ``PLAN#{code} / VERSION#{n:06d}``: each version's definition, written once, never changed
  except its name/description/metadata while it is current.
* ``COUPON#{code} / COUPON`` (gsi1 ``COUPONS``/code), ``TAXRATE#{id} / TAXRATE`` (gsi1 ``TAXRATES``/id).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from billing.errors import Conflict, ValidationFailed
from billing.models.catalog import Coupon, Metric, Plan, TaxRate
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")

PLAN_HEAD_FIELDS = frozenset(
    {"current_version", "archived", "subscriptions_count", "created_at", "updated_at", "revision"}
)
"""Plan-level attributes (on the head only); every other field of ``Plan`` is per version."""
PLAN_TEXT_FIELDS = frozenset({"name", "description", "metadata"})
"""Fields a plan changes in place (on the head and its current version); others make a new version."""


def _dump(model: BaseModel, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude=set(exclude))


def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dynamo.plain(dict(item)).items() if k not in _KEY_ATTRIBUTES}


def _list_query(
    table: Any, *, partition: str, limit: int, cursor: dict[str, Any] | None, forward: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    from boto3.dynamodb.conditions import Key

    kwargs: dict[str, Any] = {
        "IndexName": "gsi1",
        "KeyConditionExpression": Key("gsi1pk").eq(partition),
        "ScanIndexForward": forward,
        "Limit": limit,
    }
    if cursor:
        if cursor.get("gsi1pk") != partition:
            raise ValidationFailed(
                "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
            )
        kwargs["ExclusiveStartKey"] = cursor
    page = table.query(**kwargs)
    return page.get("Items", []), page.get("LastEvaluatedKey")


class _Repository[M: BaseModel]:
    """get / list / create / versioned update of one item type keyed by a code."""

    model: type[M]
    type_name: str
    partition: str
    taken_code: str
    id_field: str = "code"
    key: Callable[[str], dict[str, str]]
    listing: Callable[[str], dict[str, str]]

    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def _to_model(self, item: Mapping[str, Any]) -> M:
        return self.model.model_validate(_strip(item))

    def get(self, code: str) -> M | None:
        item = self._table.get_item(Key=type(self).key(code), ConsistentRead=True).get("Item")
        return self._to_model(item) if item else None

    def get_many(self, codes: Iterable[str]) -> dict[str, M]:
        """The items that exist among ``codes`` (one BatchGetItem per 100)."""
        wanted = list(dict.fromkeys(codes))
        found: dict[str, M] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self._table_name: {
                    "Keys": [type(self).key(c) for c in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                result = dynamo.dynamodb_resource().batch_get_item(RequestItems=request)
                for item in result.get("Responses", {}).get(self._table_name, []):
                    model = self._to_model(item)
                    found[str(getattr(model, self.id_field))] = model
                request = result.get("UnprocessedKeys") or {}
        return found

    def list(self, *, limit: int, cursor: dict[str, Any] | None) -> tuple[list[M], dict[str, Any] | None]:
        """Every item, archived ones included, in code order."""
        items, last = _list_query(self._table, partition=self.partition, limit=limit, cursor=cursor)
        return [self._to_model(i) for i in items], last

    def _item(self, model: M) -> dict[str, Any]:
        code = str(getattr(model, self.id_field))
        return {**type(self).key(code), **type(self).listing(code), "type": self.type_name, **_dump(model)}

    def create(self, model: M) -> None:
        code = str(getattr(model, self.id_field))
        with dynamo.conditional(
            Conflict(
                f"a {self.type_name.replace('_', ' ')} {code!r} exists",
                code=self.taken_code,
                param=self.id_field,
            )
        ):
            self._table.put_item(Item=self._item(model), ConditionExpression="attribute_not_exists(pk)")

    def update(
        self,
        current: M,
        new: M,
        *,
        extra_condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write ``new`` over ``current`` if its ``version`` is still the one read (else ``concurrent_update``).

        Attributes written by others (counters, sets) are left alone: only the model's fields
        that differ, ``updated_at`` and ``version`` are set."""
        before, after = _dump(current), _dump(new)
        changed = [
            name for name in after if after[name] != before.get(name) or name in ("updated_at", "version")
        ]
        names = {f"#f{i}": name for i, name in enumerate(changed)}
        attr_values: dict[str, Any] = {f":f{i}": after[name] for i, name in enumerate(changed)}
        attr_values |= {":expected": getattr(current, "version"), **(values or {})}  # noqa: B009 - generic model
        names["#version"] = "version"
        condition = "attribute_exists(pk) AND #version = :expected"
        if extra_condition:
            condition += f" AND ({extra_condition})"
        with dynamo.conditional(
            Conflict(
                f"the {self.type_name.replace('_', ' ')} changed meanwhile; retry", code="concurrent_update"
            )
        ):
            self._table.update_item(
                Key=type(self).key(str(getattr(current, self.id_field))),
                UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(changed))),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )


# --------------------------------------------------------------------------- metrics


class MetricRepository(_Repository[Metric]):
    model = Metric
    type_name = "metric"
    partition = keys.METRICS
    taken_code = "metric_code_taken"
    key = staticmethod(keys.metric)
    listing = staticmethod(keys.metric_listing)

    def _item(self, model: Metric) -> dict[str, Any]:
        item = super()._item(model)
        item.pop("used_by_plans", None)  # a string set maintained by plan transactions
        if model.used_by_plans:
            item["used_by_plans"] = set(model.used_by_plans)
        return item

    def _to_model(self, item: Mapping[str, Any]) -> Metric:
        data = _strip(item)
        data["used_by_plans"] = sorted(data.get("used_by_plans") or ())
        return Metric.model_validate(data)

    def update(
        self,
        current: Metric,
        new: Metric,
        *,
        extra_condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """``used_by_plans`` is never written here; ``require_unused`` is the caller's business."""
        super().update(
            current.model_copy(update={"used_by_plans": []}),
            new.model_copy(update={"used_by_plans": []}),
            extra_condition=extra_condition,
            values=values,
        )

    def update_unused(self, current: Metric, new: Metric) -> None:
        """Update only if no plan uses the metric (checked in the same write)."""
        self.update(current, new, extra_condition="attribute_not_exists(used_by_plans)")


def _metric_used(metric_code: str, plan_code: str) -> dict[str, Any]:
    return {
        "Update": {
            "Key": keys.metric(metric_code),
            "UpdateExpression": "ADD used_by_plans :plan",
            "ConditionExpression": "attribute_exists(pk) AND archived = :false",
            "ExpressionAttributeValues": {":plan": {plan_code}, ":false": False},
        }
    }


def _metric_unused(metric_code: str, plan_code: str) -> dict[str, Any]:
    return {
        "Update": {
            "Key": keys.metric(metric_code),
            "UpdateExpression": "DELETE used_by_plans :plan",
            "ExpressionAttributeValues": {":plan": {plan_code}},
        }
    }


class UnknownMetrics(Exception):
    """A plan write referenced metrics that do not exist or are archived (raced with the check)."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = list(codes)


# --------------------------------------------------------------------------- plans


class PlanRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def get(self, code: str, version: int | None = None) -> Plan | None:
        """The current version by default, or the given one (with the plan's current state)."""
        head = self._table.get_item(Key=keys.plan(code), ConsistentRead=True).get("Item")
        if not head:
            return None
        head_data = _strip(head)
        if version is None or version == head_data["current_version"]:
            return Plan.model_validate(head_data)
        item = self._table.get_item(Key=keys.plan_version(code, version), ConsistentRead=True).get("Item")
        if not item:
            return None
        return Plan.model_validate(
            {**_strip(item), **{k: v for k, v in head_data.items() if k in PLAN_HEAD_FIELDS}, "code": code}
        )

    def list(self, *, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Plan], dict[str, Any] | None]:
        """Every plan (current versions), archived included, in code order."""
        items, last = _list_query(self._table, partition=keys.PLANS, limit=limit, cursor=cursor)
        return [Plan.model_validate(_strip(i)) for i in items], last

    def list_versions(
        self, code: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[Plan], dict[str, Any] | None]:
        """The plan's versions, newest first."""
        from boto3.dynamodb.conditions import Key

        head = self._table.get_item(Key=keys.plan(code), ConsistentRead=True).get("Item")
        if not head:
            return [], None
        head_fields = {k: v for k, v in _strip(head).items() if k in PLAN_HEAD_FIELDS}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.plan_partition(code))
            & Key("sk").begins_with(keys.PLAN_VERSION_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        if cursor:
            if cursor.get("pk") != keys.plan_partition(code):
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        plans = [
            Plan.model_validate({**_strip(i), **head_fields, "code": code}) for i in page.get("Items", [])
        ]
        return plans, page.get("LastEvaluatedKey")

    def create(self, plan: Plan) -> None:
        """Head + version 1 + the metrics' ``used_by_plans``, in one transaction.

        Raises ``Conflict`` ``plan_code_taken`` or ``UnknownMetrics``."""
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "Item": {
                        **keys.plan(plan.code),
                        **keys.plan_listing(plan.code),
                        "type": "plan",
                        **_dump(plan),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put_version(plan),
        ]
        metrics = sorted(plan.metric_codes)
        actions += [_metric_used(m, plan.code) for m in metrics]
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            if 0 in exc.failed or 1 in exc.failed:
                raise Conflict(f"a plan {plan.code!r} exists", code="plan_code_taken", param="code") from exc
            unknown = [metrics[i - 2] for i in exc.failed if i >= 2]
            if unknown:
                raise UnknownMetrics(unknown) from exc
            raise Conflict("the plan changed meanwhile; retry", code="concurrent_update") from exc

    def add_version(self, current: Plan, new: Plan) -> None:
        """Make ``new`` (``version`` = current + 1) the current version; move metric references.

        Raises ``Conflict`` ``concurrent_update`` or ``UnknownMetrics``."""
        assert new.version == current.current_version + 1 and new.current_version == new.version
        assert new.revision == current.revision + 1
        head = {k: v for k, v in _dump(new).items() if k not in ("code", "created_at", "subscriptions_count")}
        names = {f"#f{i}": k for i, k in enumerate(head)}
        values: dict[str, Any] = {f":f{i}": v for i, v in enumerate(head.values())}
        values |= {":revision": current.revision, ":false": False}
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": keys.plan(current.code),
                    "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(head))),
                    "ConditionExpression": "attribute_exists(pk) AND #rev = :revision AND archived = :false",
                    "ExpressionAttributeNames": {**names, "#rev": "revision"},
                    "ExpressionAttributeValues": values,
                }
            },
            _put_version(new),
        ]
        added = sorted(new.metric_codes - current.metric_codes)
        removed = sorted(current.metric_codes - new.metric_codes)
        actions += [_metric_used(m, current.code) for m in added]
        actions += [_metric_unused(m, current.code) for m in removed]
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            unknown = [added[i - 2] for i in exc.failed if 2 <= i < 2 + len(added)]
            if unknown and 0 not in exc.failed:
                raise UnknownMetrics(unknown) from exc
            raise Conflict(
                "the plan changed meanwhile; read it again and retry", code="concurrent_update"
            ) from exc

    def update_in_place(self, current: Plan, new: Plan) -> None:
        """Name, description, metadata: on the head and on the current version, same version number."""
        changes = {k: v for k, v in _dump(new).items() if k in PLAN_TEXT_FIELDS}
        names = {f"#f{i}": k for i, k in enumerate(changes)}
        values = {f":f{i}": v for i, v in enumerate(changes.values())}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(changes)))
        actions = [
            {
                "Update": {
                    "Key": keys.plan(current.code),
                    "UpdateExpression": f"SET {sets}, #rev = :new_revision, updated_at = :at",
                    "ConditionExpression": "attribute_exists(pk) AND #rev = :revision AND archived = :false "
                    "AND current_version = :version",
                    "ExpressionAttributeNames": {**names, "#rev": "revision"},
                    "ExpressionAttributeValues": {
                        **values,
                        ":revision": current.revision,
                        ":new_revision": new.revision,
                        ":at": _dump(new)["updated_at"],
                        ":false": False,
                        ":version": current.current_version,
                    },
                }
            },
            {
                "Update": {
                    "Key": keys.plan_version(current.code, current.current_version),
                    "UpdateExpression": f"SET {sets}",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
        ]
        try:
            transactions.write(self._table_name, actions)
        except TransactionConflict as exc:
            raise Conflict(
                "the plan changed meanwhile; read it again and retry", code="concurrent_update"
            ) from exc

    def archive(self, current: Plan, *, at: datetime) -> None:
        """Archived plans take no new subscriptions and no new versions; their metrics stay in use
        (existing subscriptions keep billing them)."""
        with dynamo.conditional(Conflict("the plan changed meanwhile; retry", code="concurrent_update")):
            self._table.update_item(
                Key=keys.plan(current.code),
                UpdateExpression="SET archived = :true, updated_at = :at, #rev = :new_revision",
                ConditionExpression="attribute_exists(pk) AND #rev = :revision",
                ExpressionAttributeNames={"#rev": "revision"},
                ExpressionAttributeValues={
                    ":true": True,
                    ":at": transactions.timestamp(at),
                    ":revision": current.revision,
                    ":new_revision": current.revision + 1,
                },
            )

    def adjust_subscriptions(self, code: str, delta: int) -> None:
        """For subscriptions: count one more (+1) or one fewer (-1) subscription on the plan."""
        with dynamo.conditional(Conflict(f"no plan {code!r}", code="plan_not_found")):
            self._table.update_item(
                Key=keys.plan(code),
                UpdateExpression="SET subscriptions_count = if_not_exists(subscriptions_count, :zero) + :delta",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":zero": 0, ":delta": delta},
            )


def _put_version(plan: Plan) -> dict[str, Any]:
    definition = {k: v for k, v in _dump(plan).items() if k not in PLAN_HEAD_FIELDS}
    return {
        "Put": {
            "Item": {**keys.plan_version(plan.code, plan.version), "type": "plan_version", **definition},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


# --------------------------------------------------------------------------- coupons


class CouponRepository(_Repository[Coupon]):
    model = Coupon
    type_name = "coupon"
    partition = keys.COUPONS
    taken_code = "coupon_code_taken"
    key = staticmethod(keys.coupon)
    listing = staticmethod(keys.coupon_listing)

    def update(
        self,
        current: Coupon,
        new: Coupon,
        *,
        extra_condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """``times_redeemed`` is counted by ``redeem``, never written here; a new ``max_redemptions``
        must stay at or above it (checked in the write)."""
        current = current.model_copy(update={"times_redeemed": 0})
        new = new.model_copy(update={"times_redeemed": 0})
        if new.max_redemptions is not None:
            extra_condition = "times_redeemed <= :max"
            values = {":max": new.max_redemptions}
        super().update(current, new, extra_condition=extra_condition, values=values)

    def redeem(self, code: str, *, at: datetime) -> None:
        """For subscriptions: count one redemption if the coupon is still redeemable at ``at``."""
        with dynamo.conditional(
            Conflict(f"coupon {code!r} is not redeemable", code="coupon_not_redeemable", param="coupon")
        ):
            self._table.update_item(
                Key=keys.coupon(code),
                UpdateExpression="SET times_redeemed = times_redeemed + :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND archived = :false "
                    "AND (attribute_type(max_redemptions, :null) OR times_redeemed < max_redemptions) "
                    "AND (attribute_type(redeem_by, :null) OR redeem_by > :at)"
                ),
                ExpressionAttributeValues={
                    ":one": 1,
                    ":false": False,
                    ":null": "NULL",
                    ":at": _dump_datetime(at),
                },
            )


def _dump_datetime(at: datetime) -> str:
    # The same text form pydantic gives the stored ``redeem_by`` (so the comparison is textual and exact).
    from pydantic import TypeAdapter

    return str(TypeAdapter(datetime).dump_python(at, mode="json"))


# --------------------------------------------------------------------------- tax rates


class TaxRateRepository(_Repository[TaxRate]):
    model = TaxRate
    type_name = "tax_rate"
    partition = keys.TAX_RATES
    taken_code = "tax_rate_id_taken"
    id_field = "id"
    key = staticmethod(keys.tax_rate)
    listing = staticmethod(keys.tax_rate_listing)

    def is_seeded(self, fingerprint: str) -> bool:
        return "Item" in self._table.get_item(Key=keys.tax_rate_seed_marker(fingerprint), ConsistentRead=True)

    def seed(self, rates: Iterable[TaxRate], *, fingerprint: str, at: datetime) -> int:
        """Write the shipped rates: new ids, and shipped rates nobody changed (``origin`` default,
        ``version`` 1). Rates created or edited through the API are never overwritten.
        Idempotent and safe to run concurrently. Returns how many rates were written."""
        from botocore.exceptions import ClientError

        written = 0
        for rate in rates:
            try:
                self._table.put_item(
                    Item=self._item(rate),
                    ConditionExpression="attribute_not_exists(pk) OR (origin = :default AND #version = :one)",
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues={":default": "default", ":one": 1},
                )
                written += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        self._table.put_item(
            Item={
                **keys.tax_rate_seed_marker(fingerprint),
                "type": "seed_marker",
                "at": transactions.timestamp(at),
            }
        )
        return written
