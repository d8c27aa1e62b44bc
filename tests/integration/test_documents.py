"""Invoice documents, the hosted page and delivery (notifier): DynamoDB Local, moto's SQS/S3/SES."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from billing import clock
from tests.integration.invoice_helpers import make_customer, one_off, sqs_event

pytestmark = pytest.mark.integration
NBSP = "\xa0"


@pytest.fixture
def frozen():
    frozen_clock = clock.FrozenClock(datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    previous = clock.set_clock(frozen_clock)
    yield frozen_clock
    clock.set_clock(previous)


@pytest.fixture
def german_invoice(call, admin_key, frozen):
    customer = make_customer(
        call,
        admin_key,
        name="Müller & Söhne GmbH",
        currency="eur",
        locale="de_DE",
        time_zone="Europe/Berlin",
        emails=["buchhaltung@mueller.example"],
        address={"country": "DE", "city": "Berlin", "postal_code": "10115", "line1": "Hauptstr. 1"},
    )
    invoice = one_off(
        call,
        admin_key,
        customer,
        lines=[{"description": "Jahreslizenz", "quantity": 1, "unit_amount": 123456}],
        auto_finalize=True,
    )
    assert invoice["status"] == "open", invoice
    return customer, invoice


def hosted(call, invoice):
    return call("GET", urlsplit(invoice["hosted_invoice_url"]).path)


def notifications_for(invoice_id: str, app_env) -> list[dict[str, object]]:
    """The Notifications messages about this invoice (others stay invisible for a while: nobody reads them)."""
    import boto3

    sqs = boto3.client("sqs")
    found = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=app_env["NOTIFICATIONS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            break
        found += [json.loads(m["Body"]) for m in batch]
    return [m for m in found if m.get("invoice_id") == invoice_id]


def notify(message):
    from local.functions import function_specs, invoke

    return invoke(function_specs()["NotifierFunction"], sqs_event([message]))


def mails_to(address: str) -> list[dict[str, object]]:
    from local.moto_server import sent_mail

    return [m for m in sent_mail() if address in (m.get("destinations") or {}).get("ToAddresses", [])]


# --------------------------------------------------------------------------- hosted page


def test_hosted_page_shows_the_invoice_localized_without_an_api_key(call, german_invoice):
    _, invoice = german_invoice
    status, headers, html = hosted(call, invoice)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert invoice["number"] in html
    assert f"1.234,56{NBSP}€" in html  # de_DE: dot for thousands, comma for decimals, € after
    assert "4. Mai 2026" in html  # issued, in German, in the customer's zone
    assert "3. Juni 2026" in html  # due 30 days later
    assert "Müller &amp; Söhne GmbH" in html  # autoescaped
    assert "Jahreslizenz" in html


def test_hosted_page_escapes_customer_data_and_follows_the_status(call, admin_key):
    customer = make_customer(call, admin_key, name="<script>alert(1)</script>")
    invoice = one_off(call, admin_key, customer, auto_finalize=True)
    _, _, html = hosted(call, invoice)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "due" in html
    assert call("POST", f"/v1/invoices/{invoice['id']}/pay", key=admin_key)[0] == 200
    _, _, html = hosted(call, invoice)
    assert "Paid on" in html


def test_unknown_or_malformed_tokens_get_a_plain_404_page(call):
    for path in ("/i/" + "A" * 32, "/i/not-a-token"):
        status, headers, html = call("GET", path)
        assert status == 404
        assert headers["content-type"].startswith("text/html")
        assert "Invoice not found" in html


def test_templates_can_be_overridden(tmp_path, app_env, german_invoice):
    from billing.models.account import AccountSettings
    from billing.repositories.invoices import InvoiceRepository
    from billing.services.documents import render_invoice

    _, invoice = german_invoice
    stored = InvoiceRepository(table_name=app_env["BILLING_TABLE"]).get(invoice["id"])
    (tmp_path / "invoice.html.j2").write_text(
        "CUSTOM {{ invoice.number }} {{ totals.total }} {{ seller.legal_name }} {{ customer.name }}"
    )
    html = render_invoice(stored, seller=AccountSettings(), templates_dir=str(tmp_path))
    # The seller frozen at finalization, whatever the current settings; customer data autoescaped.
    assert html == f"CUSTOM {invoice['number']} 1.234,56{NBSP}€ Test Seller Inc. Müller &amp; Söhne GmbH"
    default = render_invoice(stored, seller=AccountSettings())
    assert default.startswith("<!DOCTYPE html>") and "@page { size: A4" in default


# --------------------------------------------------------------------------- delivery


def test_finalization_enqueues_and_the_notifier_stores_the_document_and_emails_once(
    call, admin_key, app_env, german_invoice
):
    import boto3

    customer, invoice = german_invoice
    messages = notifications_for(invoice["id"], app_env)
    assert messages == [{"kind": "invoice_finalized", "invoice_id": invoice["id"]}]

    result = notify(messages[0])
    assert result == {"batchItemFailures": []}
    mails = mails_to("buchhaltung@mueller.example")
    mine = [m for m in mails if invoice["number"] in str(m["subject"])]
    assert len(mine) == 1
    mail = mine[0]
    assert mail["source"] == "Billing <billing@billing.local>"  # local.functions.LOCAL_PARAMETER_VALUES
    html = str(mail["body"])  # moto records the HTML part when there are both
    assert invoice["hosted_invoice_url"] in html and f"1.234,56{NBSP}€" in html
    assert "Müller &amp; Söhne GmbH" in html

    key = f"invoices/{customer['id']}/{invoice['id']}.html"
    obj = boto3.client("s3").get_object(Bucket=app_env["DOCUMENTS_BUCKET"], Key=key)
    assert obj["ContentType"].startswith("text/html")
    document = obj["Body"].read().decode()
    assert invoice["number"] in document and f"1.234,56{NBSP}€" in document

    # Redelivered (SQS is at-least-once): the sent-marker says sent, nothing goes out twice.
    assert notify(messages[0]) == {"batchItemFailures": []}
    assert (
        len([m for m in mails_to("buchhaltung@mueller.example") if invoice["number"] in str(m["subject"])])
        == 1
    )
    stored = call("GET", f"/v1/invoices/{invoice['id']}", key=admin_key)[2]
    assert stored["hosted_invoice_url"] == invoice["hosted_invoice_url"]


def test_the_email_has_a_text_part_with_the_same_facts(app_env, german_invoice):
    from billing.models.account import AccountSettings
    from billing.repositories.invoices import InvoiceRepository
    from billing.services.notifications import render_invoice_email

    _, invoice = german_invoice
    stored = InvoiceRepository(table_name=app_env["BILLING_TABLE"]).get(invoice["id"])
    subject, html, text = render_invoice_email(
        stored, seller=AccountSettings(), public_url="https://pay.example.com/"
    )
    assert invoice["number"] in subject and "Test Seller Inc." in subject
    assert f"https://pay.example.com/i/{stored.hosted_token}" in text
    assert f"1.234,56{NBSP}€" in text and "3. Juni 2026" in text
    assert "Müller & Söhne GmbH" in text  # plain text: not escaped
    assert "Müller &amp; Söhne GmbH" in html


def test_a_crash_before_the_marker_sends_again_at_least_once(app_env, call, admin_key):
    from billing.repositories import keys
    from billing.repositories.dynamo import table

    customer = make_customer(call, admin_key, emails=["twice@acme.example"])
    invoice = one_off(call, admin_key, customer, auto_finalize=True)
    message = {"kind": "invoice_finalized", "invoice_id": invoice["id"]}
    assert notify(message) == {"batchItemFailures": []}
    table(app_env["BILLING_TABLE"]).delete_item(
        Key=keys.notification_sent(invoice["id"], "invoice_finalized")
    )
    assert notify(message) == {"batchItemFailures": []}
    assert len(mails_to("twice@acme.example")) == 2


def test_no_recipient_or_void_skips_the_email_but_keeps_the_document(app_env, call, admin_key):
    import boto3

    from billing.repositories.notifications import NotificationRepository

    markers = NotificationRepository(table_name=app_env["BILLING_TABLE"])
    silent = make_customer(call, admin_key, emails=[], metadata={"payment_method_id": "pm_1"})
    charged = one_off(call, admin_key, silent, collection_method="charge_automatically", auto_finalize=True)
    assert charged["status"] == "open", charged
    assert notify({"kind": "invoice_finalized", "invoice_id": charged["id"]}) == {"batchItemFailures": []}
    assert markers.sent(charged["id"], "invoice_finalized")["outcome"] == "skipped_no_recipient"
    key = f"invoices/{silent['id']}/{charged['id']}.html"
    assert boto3.client("s3").head_object(Bucket=app_env["DOCUMENTS_BUCKET"], Key=key)["ContentLength"] > 0

    customer = make_customer(call, admin_key, emails=["voided@acme.example"])
    voided = one_off(call, admin_key, customer, auto_finalize=True)
    assert call("POST", f"/v1/invoices/{voided['id']}/void", key=admin_key)[0] == 200
    assert notify({"kind": "invoice_finalized", "invoice_id": voided["id"]}) == {"batchItemFailures": []}
    assert markers.sent(voided["id"], "invoice_finalized")["outcome"] == "skipped_void"
    assert mails_to("voided@acme.example") == []


def test_a_bad_message_fails_only_its_record(app_env, call, admin_key):
    from local.functions import function_specs, invoke

    customer = make_customer(call, admin_key, emails=["batch@acme.example"])
    good = one_off(call, admin_key, customer, auto_finalize=True)
    event = sqs_event(
        [{"kind": "invoice_finalized", "invoice_id": good["id"]}, {"kind": "nonsense"}],
        message_ids=["good", "bad"],
    )
    result = invoke(function_specs()["NotifierFunction"], event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(mails_to("batch@acme.example")) == 1
