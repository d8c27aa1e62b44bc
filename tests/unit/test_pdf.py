"""PDF documents (billing.pdf): rendered from explicit views, read back with pypdf.

The views are written in the shape of the seller account settings (``seller`` and lines with
``details``); one test goes through today's real ``invoice_view``.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from billing.pdf import adapt_view, render_credit_note_pdf, render_invoice_pdf

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\xa0"


def english(message: str, **values: object) -> str:
    return message % values if values else message


def pages_of(pdf: bytes) -> list[str]:
    """Each page's text, line breaks (wrapped labels) made spaces."""
    return [page.extract_text().replace("\n", " ") for page in PdfReader(io.BytesIO(pdf)).pages]


def seller(**fields: Any) -> dict[str, Any]:
    return {
        "legal_name": "Acme Billing AB",
        "address_lines": ["Kungsgatan 1", "111 43 Stockholm", "Sweden"],
        "tax_ids": ["VAT SE556677889901"],
        "support_email": "billing@acme.example",
        "support_phone": "+46 8 123 45 67",
        "logo_url": "https://cdn.acme.example/logo.png",
        "brand_color": "#0F766E",
        "invoice_footer": "Acme Billing AB · Org.nr 556677-8899 · Registered office Stockholm",
        "payment_instructions": "Pay by bank transfer to IBAN SE45 5000 0000 0583 9825 7466.",
        **fields,
    }


def line(n: int, *, amount: str = "$1,500.00", **fields: Any) -> dict[str, Any]:
    return {
        "title": f"Pro plan seat {n}",
        "description": f"Pro plan seat {n}",
        "quantity": "2",
        "unit_price": "$750.00",
        "amount": amount,
        "discount": None,
        "taxes": ["VAT 25 %"],
        "period": "May 1 – 31, 2026",
        "details": [f"2 × $750.00 (line {n})"],
        **fields,
    }


def invoice_view(**fields: Any) -> dict[str, Any]:
    return {
        "locale": "en_US",
        "language": "en",
        "paper": "A4",
        "hosted": False,
        "seller": seller(),
        "invoice": {
            "id": "in_0123456789abcdef",
            "number": "GLOBEX-0007",
            "status": "open",
            "status_label": "Open",
            "overdue": False,
            "currency": "USD",
            "collection_method": "send_invoice",
            "issued": "May 4, 2026",
            "due": "June 3, 2026",
            "paid": None,
            "voided": None,
            "period_start": "May 1, 2026",
            "period_end": "May 31, 2026",
            "period": "May 1 – 31, 2026",
        },
        "customer": {
            "name": "Globex Inc",
            "emails": ["ap@globex.example"],
            "address_lines": ["1 Market St", "94105 San Francisco, CA", "United States"],
            "tax_ids": ["EIN 12-3456789"],
        },
        "lines": [
            line(1),
            line(
                2,
                amount="$15.00",
                quantity="4,000",
                unit_price=None,
                details=["1,000 free, then 3,000 × $0.005"],
            ),
        ],
        "coupons": [{"code": "WELCOME10", "amount": "−$10.00"}],
        "taxes": [
            {
                "name": "VAT",
                "percentage": "25%",
                "inclusive": False,
                "taxable_amount": "$1,505.00",
                "amount": "$376.25",
                "legal_mention": None,
            }
        ],
        "legal_mentions": ["Reverse charge: VAT to be accounted for by the recipient."],
        "totals": {
            "subtotal": "$1,515.00",
            "discount": "−$10.00",
            "tax": "$376.25",
            "total": "$1,881.25",
            "credit_applied": "−$81.25",
            "amount_due": "$1,800.00",
            "credit_notes": None,
            "amount_paid": None,
            "amount_remaining": "$1,800.00",
        },
        **fields,
    }


