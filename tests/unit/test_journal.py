"""The accounting journal: postings per event (table-driven, arithmetic beside each number), the
balance property (hypothesis), window checks and the CSV layouts. No I/O."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.accounting import formats
from billing.accounting.journal import (
    UnbalancedEntry,
    build_journal,
    check_balanced,
    credit_applied_entry,
    credit_note_entry,
    finalization_entry,
    paid_entry,
    payment_entry,
    refund_entry,
    uncollectible_entry,
    void_entry,
)
from billing.errors import ValidationFailed
from billing.models.invoices import CreditNote, Invoice, InvoiceLine, LineTax
from billing.models.journal import Account, AccountCodes, JournalEntry, JournalEvent, JournalLine
from billing.models.payments import Payment, Refund
from billing.repositories.journal import months_between
from billing.services.journal import check_window, status_change_event

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACCOUNTS = AccountCodes()
VAT = "de_vat_19"


def line(
    line_id: str, amount: int, *, discount: int = 0, tax: int = 0, inclusive: bool = False
) -> InvoiceLine:
    return InvoiceLine(
        id=line_id, kind="one_off", description=f"Line {line_id}", quantity="1", amount=amount,
        amount_exact=str(amount), discount=discount,
        taxes=[LineTax(rate_id=VAT, percentage="19", amount=tax, inclusive=inclusive)] if tax else [],
        tax_rate_ids=[VAT] if tax else [], tax_inclusive=inclusive,
    )  # fmt: skip


def two_line_invoice(**fields: object) -> Invoice:
    """Two lines, a 10% coupon, 19% VAT (exclusive), EUR:

    line A 10000, discount 1000 → net 9000, VAT 9000 × 19% = 1710
    line B  5000, discount  500 → net 4500, VAT 4500 × 19% =  855
    subtotal 15000, discount 1500, tax 2565, total 15000 − 1500 + 2565 = 16065"""
    values: dict[str, object] = {
        "id": "in_00000000000000a1", "customer_id": "cus_0000000000000001", "number": "ACME-0001",
        "status": "open", "origin": "one_off", "currency": "eur", "billing_date": T0,
        "lines": [line("il_a", 10_000, discount=1_000, tax=1_710), line("il_b", 5_000, discount=500, tax=855)],
        "subtotal": 15_000, "discount": 1_500, "tax": 2_565, "total": 16_065,
        "amount_due": 16_065, "amount_remaining": 16_065, "created_at": T0, "updated_at": T0,
        "finalized_at": T0,
    }  # fmt: skip
    values.update(fields)
    return Invoice.model_validate(values)


def postings(entry: JournalEntry | None) -> list[tuple[str, int, int]]:
    """(account code, debit, credit) per line."""
    assert entry is not None
    return [(line.account_code, line.debit, line.credit) for line in entry.lines]


def event(kind: str, invoice: Invoice, **fields: object) -> JournalEvent:
    suffix = kind.removeprefix("invoice_")
    values: dict[str, object] = {
        "entry_id": f"{invoice.id}_{suffix}", "kind": kind, "at": T0 + timedelta(days=3),
        "invoice_id": invoice.id, "customer_id": invoice.customer_id, "currency": invoice.currency,
    }  # fmt: skip
    values.update(fields)
    return JournalEvent.model_validate(values)


def credit_note(**fields: object) -> CreditNote:
    """Credits 2000 net of line A: VAT 2000 × 19% = 380, total 2380."""
    values: dict[str, object] = {
        "id": "cn_00000000000000c1", "number": "ACME-0001-CN-01", "invoice_id": "in_00000000000000a1",
        "customer_id": "cus_0000000000000001", "currency": "eur",
        "lines": [line("il_a", 2_000, tax=380)], "subtotal": 2_000, "tax": 380, "total": 2_380,
        "reduces_amount_due": 2_380, "credit_to_balance": 0, "created_at": T0 + timedelta(days=1),
        "actor": "key_1",
    }  # fmt: skip
    values.update(fields)
    return CreditNote.model_validate(values)


# --------------------------------------------------------------------------- postings per event

AR, REV, TAX, CASH, CLEAR, CREDIT, BAD = "1100", "4000", "2200", "1000", "1010", "2300", "6900"


def test_finalization_two_lines_coupon_and_vat() -> None:
    entry = finalization_entry(two_line_invoice(), at=T0, accounts=ACCOUNTS)
    assert entry is not None and entry.id == "in_00000000000000a1_finalized" and entry.date == T0
    assert postings(entry) == [
        (AR, 16_065, 0),  # the total: 15000 − 1500 + 2565
        (REV, 0, 9_000),  # line A net of its discount: 10000 − 1000
        (REV, 0, 4_500),  # line B: 5000 − 500
        (TAX, 0, 2_565),  # VAT per rate: 1710 + 855
    ]
    assert entry.total_debit == entry.total_credit == 16_065


def test_finalization_with_discounts_as_contra_revenue() -> None:
    accounts = AccountCodes(discounts=Account(code="4900", name="Discounts"))
    assert postings(finalization_entry(two_line_invoice(), at=T0, accounts=accounts)) == [
        (AR, 16_065, 0),
        (REV, 0, 10_000),  # line A before its discount
        ("4900", 1_000, 0),  # line A's share of the coupon
        (REV, 0, 5_000),
        ("4900", 500, 0),
        (TAX, 0, 2_565),
    ]  # debits 16065 + 1000 + 500 = 17565 = credits 10000 + 5000 + 2565


def test_inclusive_tax_is_taken_out_of_revenue_and_per_rate_accounts_apply() -> None:
    # 11900 tax included at 19%: tax 11900 × 19 / 119 = 1900, revenue 10000; the total is 11900
    invoice = two_line_invoice(
        lines=[line("il_a", 11_900, tax=1_900, inclusive=True)], subtotal=11_900, discount=0, tax=0,
        total=11_900, amount_due=11_900, amount_remaining=11_900,
    )  # fmt: skip
    accounts = AccountCodes(tax_accounts={VAT: Account(code="2210", name="VAT 19%")})
    assert postings(finalization_entry(invoice, at=T0, accounts=accounts)) == [
        (AR, 11_900, 0),
        (REV, 0, 10_000),
        ("2210", 0, 1_900),
    ]


def test_credit_applied_at_finalization() -> None:
    # 1065 of credit balance: amount due 16065 − 1065 = 15000
    invoice = two_line_invoice(credit_applied=1_065, amount_due=15_000, amount_remaining=15_000)
    entry = credit_applied_entry(invoice, at=T0, accounts=ACCOUNTS)
    assert entry is not None and entry.id == "in_00000000000000a1_credit_applied"
    assert postings(entry) == [(CREDIT, 1_065, 0), (AR, 0, 1_065)]
    assert credit_applied_entry(two_line_invoice(), at=T0, accounts=ACCOUNTS) is None  # nothing applied


@pytest.mark.parametrize(
    ("reduces", "to_balance", "expected"),
    [
        # open invoice: all 2380 comes off what is due
        (2_380, 0, [(REV, 2_000, 0), (TAX, 380, 0), (AR, 0, 2_380)]),
        # paid invoice: all 2380 goes to the credit balance (a liability to the customer)
        (0, 2_380, [(REV, 2_000, 0), (TAX, 380, 0), (CREDIT, 0, 2_380)]),
        # 1000 was still due: 1000 off AR, 2380 − 1000 = 1380 to the balance
        (1_000, 1_380, [(REV, 2_000, 0), (TAX, 380, 0), (AR, 0, 1_000), (CREDIT, 0, 1_380)]),
    ],
)
def test_partial_credit_note(reduces: int, to_balance: int, expected: list[tuple[str, int, int]]) -> None:
    note = credit_note(reduces_amount_due=reduces, credit_to_balance=to_balance)
    entry = credit_note_entry(note, invoice_number="ACME-0001", accounts=ACCOUNTS)
    assert entry is not None and entry.id == "cn_00000000000000c1_issued" and entry.date == note.created_at
    assert postings(entry) == expected


@pytest.mark.parametrize(
    ("invoice_fields", "amount", "written_off", "expected"),
    [
        # open, nothing paid: the finalization reversed, AR 16065 cleared
        ({}, 16_065, 0, [(AR, 0, 16_065)]),
        # 1065 of credit applied: AR held 15000; 1065 goes back to the customer's credit
        ({"credit_applied": 1_065, "amount_due": 15_000, "amount_remaining": 15_000}, 15_000, 0,
         [(AR, 0, 15_000), (CREDIT, 0, 1_065)]),
        # uncollectible first: the 16065 write-off is reversed instead of AR
        ({"status": "uncollectible"}, 0, 16_065, [(BAD, 0, 16_065)]),
    ],
)  # fmt: skip
def test_void_reverses_the_finalization(
    invoice_fields: dict[str, object], amount: int, written_off: int, expected: list[tuple[str, int, int]]
) -> None:
    invoice = two_line_invoice(**invoice_fields)
    voided = event("invoice_voided", invoice, amount=amount, written_off=written_off)
    entry = void_entry(invoice, voided, accounts=ACCOUNTS)
    assert entry is not None and entry.id == "in_00000000000000a1_voided" and entry.date == voided.at
    # debits: revenue 9000 + 4500 and VAT 2565 (the finalization's credits) = 16065
    assert postings(entry) == [(REV, 9_000, 0), (REV, 4_500, 0), (TAX, 2_565, 0), *expected]


def test_uncollectible_writes_off_what_was_due() -> None:
    invoice = two_line_invoice(amount_remaining=13_685)  # 16065 − a 2380 credit note
    entry = uncollectible_entry(
        invoice, event("invoice_uncollectible", invoice, amount=13_685), accounts=ACCOUNTS
    )
    assert postings(entry) == [(BAD, 13_685, 0), (AR, 0, 13_685)]


def test_paid_out_of_band_and_recovered() -> None:
    invoice = two_line_invoice()
    paid = event("invoice_paid", invoice, amount=16_065, out_of_band=True)
    assert postings(paid_entry(invoice, paid, accounts=ACCOUNTS)) == [(CASH, 16_065, 0), (AR, 0, 16_065)]
    recovered = event("invoice_paid", invoice, amount=16_065, out_of_band=True, recovered=True)
    assert postings(paid_entry(invoice, recovered, accounts=ACCOUNTS)) == [
        (CASH, 16_065, 0),
        (BAD, 0, 16_065),
    ]
    # through the provider: the payment record posts the cash, the invoice event nothing
    assert paid_entry(invoice, event("invoice_paid", invoice, amount=16_065), accounts=ACCOUNTS) is None


def payment(**fields: object) -> Payment:
    values: dict[str, object] = {
        "id": "py_1", "invoice_id": "in_00000000000000a1", "customer_id": "cus_0000000000000001",
        "amount": 16_065, "currency": "eur", "status": "succeeded", "provider": "stripe", "attempt": 1,
        "created_at": T0, "settled_at": T0 + timedelta(hours=1),
    }  # fmt: skip
    values.update(fields)
    return Payment.model_validate(values)


@pytest.mark.parametrize(
    ("fields", "applied", "expected"),
    [
        ({}, 16_065, [(CLEAR, 16_065, 0), (AR, 0, 16_065)]),
        # 17000 captured for 16065 due: the 935 overpaid is owed to the customer
        ({"amount": 17_000}, 16_065, [(CLEAR, 17_000, 0), (AR, 0, 16_065), (CREDIT, 0, 935)]),
        ({"provider": "manual"}, 16_065, [(CASH, 16_065, 0), (AR, 0, 16_065)]),
    ],
)
def test_payment_entry(fields: dict[str, object], applied: int, expected: list[tuple[str, int, int]]) -> None:
    entry = payment_entry(
        payment(**fields), applied_to_invoice=applied, invoice_number="ACME-0001", accounts=ACCOUNTS
    )
    assert entry is not None and entry.id == "py_1_settled" and entry.date == T0 + timedelta(hours=1)
    assert postings(entry) == expected


def test_failed_payment_posts_nothing() -> None:
    failed = payment(status="failed", settled_at=None)
    assert payment_entry(failed, applied_to_invoice=0, invoice_number=None, accounts=ACCOUNTS) is None


@pytest.mark.parametrize(("credit_note_id", "debited"), [("cn_00000000000000c1", CREDIT), (None, AR)])
def test_refund_entry(credit_note_id: str | None, debited: str) -> None:
    refund = Refund(
        id="re_1", payment_id="py_1", invoice_id="in_00000000000000a1", credit_note_id=credit_note_id,
        amount=2_380, currency="eur", created_at=T0 + timedelta(days=2),
    )  # fmt: skip
    entry = refund_entry(
        refund, customer_id="cus_0000000000000001", invoice_number="ACME-0001", accounts=ACCOUNTS
    )
    assert postings(entry) == [(debited, 2_380, 0), (CLEAR, 0, 2_380)]


def test_unbalanced_entry_is_refused() -> None:
    entry = JournalEntry(
        id="x", kind="payment", date=T0, currency="eur", customer_id="c", narration="n",
        lines=[JournalLine(account="cash", account_code="1000", account_name="Cash", debit=1, description="d")],
    )  # fmt: skip
    with pytest.raises(UnbalancedEntry):
        check_balanced(entry)


def test_build_journal_orders_by_date_and_nets_ar() -> None:
    """Finalize (credit applied 1065) → credit note 2380 off the amount due → paid out of band."""
    invoice = two_line_invoice(
        credit_applied=1_065, amount_due=15_000, amount_paid=12_620, amount_remaining=0, status="paid",
        paid_out_of_band=True,
    )  # fmt: skip
    note = credit_note()
    events = [
        event("invoice_paid", invoice, amount=12_620, out_of_band=True),  # 15000 − 2380
        event("invoice_finalized", invoice, at=T0),
        JournalEvent(
            entry_id=f"{note.id}_issued", kind="credit_note_issued", at=note.created_at, invoice_id=invoice.id,
            credit_note_id=note.id, customer_id=invoice.customer_id, currency="eur",
        ),
    ]  # fmt: skip
    entries = build_journal(
        events=events, invoices={invoice.id: invoice}, credit_notes={note.id: note}, accounts=ACCOUNTS
    )
    assert [e.kind for e in entries] == ["credit_applied", "invoice_finalized", "credit_note", "invoice_paid"]
    ar = sum(line.debit - line.credit for e in entries for line in e.lines if line.account_code == AR)
    assert ar == 0  # 16065 − 1065 − 2380 − 12620


# --------------------------------------------------------------------------- events written by the lifecycle


def test_status_change_events_carry_the_amounts_of_the_moment() -> None:
    open_ = two_line_invoice(amount_remaining=13_685, version=3)
    later = T0 + timedelta(days=9)
    bad = open_.model_copy(update={"status": "uncollectible", "marked_uncollectible_at": later, "version": 4})
    written = status_change_event(open_, bad)
    assert written is not None and written["Put"]["Item"]["amount"] == 13_685
    assert written["Put"]["Item"]["pk"] == "JOURNAL#2026-03"
    assert written["Put"]["Item"]["sk"].startswith(
        "2026-03-10T09:00:00.000000Z#in_00000000000000a1_uncollectible"
    )
    paid = bad.model_copy(
        update={"status": "paid", "paid_at": later, "amount_paid": 13_685, "amount_remaining": 0,
                "paid_out_of_band": True, "version": 5}
    )  # fmt: skip
    item = status_change_event(bad, paid)
    assert item is not None
    assert (item["Put"]["Item"]["amount"], item["Put"]["Item"]["recovered"]) == (13_685, True)
    void = bad.model_copy(update={"status": "void", "voided_at": later, "version": 5})
    item = status_change_event(bad, void)
    assert item is not None
    assert (item["Put"]["Item"]["amount"], item["Put"]["Item"]["written_off"]) == (0, 13_685)
    assert status_change_event(open_, open_.model_copy(update={"version": 4})) is None


def test_window_checks_and_months() -> None:
    with pytest.raises(ValidationFailed) as reversed_:
        check_window(T0, T0 - timedelta(days=1))
    assert (reversed_.value.code, reversed_.value.param) == ("invalid_window", "to")
    with pytest.raises(ValidationFailed) as long_:
        check_window(T0, T0 + timedelta(days=367))
    assert long_.value.code == "window_too_long"
    check_window(T0, T0 + timedelta(days=366))
    assert months_between(datetime(2025, 11, 15, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)) == [
        "2025-11", "2025-12", "2026-01", "2026-02",
    ]  # fmt: skip


# --------------------------------------------------------------------------- CSV


def _entries() -> list[JournalEntry]:
    invoice = two_line_invoice()
    entry = finalization_entry(invoice, at=T0, accounts=ACCOUNTS)
    assert entry is not None
    return [entry]


def test_generic_csv_amounts_are_exact_major_units() -> None:
    text = formats.to_csv(_entries(), "csv", ACCOUNTS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["account_code"], r["debit"], r["credit"], r["amount"]) for r in rows] == [
        (AR, "160.65", "", "160.65"),  # 16065 cents
        (REV, "", "90.00", "-90.00"),
        (REV, "", "45.00", "-45.00"),
        (TAX, "", "25.65", "-25.65"),
    ]
    assert sum(Decimal(r["amount"]) for r in rows) == 0
    assert rows[0]["date"] == "2026-03-01" and rows[0]["currency"] == "EUR"


def test_xero_and_quickbooks_layouts() -> None:
    xero = list(csv.DictReader(io.StringIO(formats.to_csv(_entries(), "xero_csv", ACCOUNTS))))
    assert list(xero[0]) == list(formats.XERO_COLUMNS)
    assert {r["Date"] for r in xero} == {"01/03/2026"} and {r["TaxRate"] for r in xero} == {"Tax Exempt"}
    assert sum(Decimal(r["Amount"]) for r in xero) == 0
    qbo = list(csv.DictReader(io.StringIO(formats.to_csv(_entries(), "quickbooks_csv", ACCOUNTS))))
    assert list(qbo[0]) == list(formats.QUICKBOOKS_COLUMNS)
    assert {r["JournalDate"] for r in qbo} == {"03/01/2026"}
    assert len(qbo[0]["JournalNo"]) <= 21 and qbo[0]["JournalNo"].startswith("INV-")
    assert qbo[0]["AccountName"] == "Accounts Receivable" and qbo[0]["Debits"] == "160.65"


def test_csv_text_never_starts_a_formula() -> None:
    invoice = two_line_invoice(lines=[line("il_a", 100)], subtotal=100, discount=0, tax=0, total=100)
    invoice = invoice.model_copy(
        update={"lines": [invoice.lines[0].model_copy(update={"description": "=HYPERLINK(1)"})]}
    )
    rows = list(csv.DictReader(io.StringIO(formats.to_csv(
        [e for e in [finalization_entry(invoice, at=T0, accounts=ACCOUNTS)] if e], "csv", ACCOUNTS
    ))))  # fmt: skip
    assert all(not r["description"].startswith("=") for r in rows)


@pytest.mark.parametrize(("currency", "minor", "major"), [("jpy", 1_235, "1235"), ("bhd", 1_235, "1.235")])
def test_csv_follows_the_currency_exponent(currency: str, minor: int, major: str) -> None:
    invoice = two_line_invoice(
        currency=currency, lines=[line("il_a", minor)], subtotal=minor, discount=0, tax=0, total=minor
    )
    rows = list(csv.DictReader(io.StringIO(formats.to_csv(
        [e for e in [finalization_entry(invoice, at=T0, accounts=ACCOUNTS)] if e], "csv", ACCOUNTS
    ))))  # fmt: skip
    assert rows[0]["debit"] == major


# --------------------------------------------------------------------------- the balance property


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    count = draw(st.integers(1, 6))
    lines: list[InvoiceLine] = []
    for i in range(count):
        amount = draw(st.integers(-50_000, 500_000))
        discount = draw(st.integers(0, max(amount, 0)))
        inclusive = draw(st.booleans())
        rates = draw(st.lists(st.sampled_from(["r1", "r2", "r3"]), max_size=2, unique=True))
        taxes = [
            LineTax(rate_id=r, percentage="7", amount=draw(st.integers(0, 100_000)), inclusive=inclusive)
            for r in rates
        ]
        lines.append(
            InvoiceLine(
                id=f"il_{i}", kind="usage", description=f"line {i}", quantity="1", amount=amount,
                amount_exact=str(amount), discount=discount, taxes=taxes, tax_rate_ids=rates,
                tax_inclusive=inclusive,
            )
        )  # fmt: skip
    subtotal = sum(x.amount for x in lines)
    discount = sum(x.discount for x in lines)
    exclusive = sum(t.amount for x in lines for t in x.taxes if not t.inclusive)
    total = subtotal - discount + exclusive
    credit = draw(st.integers(0, max(total, 0)))
    paid = draw(st.integers(0, max(total - credit, 0)))
    return two_line_invoice(
        lines=lines, subtotal=subtotal, discount=discount, tax=exclusive, total=total, credit_applied=credit,
        amount_due=total - credit, amount_paid=paid, amount_remaining=total - credit - paid,
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(invoice=invoices(), gross=st.booleans(), written_off=st.booleans(), overpaid=st.integers(0, 10_000))
def test_every_entry_balances(invoice: Invoice, gross: bool, written_off: bool, overpaid: int) -> None:
    accounts = AccountCodes(discounts=Account(code="4900", name="Discounts") if gross else None)
    remaining = invoice.amount_remaining
    voided = event(
        "invoice_voided",
        invoice,
        amount=0 if written_off else remaining,
        written_off=remaining if written_off else 0,
    )
    built = [
        finalization_entry(invoice, at=T0, accounts=accounts),
        credit_applied_entry(invoice, at=T0, accounts=accounts),
        void_entry(invoice, voided, accounts=accounts),
        uncollectible_entry(
            invoice, event("invoice_uncollectible", invoice, amount=remaining), accounts=accounts
        ),
        paid_entry(
            invoice, event("invoice_paid", invoice, amount=remaining, out_of_band=True), accounts=accounts
        ),
        payment_entry(
            payment(amount=remaining + overpaid),
            applied_to_invoice=remaining,
            invoice_number=None,
            accounts=accounts,
        ),
    ]
    for entry in built:
        if entry is not None:
            assert entry.total_debit == entry.total_credit
            assert all(line.debit >= 0 and line.credit >= 0 for line in entry.lines)
    # Finalized, credit applied, then the rest paid: nothing is left receivable.
    ar: dict[str, int] = defaultdict(int)
    paid = paid_entry(
        invoice, event("invoice_paid", invoice, amount=invoice.total - invoice.credit_applied, out_of_band=True),
        accounts=accounts,
    )  # fmt: skip
    for entry in (built[0], built[1], paid):
        for ln in entry.lines if entry is not None else []:
            ar[ln.account_code] += ln.debit - ln.credit
    assert ar["1100"] == 0


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(
        st.tuples(st.integers(1, 100_000), st.integers(0, 20_000), st.booleans()), min_size=1, max_size=4
    ),
    share=st.floats(0, 1),
)
def test_every_credit_note_balances(amounts: list[tuple[int, int, bool]], share: float) -> None:
    lines = [line(f"il_{i}", a, tax=t, inclusive=inc) for i, (a, t, inc) in enumerate(amounts)]
    exclusive = sum(t for _, t, inc in amounts if not inc)
    total = sum(a for a, _, _ in amounts) + exclusive
    reduces = int(total * share)
    note = credit_note(
        lines=lines, subtotal=total - exclusive, tax=exclusive, total=total, reduces_amount_due=reduces,
        credit_to_balance=total - reduces,
    )  # fmt: skip
    entry = credit_note_entry(note, invoice_number=None, accounts=ACCOUNTS)
    assert entry is not None and entry.total_debit == entry.total_credit


def test_a_recorded_payment_event_wins_over_the_listing() -> None:
    """Two captures of 6000 on a 10000 invoice: the second settled 4000 and overpaid 2000."""
    invoice = two_line_invoice(
        lines=[line("il_a", 10_000)], subtotal=10_000, discount=0, tax=0, total=10_000, amount_due=10_000,
        amount_paid=10_000, amount_remaining=0, status="paid",
    )  # fmt: skip
    second = payment(id="py_2", amount=6_000)
    recorded = JournalEvent(
        entry_id="py_2_settled", kind="payment_settled", at=T0 + timedelta(hours=2), invoice_id=invoice.id,
        customer_id=invoice.customer_id, currency="eur", amount=4_000, overpaid=2_000, payment_id="py_2",
        provider="stripe",
    )  # fmt: skip
    entries = build_journal(
        events=[recorded],
        invoices={invoice.id: invoice},
        credit_notes={},
        payments=[second],
        accounts=ACCOUNTS,
    )
    assert [e.id for e in entries] == ["py_2_settled"]
    assert postings(entries[0]) == [(CLEAR, 6_000, 0), (AR, 0, 4_000), (CREDIT, 0, 2_000)]  # 4000 + 2000
