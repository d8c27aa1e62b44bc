"""Every events/*.json is run through its handler (the same events `sam local invoke -e` takes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from local.functions import LambdaContext, function_specs, load_handler

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_BY_FOLDER = {spec.code_uri.name: spec for spec in function_specs().values()}

# What each sample must produce: a status code for HTTP events, or a predicate on the result.
EXPECTED = {
    "api/get_health.json": 200,
    # A token no invoice has: the plain 404 page, never a hint (test_documents.py opens real ones).
    "customer_pages/hosted_invoice_unknown_token.json": lambda r: (
        r["statusCode"] == 404 and "Invoice not found" in r["body"]
    ),
    # The PDF behind a token no invoice has: the same plain 404 page (test_pdf_documents.py serves real ones).
    "customer_pages/invoice_pdf_unknown_token.json": lambda r: (
        r["statusCode"] == 404 and "Invoice not found" in r["body"]
    ),
    # A portal link no session has: the plain 404 page, no data (test_portal.py opens real sessions).
    "customer_pages/portal_unknown_token.json": lambda r: (
        r["statusCode"] == 404 and "This link is not valid." in r["body"]
    ),
    "api/post_api_key.json": 201,
    "api/list_api_keys_as_usage_role.json": 403,
    # A read-only key exports a month's journal as CSV (test_journal_export.py checks the entries).
    "api/export_journal_csv.json": lambda r: (
        r["statusCode"] == 200 and r["body"].startswith("entry_id,date,kind,currency")
    ),
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
    # A credit note that does not exist: the record is reported failed, like an unknown invoice.
    "notifier/credit_note_issued.json": lambda r: (
        r == {"batchItemFailures": [{"itemIdentifier": "5b0c8f0e-3f4a-4a55-9d1e-0c6e2a7b91d3"}]}
    ),
    # A collection job for an invoice that does not exist: reported failed (retried, then the DLQ).
    "collector/collect.json": lambda r: (
        r == {"batchItemFailures": [{"itemIdentifier": "7c0d4a52-31f6-4f0e-9d0b-5a8e2f1c9b01"}]}
    ),
    # A real Stripe event with a made-up signature: refused (400, invalid_signature), nothing recorded.
    # test_payment_webhooks.py signs events with the test secret.
    "stripe_webhook/payment_intent_succeeded.json": 400,
    # The event names an invoice that does not exist: logged and acknowledged (no retry can help).
    "reconciliation/payment_event.json": lambda r: r == {"batchItemFailures": []},
    # A dunning run over whatever is due now: it only takes due steps and enqueues due retries.
    "dunning/scheduled.json": lambda r: (
        isinstance(r, dict) and {"due", "retries_enqueued", "steps", "resolved", "failed"} <= set(r)
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
def test_sample_runs_through_its_handler(sample, app_env, monkeypatch):
    folder = sample.split("/")[0]
    # The template names SSM parameters for the Stripe secrets; no SSM here: give the values (a
    # deployment without them answers 500, ConfigurationError), as the local stack does.
    for name in ("STRIPE_API_KEY_PARAM", "STRIPE_WEBHOOK_SECRET_PARAM"):
        monkeypatch.delenv(name, raising=False)
    if not os.environ.get("STRIPE_WEBHOOK_SECRET"):
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_samples")
    if not os.environ.get("STRIPE_API_KEY"):
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_samples")
    spec = FUNCTION_BY_FOLDER[folder]
    event = json.loads((EVENTS / sample).read_text())
    result = load_handler(spec)(event, LambdaContext(spec))
    expected = EXPECTED[sample]
    if callable(expected):
        assert expected(result), result
    else:
        assert result["statusCode"] == expected, result
