"""The InvoiceJobs queue: one message per (customer, billing date), sent in batches of 10."""

from __future__ import annotations

import json
from collections.abc import Sequence

from billing.errors import ProviderUnavailable
from billing.gateways.aws import client
from billing.models.billing_runs import InvoiceJob

BATCH = 10
"""SQS's limit of entries in one SendMessageBatch."""


class InvoiceJobQueue:
    def __init__(self, *, url: str) -> None:
        self.url = url

    def send(self, jobs: Sequence[InvoiceJob]) -> int:
        """Enqueue every job (retrying the entries SQS refused once); returns how many were sent.

        Raises ``ProviderUnavailable`` when some could not be sent: the caller's run is retried and
        the worker's idempotency makes a job sent twice harmless."""
        from botocore.exceptions import BotoCoreError, ClientError

        sent = 0
        for start in range(0, len(jobs), BATCH):
            chunk = list(jobs[start : start + BATCH])
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(job.model_dump(mode="json"), sort_keys=True)}
                for i, job in enumerate(chunk)
            ]
            for _ in range(3):
                try:
                    answer = client("sqs").send_message_batch(QueueUrl=self.url, Entries=entries)
                except (BotoCoreError, ClientError) as exc:
                    raise ProviderUnavailable(f"enqueueing invoice jobs failed: {exc}") from exc
                sent += len(answer.get("Successful", []))
                failed = {f["Id"] for f in answer.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise ProviderUnavailable(f"{len(entries)} invoice job(s) could not be enqueued")
        return sent