def test_the_invoice_prints_its_number_seller_customer_lines_and_totals() -> None:
    pdf = render_invoice_pdf(invoice_view(), gettext=english)
    assert pdf.startswith(b"%PDF-")
    (text,) = pages_of(pdf)
    for expected in (
        "Invoice",
        "GLOBEX-0007",
        "May 4, 2026",
        "June 3, 2026",  # due date
        "Acme Billing AB",
        "Kungsgatan 1",
        "VAT SE556677889901",  # the seller's tax id, labelled by the view
        "billing@acme.example",
        "Globex Inc",
        "94105 San Francisco, CA",
        "EIN 12-3456789",
        "ap@globex.example",
        "Pro plan seat 1",
        "2 × $750.00 (line 1)",  # a line's details
        "Pro plan seat 2",
        "1,000 free, then 3,000 × $0.005",
        "$1,500.00",
        "$15.00",
        "Discount (WELCOME10)",
        "−$10.00",
        "$1,515.00",  # subtotal
        "$376.25",  # tax
        "$1,881.25",  # total
        "−$81.25",  # credit applied
        "$1,800.00",  # amount due
        "Reverse charge: VAT to be accounted for by the recipient.",
        "Please pay $1,800.00 by June 3, 2026, quoting invoice GLOBEX-0007.",
        "IBAN SE45 5000 0000 0583 9825 7466",
        "Registered office Stockholm",  # the footer
        "1/1",  # page numbers
    ):
        assert expected in text, expected
    assert "cdn.acme.example" not in text  # the logo is never fetched nor printed as a URL
    assert "Tax ID VAT" not in text


def test_totals_read_in_order_with_their_labels() -> None:
    (text,) = pages_of(render_invoice_pdf(invoice_view(), gettext=english))
    order = ["Subtotal", "$1,515.00", "Tax", "$376.25", "Total", "$1,881.25", "Credit applied", "−$81.25"]
    positions = [text.index(t, text.index("Subtotal")) for t in order]
    assert positions == sorted(positions)
    assert re.search(r"Amount due\s*\$1,800\.00", text[text.index("Credit applied") :])


def test_a_japanese_customer_and_a_french_amount_with_narrow_no_break_spaces() -> None:
    view = invoice_view(
        locale="fr_FR",
        customer={
            "name": "株式会社山田商事",
            "emails": ["keiri@yamada.example.jp"],
            "address_lines": ["〒100-0005", "東京都千代田区丸の内1-1-1", "Japon"],
            "tax_ids": ["法人番号 1234567890123"],
        },
        lines=[
            line(
                1, description="Abonnement « Pro » — été", title="Abonnement", amount=f"1{NNBSP}234,56{NBSP}€"
            )
        ],
        totals={
            "subtotal": f"1{NNBSP}234,56{NBSP}€",
            "discount": None,
            "tax": f"0,00{NBSP}€",
            "total": f"1{NNBSP}234,56{NBSP}€",
            "credit_applied": None,
            "amount_due": f"1{NNBSP}234,56{NBSP}€",
            "credit_notes": None,
            "amount_paid": None,
            "amount_remaining": f"1{NNBSP}234,56{NBSP}€",
        },
        coupons=[],
        taxes=[],
        legal_mentions=[],
    )
    pdf = render_invoice_pdf(view, gettext=english)
    (text,) = pages_of(pdf)
    assert "株式会社山田商事" in text
    assert "東京都千代田区丸の内1-1-1" in text
    assert "keiri@yamada.example.jp" in text  # Latin after a line that started in Japanese (fpdf2#1772)
    assert "Abonnement « Pro » — été" in text
    assert f"1{NNBSP}234,56{NBSP}€" in text  # the very characters Babel wrote, not look-alikes
    fonts = embedded_fonts(pdf)
    assert any("NotoSansCJKJP" in name for name in fonts)
    assert all(size < 150_000 for size in fonts.values()), fonts  # subsets, never the 2 MB font


def test_a_document_without_japanese_does_not_embed_the_japanese_font() -> None:
    fonts = embedded_fonts(render_invoice_pdf(invoice_view(), gettext=english))
    assert fonts and not any("CJK" in name for name in fonts)


