"""GET /v1/exports/journal against DynamoDB Local: a one-off invoice finalized, paid out of band and
partly credited, exported as JSON and CSV; every entry balances; bad windows and formats are 422."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from invoice_helpers import finalize, make_customer, make_tax_rate, one_off

pytestmark = pytest.mark.integration


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "to": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }


def _export(call: Any, key: str, **params: str) -> tuple[int, dict[str, str], Any]:
    return call("GET", f"/v1/exports/journal?{urlencode(params)}", key=key)  # type: ignore[no-any-return]


def test_invoice_payment_and_credit_note_are_journaled(call: Any, admin_key: str) -> None:
    customer = make_customer(call, admin_key)
    rate = make_tax_rate(call, admin_key, percentage="20")
    draft = one_off(
        call, admin_key, customer,
        lines=[{"description": "Licence", "quantity": 2, "unit_amount": 5_000, "tax_rates": [rate["id"]]},
               {"description": "Setup", "quantity": 1, "unit_amount": 2_500}],
    )  # fmt: skip
    invoice = finalize(call, admin_key, draft["id"])
    # 2 × 5000 = 10000 taxed 20% = 2000; 2500 untaxed: total 10000 + 2500 + 2000 = 14500
    assert invoice["total"] == 14_500
    status, _, paid = call("POST", f"/v1/invoices/{invoice['id']}/pay", key=admin_key)
    assert status == 200 and paid["status"] == "paid", paid
    status, _, note = call(
        "POST", "/v1/credit-notes", key=admin_key, json_body={"invoice": invoice["id"], "amount": 1_200}
    )
    assert status == 201, note
    # 1200 tax included, spread over the lines by what each cost: Licence 12000/14500, Setup 2500/14500

    status, _, body = _export(call, admin_key, **_window())
    assert status == 200, body
    for entry in body["data"]:  # every entry of the window balances, ours and other tests'
        assert entry["total_debit"] == entry["total_credit"] == sum(x["debit"] for x in entry["lines"])
        assert sum(x["credit"] for x in entry["lines"]) == entry["total_credit"]
    ours = {e["id"]: e for e in body["data"] if e["invoice"] == invoice["id"]}
    inv = invoice["id"]
    assert set(ours) == {f"{inv}_finalized", f"{inv}_paid", f"{note['id']}_issued"}

    def by_code(entry: dict[str, Any]) -> dict[str, int]:
        sums: dict[str, int] = defaultdict(int)
        for line in entry["lines"]:
            sums[line["account_code"]] += line["debit"] - line["credit"]
        return dict(sums)

    assert by_code(ours[f"{inv}_finalized"]) == {"1100": 14_500, "4000": -12_500, "2200": -2_000}
    assert by_code(ours[f"{inv}_paid"]) == {"1000": 14_500, "1100": -14_500}
    # the invoice was paid: the whole credit (1200, tax included) goes to the customer's balance
    assert by_code(ours[f"{note['id']}_issued"]) == {
        "4000": note["subtotal"], "2200": note["tax"], "2300": -1_200,
    }  # fmt: skip
    assert note["subtotal"] + note["tax"] == 1_200
    assert ours[f"{inv}_finalized"]["invoice_number"] == invoice["number"]
    assert ours[f"{inv}_finalized"]["currency"] == "usd"

    status, headers, text = _export(call, admin_key, **_window(), format="csv")
    assert status == 200
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["content-type"].startswith("text/csv")
    assert "attachment" in lowered["content-disposition"] and ".csv" in lowered["content-disposition"]
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["invoice_id"] == inv]
    assert {r["entry_id"] for r in rows} == set(ours)
    finalized = [r for r in rows if r["entry_id"] == f"{inv}_finalized"]
    assert [r["debit"] for r in finalized if r["account_code"] == "1100"] == ["145.00"]
    for entry_id in ours:
        assert sum(Decimal(r["amount"]) for r in rows if r["entry_id"] == entry_id) == 0

    for layout in ("xero_csv", "quickbooks_csv"):
        status, _, text = _export(call, admin_key, **_window(), format=layout)
        assert status == 200 and text.splitlines()[0].startswith(("Narration", "JournalNo"))


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "invalid_window", "to"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}, "window_too_long", "to"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "format": "xlsx"}, "unknown_format", "format"),
        ({"to": "2026-03-02T00:00:00Z"}, "missing_field", "from"),
    ],
)  # fmt: skip
def test_bad_input_is_422(call: Any, admin_key: str, params: dict[str, str], code: str, param: str) -> None:
    status, _, body = _export(call, admin_key, **params)
    assert status == 422, body
    assert (body["error"]["code"], body["error"]["param"]) == (code, param)
