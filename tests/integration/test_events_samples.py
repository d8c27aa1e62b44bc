"""Every events/*.json is run through its handler (the same events `sam local invoke -e` takes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.functions import LambdaContext, function_specs, load_handler

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_BY_FOLDER = {spec.code_uri.name: spec for spec in function_specs().values()}

# What each sample must produce: a status code for HTTP events, or a predicate on the result.
EXPECTED = {
    "api/get_health.json": 200,
    "api/post_api_key.json": 201,
    "api/list_api_keys_as_usage_role.json": 403,
    "authorizer/unknown_key.json": lambda r: (
        r == {"isAuthorized": True, "context": {"authenticated": "false"}}
    ),
    # The usage samples name a customer and metrics that test_usage_intake.py creates (with the clock
    # frozen at their timestamps) and checks them stored; here: answered, never a 5xx.
    "usage_intake/post_event.json": lambda r: r["statusCode"] in (202, 422),
    "usage_intake/post_batch.json": 202,
    # A run over whatever is due now (the sample's time names the run); it only fans out.
    "billing_run/scheduled.json": lambda r: r["run_id"].startswith("br_") and r["jobs_enqueued"] >= 0,
    # A job for a customer that does not exist: reported failed (SQS retries, then the DLQ), not raised.
    "invoice_worker/sqs_batch.json": lambda r: (
        r == {"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]}
    ),
    # The sample names an invoice that does not exist: the record is reported failed (it is retried,
    # then dead-lettered), the batch itself does not crash. test_documents.py delivers real ones.
    "notifier/invoice_finalized.json": lambda r: (
        r == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}
    ),
    "invoice_finalizer/hourly.json": lambda r: (
        isinstance(r, dict) and {"finalized", "held", "failed", "notifications_requeued"} <= set(r)
    ),
}


def all_samples() -> list[str]:
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))


def test_every_sample_has_an_expectation():
    missing = set(all_samples()) - set(EXPECTED)
    assert not missing, f"add an expectation for {sorted(missing)}"


@pytest.mark.parametrize("sample", all_samples())
def test_sample_runs_through_its_handler(sample, app_env):
    folder = sample.split("/")[0]
    spec = FUNCTION_BY_FOLDER[folder]
    event = json.loads((EVENTS / sample).read_text())
    result = load_handler(spec)(event, LambdaContext(spec))
    expected = EXPECTED[sample]
    if callable(expected):
        assert expected(result), result
    else:
        assert result["statusCode"] == expected, result