def embedded_fonts(pdf: bytes) -> dict[str, int]:
    """Base font name -> size of the embedded font program, for every font the pages use."""
    found: dict[str, int] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            program = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
            found[str(font["/BaseFont"])] = len(program.get_object().get_data())
    return found


def test_sixty_lines_span_pages_each_with_the_table_header_and_page_numbers() -> None:
    lines = [line(n, details=[f"2 × $750.00 (line {n})", f"Seat {n} of 60"]) for n in range(1, 61)]
    pages = pages_of(render_invoice_pdf(invoice_view(lines=lines), gettext=english))
    count = len(pages)
    assert count >= 3
    for number, text in enumerate(pages, start=1):
        assert f"{number}/{count}" in text
        assert "GLOBEX-0007" in text  # the running header or the facts
    for number, text in enumerate(pages[:-1], start=1):
        assert "DESCRIPTION" in text and "AMOUNT" in text, f"page {number} has no table header"
    for n in range(1, 61):
        # A line is never split: its description, details and amount are on one page.
        holding = [i for i, text in enumerate(pages) if re.search(rf"Pro plan seat {n}\b", text)]
        assert len(holding) == 1, (n, holding)
        page = pages[holding[0]]
        assert f"(line {n})" in page and f"Seat {n} of 60" in page
    assert "Amount due" in pages[-1] and "$1,800.00" in pages[-1]


def test_paper_follows_the_view() -> None:
    def size(paper: str) -> tuple[float, float]:
        box = PdfReader(io.BytesIO(render_invoice_pdf(invoice_view(paper=paper), gettext=english))).pages[0]
        return round(float(box.mediabox.width)), round(float(box.mediabox.height))

    assert size("A4") == (595, 842)  # 210 × 297 mm in points
    assert size("letter") == (612, 792)  # 8.5 × 11 in


def test_every_label_goes_through_gettext() -> None:
    def marked(message: str, **values: object) -> str:
        return ("«" + message + "»") % values

    (text,) = pages_of(render_invoice_pdf(invoice_view(), gettext=marked))
    for label in ("«Invoice»", "«Invoice number»", "«Date due»", "«Subtotal»", "«Amount due»", "«Total»"):
        assert label in text, label
    for heading in ("«BILLED TO»", "«DESCRIPTION»", "«UNIT PRICE»", "«PAYMENT»"):  # headings are upper-cased
        assert heading in text, heading
    assert "«Please pay $1,800.00 by June 3, 2026, quoting invoice GLOBEX-0007.»" in text


def test_a_character_in_no_font_is_left_out_without_failing() -> None:
    view = invoice_view(customer={**invoice_view()["customer"], "name": "Globex 한국 Inc"})
    (text,) = pages_of(render_invoice_pdf(view, gettext=english))
    assert "Globex" in text and "Inc" in text


def credit_note_view(**totals: Any) -> dict[str, Any]:
    base = invoice_view()
    return {
        "locale": "en_US",
        "paper": "letter",
        "hosted": False,
        "seller": seller(),
        "credit_note": {
            "id": "cn_0123456789abcdef",
            "number": "GLOBEX-0007-CN-01",
            "issued": "May 10, 2026",
            "reason": "order_change",
            "reason_label": "Order change",
            "memo": "Two seats were cancelled on May 2.",
            "currency": "USD",
        },
        "invoice": {"id": "in_0123456789abcdef", "number": "GLOBEX-0007", "issued": "May 4, 2026"},
        "customer": base["customer"],
        "lines": [line(1, amount="$750.00", quantity="1", details=[])],
        "taxes": [
            {
                "name": "VAT",
                "percentage": "25%",
                "inclusive": False,
                "taxable_amount": "$750.00",
                "amount": "$187.50",
                "legal_mention": None,
            }
        ],
        "legal_mentions": [],
        "totals": {
            "subtotal": "$750.00",
            "tax": "$187.50",
            "total": "$937.50",
            "reduces_amount_due": "$900.00",
            "credit_to_balance": "$37.50",
            "refund_amount": None,
            **totals,
        },
    }


