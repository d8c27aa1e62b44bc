"""Credit notes through the api function, against DynamoDB Local."""

from __future__ import annotations

import pytest

from tests.integration.invoice_helpers import (
    finalize,
    get_customer,
    get_invoice,
    make_customer,
    make_tax_rate,
    one_off,
)

pytestmark = pytest.mark.integration


def credit(call, key, body, expect=201):
    status, _, out = call("POST", "/v1/credit-notes", key=key, json_body=body)
    assert status == expect, out
    return out


@pytest.fixture
def taxed_invoice(call, admin_key):
    """An open invoice: Seats 10 × 1000 = 10000 and Support 1 × 5000, both at 20 %: total 18000."""
    rate = make_tax_rate(call, admin_key, percentage="20")
    customer = make_customer(call, admin_key)
    invoice = one_off(
        call,
        admin_key,
        customer,
        lines=[
            {"description": "Seats", "quantity": 10, "unit_amount": 1000, "tax_rates": [rate["id"]]},
            {"description": "Support", "quantity": 1, "unit_amount": 5000, "tax_rates": [rate["id"]]},
        ],
    )
    invoice = finalize(call, admin_key, invoice["id"])
    assert (invoice["subtotal"], invoice["tax"], invoice["total"], invoice["amount_remaining"]) == (
        15000, 3000, 18000, 18000,
    )  # fmt: skip
    return customer, invoice


def test_credit_notes_on_an_open_invoice_reduce_what_is_due_until_it_is_paid(call, admin_key, taxed_invoice):
    customer, invoice = taxed_invoice
    seats, support = (line["id"] for line in invoice["lines"]["data"])

    # By line amount (net): 2500 on Seats + 20 % = 3000.
    first = credit(
        call, admin_key, {"invoice": invoice["id"], "lines": [{"invoice_line_id": seats, "amount": 2500}]}
    )
    assert first["number"] == f"{invoice['number']}-CN-01"
    assert (first["subtotal"], first["tax"], first["total"]) == (2500, 500, 3000)
    assert (first["reduces_amount_due"], first["credit_to_balance"]) == (3000, 0)
    assert first["lines"][0]["invoice_line_id"] == seats
    after = get_invoice(call, admin_key, invoice["id"])
    assert (after["status"], after["amount_remaining"], after["credit_notes_total"]) == ("open", 15000, 3000)
    assert after["amount_due"] == 18000  # the finalized amounts stay frozen

    # By quantity: 2 of the 10 seats = 10000 × 2/10 = 2000 net, + 400 tax = 2400.
    second = credit(
        call, admin_key, {"invoice": invoice["id"], "lines": [{"invoice_line_id": seats, "quantity": "2"}]}
    )
    assert (second["number"][-5:], second["subtotal"], second["tax"], second["total"]) == (
        "CN-02",
        2000,
        400,
        2400,
    )
    assert second["lines"][0]["quantity"] == "2"

    # By amount, tax included: 6000 over the lines' gross 12000 : 6000 → 4000 + 2000; the tax inside is
    # 4000 × 20/120 = 666.67 and 2000 × 20/120 = 333.33: 1000 for the rate, split 667 + 333.
    third = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "amount": 6000, "reason": "order_change", "memo": "Downgrade"},
    )
    assert (third["subtotal"], third["tax"], third["total"]) == (5000, 1000, 6000)
    assert [(li["invoice_line_id"], li["amount"]) for li in third["lines"]] == [
        (seats, 4000),
        (support, 2000),
    ]
    assert [li["taxes"][0]["amount"] for li in third["lines"]] == [667, 333]
    assert (third["reason"], third["memo"]) == ("order_change", "Downgrade")

    # 18000 − 3000 − 2400 − 6000 = 6600 remain: one minor unit more is refused.
    error = credit(call, admin_key, {"invoice": invoice["id"], "amount": 6601}, expect=409)["error"]
    assert (error["code"], error["param"]) == ("credit_exceeds_invoice", "amount")
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 1

    last = credit(call, admin_key, {"invoice": invoice["id"], "amount": 6600})
    assert (last["reduces_amount_due"], last["credit_to_balance"]) == (6600, 0)
    settled = get_invoice(call, admin_key, invoice["id"])
    assert (settled["status"], settled["amount_remaining"], settled["credit_notes_total"]) == (
        "paid",
        0,
        18000,
    )
    assert get_customer(call, admin_key, customer["id"])["open_invoices"] == 0
    error = credit(call, admin_key, {"invoice": invoice["id"], "amount": 1}, expect=409)["error"]
    assert error["code"] == "credit_exceeds_invoice"

    status, _, listed = call("GET", f"/v1/credit-notes?invoice={invoice['id']}", key=admin_key)
    assert status == 200
    assert [n["number"][-5:] for n in listed["data"]] == ["CN-01", "CN-02", "CN-03", "CN-04"]
    status, _, by_customer = call("GET", f"/v1/credit-notes?customer={customer['id']}&limit=2", key=admin_key)
    assert status == 200 and len(by_customer["data"]) == 2 and by_customer["has_more"]
    status, _, one = call("GET", f"/v1/credit-notes/{first['id']}", key=admin_key)
    assert (status, one["total"]) == (200, 3000)


