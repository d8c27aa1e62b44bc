"""Billing runs in the BillingTable: the run (with its counters) and one outcome per job.

* ``BILLINGRUN#{id} / BILLINGRUN``: the run, on gsi1 under ``BILLINGRUNS`` sorted by
  ``{created_at}#{id}``. ``subscriptions_due``, ``jobs_enqueued`` and the outcome counters
  (``issued``, ``held``, ``skipped``, ``failed``) are changed only with ADD.
* ``BILLINGRUN#{id} / JOB#{customer_id}#{billing_date}``: what the job came to. A job's outcome and
  the run's counters change in one transaction, conditional on the outcome read, so a redelivered
  job never counts twice; a failed job that later succeeds moves from ``failed`` to its outcome.
"""

from __future__ import annotations

import builtins
import random
import time
from datetime import datetime
from typing import Any

from billing.errors import ValidationFailed
from billing.models.billing_runs import BillingRun, JobOutcome
from billing.repositories import dynamo, keys, transactions
from billing.repositories.transactions import TransactionConflict

_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "type")
_RECORD_ATTEMPTS = 12
_RANK = {"failed": 0, "skipped": 1, "held": 2, "issued": 2}
"""Which outcome a job's report keeps when deliveries disagree: the one that did the most. Two
deliveries of one job can run at once; the one that found the boundary billed already records
``skipped`` and may record it first, but the job did issue (or hold) an invoice."""


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dynamo.plain({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})
    return out


class BillingRunRepository:
    def __init__(self, *, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamo.table(self._table_name)

    def create(self, run: BillingRun) -> bool:
        """Write the run unless it exists (a retried scheduled invocation); True when written."""
        from botocore.exceptions import ClientError

        created = transactions.timestamp(run.created_at)
        item = {
            **keys.billing_run(run.id),
            **keys.billing_run_listing(created, run.id),
            "type": "billing_run",
            **run.model_dump(mode="json"),
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, run_id: str) -> BillingRun | None:
        item = self._table.get_item(Key=keys.billing_run(run_id), ConsistentRead=True).get("Item")
        return BillingRun.model_validate(_strip(item)) if item else None

    def list(
        self, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[BillingRun], dict[str, Any] | None]:
        """Runs, newest first."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(keys.BILLING_RUNS),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            if cursor.get("gsi1pk") != keys.BILLING_RUNS:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [BillingRun.model_validate(_strip(i)) for i in page.get("Items", [])], page.get(
            "LastEvaluatedKey"
        )

    def add(self, run_id: str, **counts: int) -> None:
        """ADD to the run's counters (``subscriptions_due``, ``jobs_enqueued``)."""
        if not counts:
            return
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":c{i}": value for i, value in enumerate(counts.values())}
        self._table.update_item(
            Key=keys.billing_run(run_id),
            UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts))),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def mark_enqueued(self, run_id: str, *, subscriptions_due: int, jobs_enqueued: int) -> None:
        """The fan-out is done (SET, not ADD: a retried run writes the same numbers)."""
        self._table.update_item(
            Key=keys.billing_run(run_id),
            UpdateExpression="SET #status = :enqueued, subscriptions_due = :due, jobs_enqueued = :jobs",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":enqueued": "enqueued",
                ":due": subscriptions_due,
                ":jobs": jobs_enqueued,
            },
        )

    def outcome(self, run_id: str, customer_id: str, billing_date: datetime) -> JobOutcome | None:
        key = keys.billing_job_outcome(run_id, customer_id, transactions.timestamp(billing_date))
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return JobOutcome.model_validate(_strip(item)) if item else None

    def list_outcomes(
        self, run_id: str, *, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[builtins.list[JobOutcome], dict[str, Any] | None]:
        from boto3.dynamodb.conditions import Key

        partition = keys.billing_run_partition(run_id)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(partition)
            & Key("sk").begins_with(keys.BILLING_JOB_PREFIX),
            "Limit": limit,
        }
        if cursor:
            if cursor.get("pk") != partition:
                raise ValidationFailed(
                    "cursor does not belong to this list", code="invalid_cursor", param="starting_after"
                )
            kwargs["ExclusiveStartKey"] = cursor
        page = self._table.query(**kwargs)
        return [JobOutcome.model_validate(_strip(i)) for i in page.get("Items", [])], page.get(
            "LastEvaluatedKey"
        )

    def record_outcome(self, outcome: JobOutcome) -> bool:
        """Record a job's outcome and count it on the run, once. A later outcome replaces an earlier
        one only when it did more (``_RANK``: a success replaces ``failed``, an issued or held invoice
        replaces ``skipped``), moving the run's counters in the same transaction. True when counted."""
        key = keys.billing_job_outcome(
            outcome.run_id, outcome.customer_id, transactions.timestamp(outcome.billing_date)
        )
        for attempt in range(_RECORD_ATTEMPTS):
            if attempt:  # another delivery recorded meanwhile: read again, after a jittered pause
                time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter
            current = self.outcome(outcome.run_id, outcome.customer_id, outcome.billing_date)
            if current is not None and _RANK.get(current.outcome, 2) >= _RANK.get(outcome.outcome, 2):
                return False
            put: dict[str, Any] = {
                "Item": {**key, "type": "billing_job_outcome", **outcome.model_dump(mode="json")},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            counter = "ADD #new :one"
            values: dict[str, Any] = {":one": 1}
            names = {"#new": outcome.outcome}
            if current is not None:
                put["ConditionExpression"] = "outcome = :previous"
                put["ExpressionAttributeValues"] = {":previous": current.outcome}
                counter += ", #old :minus"
                values[":minus"] = -1
                names["#old"] = current.outcome
            actions = [
                {"Put": put},
                {
                    "Update": {
                        "Key": keys.billing_run(outcome.run_id),
                        "UpdateExpression": counter,
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                },
            ]
            try:
                transactions.write(self._table_name, actions)
            except TransactionConflict as exc:
                if 1 in exc.failed:  # no such run (a job from a run that was never recorded)
                    return False
                continue  # another delivery recorded meanwhile: read again
            return True
        return False
