"""PDFs of invoices and credit notes through the real path: API -> DynamoDB Local -> Notifications
(moto SQS) -> notifier -> S3 (moto) -> customer_pages; credit note emails (moto SES)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from billing import clock
from tests.integration.invoice_helpers import make_customer, one_off, sqs_event

pytestmark = pytest.mark.integration
NNBSP = "\u202f"
NBSP = "\xa0"


@pytest.fixture
def frozen():
    frozen_clock = clock.FrozenClock(datetime(2026, 5, 4, 9, 30, tzinfo=UTC))
    previous = clock.set_clock(frozen_clock)
    yield frozen_clock
    clock.set_clock(previous)


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def fetch(gateway, url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a public URL through the local API Gateway (raw bytes: PDFs are binary)."""
    return gateway.handle("GET", urlsplit(url).path, {}, None)


def messages_about(app_env, **subject: str) -> list[dict[str, object]]:
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
    return [m for m in found if all(m.get(k) == v for k, v in subject.items())]


def notify(message):
    from local.functions import function_specs, invoke

    return invoke(function_specs()["NotifierFunction"], sqs_event([message]))


def mails_to(address: str) -> list[dict[str, object]]:
    from local.moto_server import sent_mail

    return [m for m in sent_mail() if address in (m.get("destinations") or {}).get("ToAddresses", [])]


def stored(app_env, key: str) -> tuple[str, bytes]:
    import boto3

    obj = boto3.client("s3").get_object(Bucket=app_env["DOCUMENTS_BUCKET"], Key=key)
    return obj["ContentType"], obj["Body"].read()


@pytest.fixture
def french_invoice(call, admin_key, frozen):
    customer = make_customer(
        call,
        admin_key,
        name="株式会社山田商事",
        currency="eur",
        locale="fr_FR",
        time_zone="Europe/Paris",
        emails=["compta@yamada.example"],
        address={"country": "FR", "city": "Paris", "postal_code": "75002", "line1": "1 rue de la Paix"},
    )
    invoice = one_off(
        call,
        admin_key,
        customer,
        lines=[
            {"description": "Licence annuelle", "quantity": 1, "unit_amount": 123456},
            {"description": "Formation (été)", "quantity": 3, "unit_amount": 25000},
        ],
        auto_finalize=True,
    )
    assert invoice["status"] == "open", invoice
    return customer, invoice


def test_the_notifier_stores_the_pdf_beside_the_html_and_invoice_pdf_serves_it(
    call, gateway, admin_key, app_env, french_invoice
):
    customer, invoice = french_invoice
    assert invoice["invoice_pdf"] == invoice["hosted_invoice_url"] + "/pdf"

    # Before the notifier ran: the PDF is rendered from the frozen invoice and served all the same.
    status, headers, early = fetch(gateway, invoice["invoice_pdf"])
    assert status == 200
    assert invoice["number"] in text_of(early)

    assert messages_about(app_env, invoice_id=invoice["id"]) == [
        {"kind": "invoice_finalized", "invoice_id": invoice["id"]}
    ]
    assert notify({"kind": "invoice_finalized", "invoice_id": invoice["id"]}) == {"batchItemFailures": []}
    base = f"invoices/{customer['id']}/{invoice['id']}"
    html_type, html = stored(app_env, f"{base}.html")
    pdf_type, pdf = stored(app_env, f"{base}.pdf")
    assert html_type.startswith("text/html") and invoice["number"] in html.decode()
    assert pdf_type == "application/pdf"
    text = text_of(pdf)
    for expected in (
        invoice["number"],
        "株式会社山田商事",
        "Licence annuelle",
        "Formation (été)",
        f"1{NNBSP}234,56{NBSP}€",  # fr: U+202F between thousands, U+00A0 before the sign
        f"750,00{NBSP}€",
        f"1{NNBSP}984,56{NBSP}€",  # total and amount due
        "4 mai 2026",
        "3 juin 2026",
    ):
        assert expected in text, expected

    # Served through customer_pages (no API key): the stored bytes, inline, named after the number.
    status, headers, served = fetch(gateway, invoice["invoice_pdf"])
    assert status == 200
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "private, no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert served == pdf

    # The email links it; the hosted page too.
    mail = [m for m in mails_to("compta@yamada.example") if invoice["number"] in str(m["subject"])]
    assert len(mail) == 1 and invoice["invoice_pdf"] in str(mail[0]["body"])
    status, _, page = call("GET", urlsplit(invoice["hosted_invoice_url"]).path)
    assert status == 200 and 'href="/i/' + invoice["hosted_invoice_url"].rsplit("/", 1)[-1] + '/pdf"' in page

    # A redelivery reuses the stored documents: nothing is rendered or stored again.
    import boto3

    versions = boto3.client("s3").list_object_versions(Bucket=app_env["DOCUMENTS_BUCKET"], Prefix=base)
    assert notify({"kind": "invoice_finalized", "invoice_id": invoice["id"]}) == {"batchItemFailures": []}
    again = boto3.client("s3").list_object_versions(Bucket=app_env["DOCUMENTS_BUCKET"], Prefix=base)
    assert len(again["Versions"]) == len(versions["Versions"]) == 2