def test_the_credit_note_prints_what_it_credits_and_where_the_credit_went() -> None:
    pdf = render_credit_note_pdf(credit_note_view(), gettext=english)
    (text,) = pages_of(pdf)
    for expected in (
        "Credit note",
        "GLOBEX-0007-CN-01",
        "May 10, 2026",
        "GLOBEX-0007",  # the invoice it credits
        "May 4, 2026",
        "Order change",
        "Acme Billing AB",
        "Globex Inc",
        "Pro plan seat 1",
        "$750.00",
        "$187.50",
        "Total credited",
        "$937.50",
        "Taken off the amount due on GLOBEX-0007",
        "$900.00",
        "Added to your credit balance",
        "$37.50",
        "Two seats were cancelled on May 2.",
        "1/1",
    ):
        assert expected in text, expected
    assert "Refunded" not in text  # nothing was refunded
    assert "Please pay" not in text
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert round(float(page.mediabox.width)) == 612  # Letter, as the view says


def test_the_real_invoice_view_prints_as_the_html_does() -> None:
    """The PDF of ``invoice_view``'s own view: seller, customer, worded lines, French formats."""
    from billing.i18n import gettext_for
    from billing.models.account import AccountSettings
    from billing.models.customers import Address, TaxId
    from billing.models.invoices import Invoice, InvoiceLine
    from billing.services.documents import invoice_view as real_view

    at = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    usage = [
        {"kind": "tier", "units": "1000", "unit_amount": "0", "from_units": "0", "to_units": "1000"},
        {"kind": "tier", "units": "3000", "unit_amount": "0.5", "from_units": "1000", "to_units": "4000"},
    ]
    invoice = Invoice(
        id="in_00000000000000aa",
        customer_id="cus_1",
        number="ACME-0042",
        status="open",
        currency="eur",
        billing_date=at,
        lines=[
            InvoiceLine(
                id="il_1",
                kind="usage",
                description="API requests",
                quantity="4000",
                amount=1500,
                amount_exact="1500",
                breakdown=usage,
            )
        ],
        subtotal=1500,
        total=1500,
        amount_due=1500,
        amount_remaining=1500,
        due_date=at,
        customer_snapshot={
            "name": "Société Générale Exemple",
            "locale": "fr_FR",
            "address": {"country": "FR"},
        },
        created_at=at,
        updated_at=at,
        finalized_at=at,
    )
    seller = AccountSettings(
        legal_name="Acme SAS",
        address=Address(country="FR", line1="1 rue de la Paix", city="Paris", postal_code="75002"),
        tax_ids=[TaxId(type="eu_vat", value="FR40303265045", country="FR")],
        invoice_footer="RCS Paris 123",
    )
    view = real_view(invoice, seller=seller, hosted=False)
    adapted = adapt_view(view)
    assert adapted["seller"]["legal_name"] == "Acme SAS"
    (text,) = pages_of(render_invoice_pdf(view, gettext=gettext_for(view["locale"])))
    for expected in ("ACME-0042", "Acme SAS", "FR40303265045", "Société Générale Exemple", "API requests"):
        assert expected in text, expected
    assert view["lines"][0]["details"] == [f"First 1{NNBSP}000 free, then 3{NNBSP}000 × 0,005{NBSP}€"]
    assert f"15,00{NBSP}€" in text  # fr_FR, from the same view as the HTML
    assert "4 mai 2026" in text
    assert "RCS Paris 123" in text


@pytest.mark.parametrize("color", ["#12", "not a colour", None])
def test_a_bad_brand_colour_falls_back_to_the_default(color: str | None) -> None:
    view = invoice_view(seller=seller(brand_color=color))
    assert "GLOBEX-0007" in pages_of(render_invoice_pdf(view, gettext=english))[0]
