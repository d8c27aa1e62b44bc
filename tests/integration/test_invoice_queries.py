"""Questions about an invoice: asked on the hosted page (form posts through the local gateway), stored
once, bounded, emailed to the seller's support address, listed and resolved through the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.conftest import TEST_SELLER
from tests.integration.invoice_helpers import make_customer, one_off, uid
from tests.integration.payflow_helpers import FORM, customer_pages, invoice_notifications, page, token_of
from tests.integration.test_documents import notify

pytestmark = pytest.mark.integration
QUERY = "invoice_query"


def ask(call: Any, token: str, raw: bytes | None = None, **fields: str) -> tuple[int, dict[str, str], str]:
    body = raw if raw is not None else urlencode(fields).encode()
    return call("POST", f"/i/{token}/questions", raw=body, headers=FORM)  # type: ignore[no-any-return]


def question(nonce: str, message: str = "Why is the VAT 20%?", **extra: str) -> dict[str, str]:
    return {"email": "ap@acme.example", "name": "Ada", "message": message, "nonce": nonce, **extra}


@pytest.fixture
def invoice(call, admin_key) -> dict[str, Any]:
    return one_off(
        call, admin_key, make_customer(call, admin_key, external_id=f"ext-{uid()}"), auto_finalize=True
    )


@pytest.fixture(scope="module")
def read_only_key(app_env: dict[str, str]) -> str:
    from billing.models.api_keys import Role
    from billing.repositories.api_keys import ApiKeyRepository
    from billing.services.api_keys import create_api_key

    _, token = create_api_key(
        ApiKeyRepository(table_name=app_env["BILLING_TABLE"]), name="reader", role=Role.READ_ONLY
    )
    return token


def queries_of(call: Any, key: str, **params: str) -> dict[str, Any]:
    status, _, body = call("GET", "/v1/invoice-queries?" + urlencode(params), key=key)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def test_a_question_is_stored_once_shown_on_the_page_and_emailed_to_support(
    call, admin_key, app_env, invoice
):
    token = token_of(invoice)
    form = question("nonce-of-one-render-0001", message="Line 1\r\nwas <b>wrong</b>?")
    status, headers, _ = ask(call, token, **form)
    assert status == 303 and headers["location"].endswith(f"/i/{token}?question=sent")
    assert ask(call, token, **form)[0] == 303  # a double submit of the same render
    listed = queries_of(call, admin_key, invoice=invoice["id"])["data"]
    assert len(listed) == 1
    stored = listed[0]
    assert (stored["status"], stored["email"], stored["name"], stored["message"]) == (
        "open", "ap@acme.example", "Ada", "Line 1\nwas <b>wrong</b>?",
    )  # fmt: skip
    assert (stored["invoice"], stored["invoice_number"], stored["customer"]) == (
        invoice["id"], invoice["number"], invoice["customer"],
    )  # fmt: skip

    status, _, html = page(call, token, "question=sent")
    assert status == 200 and "Your question was sent." in html

    messages = invoice_notifications(app_env, invoice["id"], QUERY)
    assert messages == [{"kind": QUERY, "invoice_id": invoice["id"], "query_id": stored["id"]}]
    sent: list[dict[str, Any]] = []
    from billing.gateways.aws import client

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    ses = client("ses")
    ses.meta.events.register("provide-client-params.ses.SendEmail", capture)
    try:
        assert notify(messages[0]) == {"batchItemFailures": []}
        assert notify(messages[0]) == {"batchItemFailures": []}  # redelivered: once
    finally:
        ses.meta.events.unregister("provide-client-params.ses.SendEmail", capture)
    [email] = sent
    assert email["Destination"]["ToAddresses"] == [TEST_SELLER["support_email"]]  # PATCH /v1/account
    assert email["ReplyToAddresses"] == ["ap@acme.example"]
    subject = email["Message"]["Subject"]["Data"]
    assert subject == f"Question about invoice {invoice['number']} from Ada"
    text = email["Message"]["Body"]["Text"]["Data"]
    assert "Line 1\nwas <b>wrong</b>?" in text and f"/v1/invoice-queries/{stored['id']}" in text
    assert "&lt;b&gt;wrong&lt;/b&gt;" in email["Message"]["Body"]["Html"]["Data"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"email": "not-an-email"}, "valid email"),
        ({"email": "a@b.example\r\nBcc: x@y.example"}, "valid email"),
        ({"message": "   "}, "Write your question"),
        ({"message": "x" * 2001}, "at most 2000 characters"),
        ({"nonce": ""}, "form has expired"),
        ({"name": "n" * 201}, "at most 200 characters"),
    ],
)
def test_bad_input_gets_a_clear_page_and_stores_nothing(call, admin_key, invoice, fields, words):
    status, headers, html = ask(call, token_of(invoice), **{**question("nonce-bad-input-000001"), **fields})
    assert status == 422 and headers["content-type"].startswith("text/html")
    assert words in html and "Your question was not sent" in html
    assert queries_of(call, admin_key, invoice=invoice["id"])["data"] == []


def test_no_input_whatsoever_gets_a_4xx(call, admin_key, invoice):
    token = token_of(invoice)
    for raw in (b"", b"\xff\xfe\x00garbage", b"&&==&", ("a=1&" * 50).encode(), b"message=" + b"%" * 3000):
        status, _, _ = ask(call, token, raw=raw)
        assert 400 <= status < 500, raw[:20]
    assert ask(call, "A" * 32, **question("nonce-unknown-token-01"))[0] == 404
    assert ask(call, "short", **question("nonce-unknown-token-01"))[0] == 404
    message = "2,000 characters exactly " + "é" * 1975
    assert (
        len(message) == 2000
        and ask(call, token, **question("nonce-longest-000001", message=message))[0] == 303
    )


def test_at_most_ten_open_questions_per_invoice(call, admin_key, invoice):
    token = token_of(invoice)
    for n in range(10):
        assert ask(call, token, **question(f"nonce-limit-{n:012d}"))[0] == 303
    status, _, html = ask(call, token, **question("nonce-limit-eleventh00"))
    assert status == 429 and "waiting for an answer" in html
    first = queries_of(call, admin_key, invoice=invoice["id"], limit="1")["data"][0]
    status, _, _ = call("POST", f"/v1/invoice-queries/{first['id']}/resolve", key=admin_key)
    assert status == 200
    assert ask(call, token, **question("nonce-limit-eleventh00"))[0] == 303  # one was answered


def test_list_filter_paginate_get_and_resolve_through_the_api(call, admin_key, read_only_key, invoice):
    token = token_of(invoice)
    for n in range(3):
        ask(call, token, **question(f"nonce-api-{n:014d}", message=f"question {n}"))
    mine = queries_of(call, admin_key, invoice=invoice["id"])["data"]
    assert [q["message"] for q in mine] == ["question 2", "question 1", "question 0"]  # newest first

    first_page = queries_of(call, read_only_key, customer=invoice["customer"], limit="2")
    assert [q["message"] for q in first_page["data"]] == ["question 2", "question 1"] and first_page[
        "has_more"
    ]
    rest = queries_of(call, read_only_key, customer=invoice["customer"], limit="2",
                      starting_after=first_page["next_cursor"])  # fmt: skip
    assert [q["message"] for q in rest["data"]] == ["question 0"]

    target = mine[1]
    status, _, body = call("POST", f"/v1/invoice-queries/{target['id']}/resolve", key=read_only_key,
                           json_body={"resolution": "no"})  # fmt: skip
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    status, _, resolved = call("POST", f"/v1/invoice-queries/{target['id']}/resolve", key=admin_key,
                               json_body={"resolution": "Answered by phone."})  # fmt: skip
    assert (
        status == 200 and resolved["status"] == "resolved" and resolved["resolution"] == "Answered by phone."
    )
    assert resolved["resolved_by"] and resolved["resolved_at"]
    status, _, again = call("POST", f"/v1/invoice-queries/{target['id']}/resolve", key=admin_key,
                            json_body={"resolution": "something else"})  # fmt: skip
    assert status == 200 and again == resolved  # resolving twice changes nothing

    assert call("GET", f"/v1/invoice-queries/{target['id']}", key=read_only_key)[2] == resolved
    open_ones = queries_of(call, admin_key, invoice=invoice["id"], status="open")["data"]
    assert {q["id"] for q in open_ones} == {mine[0]["id"], mine[2]["id"]}
    by_status = queries_of(call, admin_key, status="resolved", limit="100")["data"]
    assert target["id"] in {q["id"] for q in by_status}
    assert target["id"] not in {
        q["id"] for q in queries_of(call, admin_key, status="open", limit="100")["data"]
    }
    external_id = call("GET", f"/v1/customers/{invoice['customer']}", key=admin_key)[2]["external_id"]
    by_external = queries_of(call, admin_key, customer=external_id)["data"]
    assert len(by_external) == 3
    everything = queries_of(call, admin_key, limit="100")["data"]
    assert {q["id"] for q in mine} <= {q["id"] for q in everything}

    from billing.services.hosted import hosted_page_state

    state = hosted_page_state(customer_pages(), token)  # what the page rework renders
    assert state is not None
    assert [(q.message, q.status, q.resolution) for q in state.queries] == [
        ("question 2", "open", None),
        ("question 1", "resolved", "Answered by phone."),
        ("question 0", "open", None),
    ]
    assert state.payable and not state.receipt_available and state.question_nonce


def test_api_errors_use_the_envelope(call, admin_key, invoice):
    cases = [
        ("GET", "/v1/invoice-queries/iq_0000000000000000", 404, "invoice_query_not_found"),
        ("GET", "/v1/invoice-queries/nope", 422, None),
        ("GET", "/v1/invoice-queries?status=closed", 422, None),
        ("GET", "/v1/invoice-queries?invoice=in_0000000000000000", 404, "invoice_not_found"),
        ("GET", "/v1/invoice-queries?customer=nobody-at-all", 404, "customer_not_found"),
        ("GET", "/v1/invoice-queries?starting_after=garbage", 422, "invalid_cursor"),
        ("POST", "/v1/invoice-queries/iq_0000000000000000/resolve", 404, "invoice_query_not_found"),
    ]
    for method, path, expected, code in cases:
        status, _, body = call(method, path, key=admin_key)
        assert status == expected, (path, body)
        assert set(body["error"]) >= {"type", "code", "message", "param"}
        if code:
            assert body["error"]["code"] == code, path
    ask(call, token_of(invoice), **question("nonce-envelope-000001"))
    [query] = queries_of(call, admin_key, invoice=invoice["id"])["data"]
    status, _, body = call("POST", f"/v1/invoice-queries/{query['id']}/resolve", key=admin_key,
                           json_body={"resolution": "x" * 2001})  # fmt: skip
    assert status == 422 and body["error"]["param"] == "resolution"
    status, _, body = call("POST", f"/v1/invoice-queries/{query['id']}/resolve", key=admin_key,
                           json_body={"unknown": 1})  # fmt: skip
    assert status == 422
    assert call("GET", "/v1/invoice-queries")[0] == 401


def test_without_a_support_address_the_email_is_skipped_and_a_lost_enqueue_is_resent(
    call, admin_key, app_env, invoice
):
    from billing import clock
    from billing.repositories.invoice_queries import InvoiceQueryRepository
    from billing.repositories.invoices import InvoiceRepository
    from billing.repositories.notifications import NotificationRepository
    from billing.services import invoice_queries
    from billing.services import invoices as invoice_service
    from billing.services.notifications import NotificationMessage, deliver
    from billing.settings import get_settings

    table = app_env["BILLING_TABLE"]
    queries = invoice_queries.Queries(invoices=InvoiceRepository(table_name=table),
                                      queries=InvoiceQueryRepository(table_name=table), notifications=None)  # fmt: skip
    result = invoice_queries.submit_invoice_question(
        queries, token=token_of(invoice), form=question("nonce-no-queue-00001")
    )
    assert result.outcome == "stored" and result.query is not None
    assert invoice_notifications(app_env, invoice["id"], QUERY) == []  # could not be sent: pending

    deps = invoice_service.invoicing_from_settings(get_settings())
    later = clock.FrozenClock(clock.now() + invoice_service.PENDING_NOTIFICATION_GRACE * 2)
    previous = clock.set_clock(later)
    try:
        invoice_service.run_finalizer(deps, time_left=lambda: 300.0)
    finally:
        clock.set_clock(previous)
    [message] = invoice_notifications(app_env, invoice["id"], QUERY)
    assert message == {"kind": QUERY, "invoice_id": invoice["id"], "query_id": result.query.id}

    from billing.gateways.aws import DocumentStore, EmailSender
    from billing.models.account import AccountSettings
    from billing.services.notifications import Delivery

    delivery = Delivery(
        invoices=InvoiceRepository(table_name=table),
        markers=NotificationRepository(table_name=table),
        store=DocumentStore(bucket=app_env["DOCUMENTS_BUCKET"]),
        email=EmailSender(sender=app_env["BILLING_EMAIL_FROM"]),
        seller=AccountSettings,  # no support_email set
        public_url=app_env["BILLING_PUBLIC_URL"],
        queries=InvoiceQueryRepository(table_name=table),
    )
    outcome = deliver(delivery, NotificationMessage.model_validate(message))
    assert outcome == "skipped_no_support_address"
    marker = NotificationRepository(table_name=table).sent(invoice["id"], f"{QUERY}#{result.query.id}")
    assert marker is not None and marker["outcome"] == "skipped_no_support_address"