def test_a_credit_note_on_a_paid_invoice_credits_the_balance_used_by_the_next_invoices(call, admin_key):
    customer = make_customer(call, admin_key)
    paid = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])  # 1 × 10000
    status, _, paid = call("POST", f"/v1/invoices/{paid['id']}/pay", key=admin_key)
    assert status == 200 and paid["status"] == "paid"

    note = credit(
        call, admin_key, {"invoice": paid["id"], "amount": 4000, "reason": "product_unsatisfactory"}
    )
    assert (note["reduces_amount_due"], note["credit_to_balance"], note["tax"]) == (0, 4000, 0)
    assert get_invoice(call, admin_key, paid["id"])["status"] == "paid"

    # Next invoice, 2500: the balance (4000) pays all of it, so it is finalized as paid.
    draft = one_off(call, admin_key, customer, lines=[{"description": "Extra", "unit_amount": 2500}])
    assert draft["credit_applied"] == 2500  # a preview on the draft
    covered = finalize(call, admin_key, draft["id"])
    assert (covered["status"], covered["credit_applied"], covered["amount_due"]) == ("paid", 2500, 0)
    # The one after, 3000: what is left of the balance (1500) is applied, 1500 is due.
    partly = finalize(
        call,
        admin_key,
        one_off(call, admin_key, customer, lines=[{"description": "More", "unit_amount": 3000}])["id"],
    )
    assert (partly["status"], partly["credit_applied"], partly["amount_due"], partly["amount_remaining"]) == (
        "open", 1500, 1500, 1500,
    )  # fmt: skip
    # Nothing left for the next one.
    nothing = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])
    assert (nothing["credit_applied"], nothing["amount_due"]) == (0, 10000)


def test_credit_note_refusals(call, admin_key, taxed_invoice):
    customer, invoice = taxed_invoice
    seats = invoice["lines"]["data"][0]["id"]

    error = credit(call, admin_key, {"invoice": invoice["id"]}, expect=422)["error"]
    assert error["code"] == "lines_or_amount_required"
    error = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "amount": 1, "lines": [{"invoice_line_id": seats, "amount": 1}]},
        expect=422,
    )["error"]
    assert error["code"] == "lines_or_amount_required"
    error = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "lines": [{"invoice_line_id": "il_nope", "amount": 1}]},
        expect=422,
    )["error"]
    assert (error["code"], error["param"]) == ("unknown_invoice_line", "lines.0.invoice_line_id")
    error = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "lines": [{"invoice_line_id": seats, "amount": 10001}]},
        expect=422,
    )["error"]
    assert (error["code"], error["param"]) == ("credit_exceeds_line", "lines.0.amount")
    error = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "lines": [{"invoice_line_id": seats, "quantity": "11"}]},
        expect=422,
    )["error"]
    assert (error["code"], error["param"]) == ("credit_exceeds_line", "lines.0.quantity")
    error = credit(
        call,
        admin_key,
        {"invoice": invoice["id"], "lines": [{"invoice_line_id": seats, "amount": 1, "quantity": 1}]},
        expect=422,
    )["error"]
    assert error["code"] == "amount_or_quantity_required"
    error = credit(call, admin_key, {"invoice": invoice["id"], "amount": 0}, expect=422)["error"]
    assert error["code"] == "out_of_range"
    error = credit(call, admin_key, {"invoice": invoice["id"], "amount": 1.5}, expect=422)["error"]
    assert error["param"].startswith("amount")
    error = credit(call, admin_key, {"invoice": "in_0000000000000000", "amount": 1}, expect=404)["error"]
    assert (error["code"], error["param"]) == ("invoice_not_found", "invoice")

    draft = one_off(call, admin_key, customer)
    assert (
        credit(call, admin_key, {"invoice": draft["id"], "amount": 1}, expect=409)["error"]["code"]
        == "invoice_is_draft"
    )

    # An invoice with a credit note cannot be voided; a void one takes no credit note.
    credit(call, admin_key, {"invoice": invoice["id"], "amount": 100})
    status, _, body = call("POST", f"/v1/invoices/{invoice['id']}/void", key=admin_key)
    assert (status, body["error"]["code"]) == (409, "invoice_has_credit_notes")
    other = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])
    assert call("POST", f"/v1/invoices/{other['id']}/void", key=admin_key)[0] == 200
    assert (
        credit(call, admin_key, {"invoice": other["id"], "amount": 1}, expect=409)["error"]["code"]
        == "invoice_already_void"
    )

    status, _, body = call("GET", "/v1/credit-notes", key=admin_key)
    assert (status, body["error"]["code"]) == (422, "missing_filter")
    status, _, body = call("GET", "/v1/credit-notes/cn_0000000000000000", key=admin_key)
    assert (status, body["error"]["code"]) == (404, "credit_note_not_found")


def test_voiding_an_invoice_gives_back_the_credit_it_used(call, admin_key):
    customer = make_customer(call, admin_key)
    paid = finalize(call, admin_key, one_off(call, admin_key, customer)["id"])  # 1 × 10000
    call("POST", f"/v1/invoices/{paid['id']}/pay", key=admin_key)
    credit(call, admin_key, {"invoice": paid["id"], "amount": 4000, "reason": "other"})  # balance 4000
    # 6000 due, 4000 of it from the balance: 2000 remains to pay.
    used = finalize(
        call,
        admin_key,
        one_off(call, admin_key, customer, lines=[{"description": "X", "unit_amount": 6000}])["id"],
    )
    assert (used["credit_applied"], used["amount_remaining"]) == (4000, 2000)
    status, _, voided = call("POST", f"/v1/invoices/{used['id']}/void", key=admin_key)
    assert status == 200 and voided["status"] == "void"
    # The 4000 is back: the next 4000 invoice is covered by it entirely.
    covered = finalize(
        call,
        admin_key,
        one_off(call, admin_key, customer, lines=[{"description": "Y", "unit_amount": 4000}])["id"],
    )
    assert (covered["status"], covered["credit_applied"], covered["amount_due"]) == ("paid", 4000, 0)