def test_drafts_have_no_pdf_and_unknown_tokens_get_the_404_page(call, gateway, admin_key):
    customer = make_customer(call, admin_key)
    draft = one_off(call, admin_key, customer)
    assert draft["status"] == "draft" and draft["invoice_pdf"] is None
    for path in ("/i/" + "A" * 32 + "/pdf", "/i/short/pdf", "/i/" + "A" * 32 + "/credit-notes/cn_0/pdf"):
        status, headers, body = gateway.handle("GET", path, {}, None)
        assert status == 404, path
        assert headers["content-type"].startswith("text/html")
        assert b"Invoice not found" in body


def test_a_credit_note_gets_its_documents_and_one_email_even_when_delivered_twice(
    call, gateway, admin_key, app_env, french_invoice
):
    customer, invoice = french_invoice
    line_id = invoice["lines"]["data"][1]["id"]
    status, _, note = call(
        "POST",
        "/v1/credit-notes",
        key=admin_key,
        json_body={
            "invoice": invoice["id"],
            "lines": [{"invoice_line_id": line_id, "quantity": "1"}],
            "reason": "order_change",
            "memo": "Une session annulée.",
        },
    )
    assert status == 201, note
    assert note["pdf"] == f"{invoice['hosted_invoice_url']}/credit-notes/{note['id']}/pdf"
    message = {"kind": "credit_note_issued", "credit_note_id": note["id"]}
    assert messages_about(app_env, credit_note_id=note["id"]) == [message]

    assert notify(message) == {"batchItemFailures": []}
    assert notify(message) == {"batchItemFailures": []}  # SQS redelivers: the sent-marker absorbs it
    mails = [m for m in mails_to("compta@yamada.example") if note["number"] in str(m["subject"])]
    assert len(mails) == 1
    body = str(mails[0]["body"])
    assert note["pdf"] in body and f"250,00{NBSP}€" in body

    base = f"credit_notes/{customer['id']}/{note['id']}"
    assert stored(app_env, f"{base}.html")[0].startswith("text/html")
    content_type, pdf = stored(app_env, f"{base}.pdf")
    assert content_type == "application/pdf"
    text = text_of(pdf)
    for expected in (
        note["number"],
        invoice["number"],
        "株式会社山田商事",
        "Formation (été)",
        f"250,00{NBSP}€",
    ):
        assert expected in text, expected
    assert "Une session annulée." in text

    status, headers, served = fetch(gateway, note["pdf"])
    assert status == 200 and served == pdf
    assert headers["content-disposition"] == f'inline; filename="{note["number"]}.pdf"'

    # Only the credit notes of that invoice: another invoice's token does not reach it.
    other = one_off(call, admin_key, make_customer(call, admin_key), auto_finalize=True)
    foreign = f"{other['hosted_invoice_url']}/credit-notes/{note['id']}/pdf"
    assert fetch(gateway, foreign)[0] == 404
    unknown = f"{invoice['hosted_invoice_url']}/credit-notes/cn_{'0' * 16}/pdf"
    assert fetch(gateway, unknown)[0] == 404


def test_a_lost_credit_note_enqueue_is_retried_by_the_finalizer(call, admin_key, app_env, frozen):
    from dataclasses import replace

    from billing.repositories.credit_notes import CreditNoteRepository
    from billing.services.credit_notes import CreditNoteRequest, create_credit_note
    from billing.services.invoices import invoicing_from_settings, run_finalizer
    from billing.settings import get_settings

    invoicing = invoicing_from_settings(get_settings())
    invoice = one_off(call, admin_key, make_customer(call, admin_key), auto_finalize=True)
    offline = replace(invoicing, queue=None)  # the enqueue after the commit fails
    note = create_credit_note(
        offline,
        CreditNoteRepository(table_name=app_env["BILLING_TABLE"]),
        CreditNoteRequest(invoice=invoice["id"], amount=1000),
        actor="test",
    )
    assert note.id in {p["subject_id"] for p in invoicing.invoices.pending_notifications()}

    frozen.advance(timedelta(minutes=10))
    sent: list[dict[str, object]] = []

    class Queue:
        def send(self, message):
            sent.append(dict(message))
            return "mid"

    summary = run_finalizer(replace(invoicing, queue=Queue()), time_left=lambda: 300.0)
    assert summary.notifications_requeued >= 1
    assert {"kind": "credit_note_issued", "credit_note_id": note.id} in sent
    assert note.id not in {p["subject_id"] for p in invoicing.invoices.pending_notifications()}


def test_notification_messages_name_the_subject_their_kind_needs():
    from pydantic import ValidationError

    from billing.services.notifications import NotificationMessage

    ok = NotificationMessage.model_validate(
        {"kind": "credit_note_issued", "credit_note_id": "cn_" + "a" * 16}
    )
    assert ok.subject_id == "cn_" + "a" * 16
    for bad in (
        {"kind": "credit_note_issued", "invoice_id": "in_" + "a" * 16},
        {"kind": "invoice_finalized", "credit_note_id": "cn_" + "a" * 16},
        {"kind": "invoice_finalized"},
    ):
        with pytest.raises(ValidationError):
            NotificationMessage.model_validate(bad)
