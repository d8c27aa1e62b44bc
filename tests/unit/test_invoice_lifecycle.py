"""Invoice lifecycle rules that need no I/O: numbering, pre-send checks, overdue, documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models.account import AccountSettings
from billing.models.catalog import TaxRate
from billing.models.customers import Address, Customer, TaxId
from billing.models.invoices import Invoice, InvoiceLine, LineTax, TaxTotal
from billing.services import documents, numbering
from billing.services.invoices import (
    customer_snapshot,
    has_payment_method,
    is_overdue,
    list_lines,
    pre_send_checks,
    totals_problems,
)
from billing.services.notifications import render_invoice_email
from billing.tax import REVERSE_CHARGE_MENTION, REVERSE_CHARGE_RATE_ID

NOW = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
NBSP = "\xa0"


def customer(**fields: object) -> Customer:
    values: dict[str, object] = {
        "id": "cus_0000000000000001",
        "name": "Acme",
        "emails": ["ap@acme.example"],
        "address": Address(country="DE", city="Berlin"),
        "currency": "eur",
        "invoice_prefix": "ACME",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Customer.model_validate(values)


def line(line_id: str = "il_1", amount: int = 10_000, **fields: object) -> InvoiceLine:
    values: dict[str, object] = {
        "id": line_id,
        "kind": "one_off",
        "description": "Consulting",
        "quantity": "1",
        "unit_amount_decimal": str(amount),
        "amount": amount,
        "amount_exact": str(amount),
    }
    values.update(fields)
    return InvoiceLine.model_validate(values)


def invoice(lines: list[InvoiceLine] | None = None, **fields: object) -> Invoice:
    lines = [line()] if lines is None else lines
    subtotal = sum(li.amount for li in lines)
    values: dict[str, object] = {
        "id": "in_0000000000000001",
        "customer_id": "cus_0000000000000001",
        "collection_method": "send_invoice",
        "currency": "eur",
        "billing_date": NOW,
        "lines": lines,
        "subtotal": subtotal,
        "total": subtotal,
        "amount_due": subtotal,
        "amount_remaining": subtotal,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Invoice.model_validate(values)


def rate(rate_id: str, **fields: object) -> TaxRate:
    values: dict[str, object] = {
        "id": rate_id,
        "display_name": "VAT",
        "percentage": Decimal(19),
        "country": "DE",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return TaxRate.model_validate(values)


SELLER = AccountSettings(
    legal_name="Seller SAS",
    address=Address(country="FR", line1="1 rue de la Paix", postal_code="75002", city="Paris"),
    tax_ids=[TaxId(type="eu_vat", value="FR40303265045", country="FR")],
    support_email="billing@seller.example",
    payment_instructions="Payable within 30 days to IBAN FR76 3000 6000 0112 3456 7890 189.",
    invoice_footer="Seller SAS, capital 10 000 €",
)


def checks(inv: Invoice, cust: Customer | None, **kwargs: object) -> list[dict[str, str]]:
    return pre_send_checks(inv, cust, seller=SELLER, **kwargs)  # type: ignore[arg-type]


def codes(reasons: list[dict[str, str]]) -> list[str]:
    return [r["code"] for r in reasons]


# --------------------------------------------------------------------------- numbering


def test_numbers_are_prefix_dash_four_digits_and_grow_past_9999():
    assert numbering.format_invoice_number("ACME", 1) == "ACME-0001"
    assert numbering.format_invoice_number("ACME", 9999) == "ACME-9999"
    assert numbering.format_invoice_number("ACME", 10_000) == "ACME-10000"
    assert numbering.format_credit_note_number("ACME-0007", 2) == "ACME-0007-CN-02"
    with pytest.raises(ValueError):
        numbering.format_invoice_number("ACME", 0)


def test_the_sequence_is_the_customer_prefix_or_the_account():
    c = customer()
    assert numbering.sequence_for(c, mode="per_customer", account_prefix="INV") == numbering.NumberSequence(
        scope="ACME", prefix="ACME"
    )
    account = numbering.sequence_for(c, mode="per_account", account_prefix="INV")
    assert (account.scope, account.format(3)) == ("ACCOUNT#INV", "INV-0003")


# --------------------------------------------------------------------------- checks


def test_a_sound_invoice_passes_every_check():
    assert checks(invoice(), customer(), rates={}) == []


@pytest.mark.parametrize(
    ("inv", "cust", "expected"),
    [
        (invoice(), customer(emails=[]), "missing_billing_email"),
        (invoice(collection_method="charge_automatically"), customer(), "missing_payment_method"),
        (invoice(currency="usd"), customer(), "currency_mismatch"),
        (invoice([line(description=" ")]), customer(), "line_without_description"),
        (invoice([]), customer(), "no_lines"),
        (invoice(subtotal=1), customer(), "totals_mismatch"),
        (invoice([line(amount=-100)]), customer(), "negative_total"),
        (invoice(), customer(deleted=True), "customer_deleted"),
    ],
)
def test_each_check_holds_with_its_code(inv, cust, expected):
    assert expected in codes(checks(inv, cust, rates={}))


def test_an_invoice_is_held_until_the_seller_says_who_it_is():
    anonymous = AccountSettings(legal_name="Seller SAS")
    reasons = pre_send_checks(invoice(), customer(), rates={}, seller=anonymous)
    assert codes(reasons) == ["missing_seller_identity"]
    assert "address" in reasons[0]["message"] and "PATCH /v1/account" in reasons[0]["message"]
    assert codes(pre_send_checks(invoice(), customer(), rates={}, seller=AccountSettings())) == [
        "missing_seller_identity"
    ]
    no_city = SELLER.model_copy(update={"address": Address(country="FR", line1="1 rue de la Paix")})
    assert codes(pre_send_checks(invoice(), customer(), rates={}, seller=no_city)) == [
        "missing_seller_identity"
    ]


def test_a_missing_customer_is_the_only_reason():
    assert codes(checks(invoice(), None, rates={})) == ["customer_not_found"]


def test_tax_that_depends_on_where_the_customer_is_needs_the_address():
    taxed = invoice([line(tax_rate_ids=["de_vat"])])
    rates = {"de_vat": rate("de_vat"), "us_ny": rate("us_ny", country="US", state="NY")}
    assert codes(checks(taxed, customer(address=None), rates=rates)) == ["missing_address"]
    state_taxed = invoice([line(tax_rate_ids=["us_ny"])])
    assert codes(checks(state_taxed, customer(address=Address(country="US")), rates=rates)) == [
        "missing_address"
    ]
    assert checks(state_taxed, customer(address=Address(country="US", state="NY")), rates=rates) == []
    assert codes(checks(invoice([line(tax_rate_ids=["gone"])]), customer(), rates=rates)) == [
        "unknown_tax_rate"
    ]


def test_reverse_charge_needs_the_customers_vat_number():
    reverse = invoice([line(tax_rate_ids=[REVERSE_CHARGE_RATE_ID])])
    rates = {REVERSE_CHARGE_RATE_ID: rate(REVERSE_CHARGE_RATE_ID, country="EU", percentage=Decimal(0))}
    assert codes(checks(reverse, customer(address=None), rates=rates)) == ["missing_tax_id"]
    with_vat = customer(address=None, tax_ids=[TaxId(type="eu_vat", value="FR12345678901")])
    assert checks(reverse, with_vat, rates=rates) == []


def test_totals_problems_name_each_inconsistency():
    broken = invoice(subtotal=9_000, discount=5, tax=7, total=1)
    assert totals_problems(broken) == [
        "subtotal 9000 is not the sum of the lines (10000)",
        "discount 5 is not the sum of the line discounts (0)",
        "tax 7 is not the sum of the exclusive taxes (0)",
        "total 1 is not subtotal − discount + tax (9002)",
    ]


def test_a_payment_method_comes_from_the_customer_until_payments_wire_it():
    assert not has_payment_method(customer())
    assert has_payment_method(customer(metadata={"payment_method_id": "pm_1"}))


def test_overdue_is_open_unpaid_and_past_due():
    due = invoice(status="open", due_date=NOW)
    assert not is_overdue(due, NOW)
    assert is_overdue(due, NOW + timedelta(seconds=1))
    assert not is_overdue(due.model_copy(update={"amount_remaining": 0}), NOW + timedelta(days=1))
    assert not is_overdue(due.model_copy(update={"status": "paid"}), NOW + timedelta(days=1))
    assert not is_overdue(invoice(status="open"), NOW + timedelta(days=99))  # no due date


def test_lines_page_after_a_line_id():
    inv = invoice([line(f"il_{n}", 100) for n in range(5)], subtotal=500, total=500)
    first, after = list_lines(inv, limit=2, starting_after=None)
    assert ([li.id for li in first], after) == (["il_0", "il_1"], "il_1")
    last, after = list_lines(inv, limit=3, starting_after="il_1")
    assert ([li.id for li in last], after) == (["il_2", "il_3", "il_4"], None)


# --------------------------------------------------------------------------- documents


def finalized(locale: str = "de_DE", **fields: object) -> Invoice:
    c = customer(locale=locale, time_zone="Europe/Berlin")
    base = invoice(
        [
            line(
                "il_1",
                123_456,
                description="Lizenz <Pro>",
                taxes=[
                    LineTax(
                        rate_id=REVERSE_CHARGE_RATE_ID,
                        percentage="0",
                        amount=0,
                        legal_mention=REVERSE_CHARGE_MENTION,
                    )
                ],
                tax_rate_ids=[REVERSE_CHARGE_RATE_ID],
                breakdown=[{"explanation": "1 × 123456 = 123456"}],
            ),
            line("il_2", 5, quantity="1000", unit_amount_decimal="0.005", description="API calls"),
        ],
        subtotal=123_461,
        total=123_461,
        amount_due=123_461,
        amount_remaining=123_461,
        taxes=[
            TaxTotal(
                rate_id=REVERSE_CHARGE_RATE_ID,
                display_name="VAT reverse charge",
                percentage="0",
                inclusive=False,
                taxable_amount=123_456,
                amount=0,
                legal_mention=REVERSE_CHARGE_MENTION,
            )
        ],
        legal_mentions=[REVERSE_CHARGE_MENTION],
        status="open",
        number="ACME-0001",
        finalized_at=NOW,  # 31 March 22:30 UTC is 1 April in Berlin
        due_date=NOW + timedelta(days=30),
        hosted_token="t" * 32,
        customer_snapshot=customer_snapshot(c),
    )
    return base.model_copy(update=fields)


def test_the_view_is_localized_in_the_customers_locale_and_zone():
    view = documents.invoice_view(finalized(), seller=SELLER, hosted=False, now=NOW)
    assert view["invoice"]["issued"] == "1. April 2026"
    assert view["invoice"]["due"] == "1. Mai 2026"
    assert view["totals"]["total"] == f"1.234,61{NBSP}€"
    assert view["lines"][1]["unit_price"] == f"0,00005{NBSP}€"  # half a tenth of a cent, shown in full
    assert view["lines"][1]["quantity"] == "1.000"
    assert view["paper"] == "A4"
    assert (
        documents.invoice_view(
            finalized(locale="en_US", customer_snapshot={"locale": "en_US", "address": {"country": "US"}}),
            seller=SELLER,
            hosted=False,
        )["paper"]
        == "letter"
    )


def test_the_document_prints_lines_taxes_mentions_and_the_seller():
    html = documents.render_invoice(finalized(), seller=SELLER)
    for text in (
        "ACME-0001", "Lizenz &lt;Pro&gt;", "VAT reverse charge", "Seller SAS", "FR40303265045",
        "IBAN FR76 3000", "mailto:billing@seller.example", "Seller SAS, capital 10 000 €",
        f"1.234,61{NBSP}€",
    ):  # fmt: skip
        assert text in html, text
    assert "Lizenz <Pro>" not in html
    assert "1 × 123456 = 123456" not in html  # the developer's explanation stays in the API


def test_the_frozen_seller_wins_over_the_current_one():
    frozen = finalized(seller_snapshot=SELLER.snapshot())
    moved = SELLER.model_copy(update={"legal_name": "Renamed SAS"})
    html = documents.render_invoice(frozen, seller=moved)
    assert "Seller SAS" in html and "Renamed SAS" not in html
    # An invoice issued before snapshots existed prints the current seller.
    assert "Renamed SAS" in documents.render_invoice(finalized(), seller=moved)


def test_unknown_locales_fall_back_to_the_sellers_default_then_english():
    inv = finalized(customer_snapshot={"locale": "xx_YY", "time_zone": "Nowhere/Atlantis"})
    view = documents.invoice_view(inv, seller=SELLER, hosted=True, now=NOW)
    assert view["locale"] == "en"
    assert view["totals"]["total"] == "€1,234.61"
    german_seller = SELLER.model_copy(update={"default_locale": "de"})
    assert documents.invoice_view(inv, seller=german_seller, hosted=True, now=NOW)["language"] == "de"


def test_preferred_locales_choose_the_language_and_keep_the_region():
    snapshot = {"preferred_locales": ["it", "sv_SE", "de"], "locale": "de_DE"}
    view = documents.invoice_view(finalized(customer_snapshot=snapshot), seller=SELLER, hosted=True, now=NOW)
    assert view["locale"] == "sv_SE" and view["language"] == "sv"  # Italian has no catalog: skipped


def test_the_email_subject_names_the_invoice_and_the_seller():
    subject, _, text = render_invoice_email(
        finalized(status="paid", locale="en"), seller=SELLER, public_url="https://x.example"
    )
    assert subject == "Invoice ACME-0001 from Seller SAS (paid)"
    assert "is paid" in text and "https://x.example/i/" + "t" * 32 in text


def test_a_cycle_draft_priced_without_tax_for_lack_of_an_address_is_never_sent_untaxed():
    untaxed = invoice()  # a subscription draft with no tax on any line
    assert "missing_address" in codes(checks(untaxed, customer(address=None), rates={}))
    # The address arrives later, but the draft was priced without it: it stays held.
    priced_blind = invoice(hold_reasons=[{"code": "missing_address", "message": "no address"}])
    assert "missing_address" in codes(
        checks(priced_blind, customer(address=Address(country="US", state="NY")), rates={})
    )
    # An exempt customer needs no address for tax.
    assert "missing_address" not in codes(
        checks(untaxed, customer(address=None, tax_status="exempt"), rates={})
    )
