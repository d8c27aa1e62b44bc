"""PDF documents: invoices and credit notes laid out with fpdf2 from the view dicts the HTML prints.

* **Same data as the HTML**: ``render_invoice_pdf(view)`` takes the dict of
  ``billing.services.documents.invoice_view`` (``credit_note_view`` for credit notes), where every
  amount, quantity and date is formatted already in the customer's locale: the PDF and the HTML
  agree on every number because neither computes one.
* **Pure**: bytes out, nothing read but the fonts shipped beside this module, nothing fetched (a
  logo URL is not downloaded: documents print the seller's name instead).
* **Fonts**: Noto Sans (Latin, Greek, Cyrillic, punctuation and currency signs, the U+202F narrow
  no-break space Babel puts in French amounts), then Noto Sans Math for the few symbols Noto Sans
  lacks (U+2212, the minus sign of Swedish amounts) and Noto Sans CJK JP for Japanese,
  subsets made by ``tools/subset_fonts.py`` (``make fonts``); fpdf2 embeds only the glyphs a
  document uses. A character in neither font (Korean, Chinese outside JIS X 0208, emoji) is left
  out, and fpdf2 logs a warning naming it.
* **Layout**: the seller and the document's facts at the top, then the customer and the amount
  due, the lines (a line is never split across pages; the table header is repeated on each page),
  taxes and totals side by side, legal mentions, payment instructions; a footer with the seller's
  footer text and "page/pages" on every page. A4 or Letter as the view's ``paper`` says.
* **Labels** are marked ``_()`` and translated by the ``gettext`` given (``billing.i18n``).

fpdf2 is imported inside the render functions: only the code paths that make a PDF pay its import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billing.i18n import Gettext

if TYPE_CHECKING:
    from fpdf import FPDF

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "NotoSans"
FONT_SYMBOLS = "NotoSansMath"
FONT_JP = "NotoSansJP"
FONT_FILES = {
    (FONT, ""): "NotoSans-Regular.ttf",
    (FONT, "B"): "NotoSans-Bold.ttf",
    (FONT_SYMBOLS, ""): "NotoSansMath-Regular.ttf",
    (FONT_JP, ""): "NotoSansJP-Regular.ttf",
    (FONT_JP, "B"): "NotoSansJP-Bold.ttf",
}
PAPER = {"a4": "A4", "letter": "Letter"}

MM_PER_PT = 25.4 / 72
AMOUNT_W = 32.0
"""Width of an amount column (mm): the lines' and the totals' amounts share a right edge."""
MARGIN_X = 16.0
MARGIN_TOP = 16.0
FOOTER_BOTTOM = 9.0
"""Distance of the page-number line from the bottom edge (mm)."""

INK = (17, 24, 39)
MUTED = (107, 114, 128)
RULE = (209, 213, 219)
HAIRLINE = (229, 231, 235)
TINT = (243, 244, 246)
DEFAULT_BRAND = "#1F2937"


# --------------------------------------------------------------------------- the view, adapted


def adapt_view(view: Mapping[str, Any], *, gettext: Gettext | None = None) -> dict[str, Any]:
    """The view in the shape the renderer reads: every line with its ``details`` (customer-facing
    sub-lines) as a list."""
    out = dict(view)
    out["lines"] = [{**line, "details": list(line.get("details") or [])} for line in out.get("lines") or []]
    return out


# --------------------------------------------------------------------------- public entry points


def render_invoice_pdf(view: Mapping[str, Any], *, gettext: Gettext) -> bytes:
    """The invoice as a PDF (see the module docstring)."""
    _ = gettext
    v = adapt_view(view, gettext=_)
    invoice = v["invoice"]
    totals = v["totals"]
    facts = [
        (_("Invoice number"), invoice["number"]),
        (_("Date of issue"), invoice.get("issued")),
        (_("Date due"), invoice.get("due")),
    ]
    if invoice.get("period"):
        facts.append((_("Billing period"), invoice["period"]))
    box = [(_("Amount due"), totals["amount_due"])]
    if invoice.get("due"):
        box.append(("", _("Due %(date)s", date=invoice["due"])))
    summary: list[tuple[str, str | None, str]] = [("", totals["subtotal"], _("Subtotal"))]
    for coupon in v.get("coupons") or []:
        summary.append(("", coupon["amount"], _("Discount (%(code)s)", code=coupon["code"])))
    if totals.get("discount") and not v.get("coupons"):
        summary.append(("", totals["discount"], _("Discount")))
    summary += [
        ("", totals["tax"], _("Tax")),
        ("total", totals["total"], _("Total")),
        ("", totals.get("credit_applied"), _("Credit applied")),
        ("due", totals["amount_due"], _("Amount due")),
    ]
    closing = []
    if invoice.get("due"):
        closing.append(
            _(
                "Please pay %(amount)s by %(date)s, quoting invoice %(number)s.",
                amount=totals["amount_due"],
                date=invoice["due"],
                number=invoice["number"],
            )
        )
    doc = _Document(
        view=v,
        title=_("Invoice"),
        number=invoice["number"],
        facts=facts,
        box=box,
        summary=summary,
        closing=closing,
        closing_is_payment=True,
        payment_instructions=v["seller"].get("payment_instructions"),
    )
    return _render(doc, gettext=_)


def render_credit_note_pdf(view: Mapping[str, Any], *, gettext: Gettext) -> bytes:
    """The credit note as a PDF, from ``credit_note_view``."""
    _ = gettext
    v = adapt_view(view, gettext=_)
    note = v["credit_note"]
    totals = v["totals"]
    facts = [
        (_("Credit note number"), note["number"]),
        (_("Date of issue"), note.get("issued")),
        (_("Invoice"), v["invoice"]["number"]),
        (_("Invoice date"), v["invoice"].get("issued")),
        (_("Reason"), note.get("reason_label")),
    ]
    box = [(_("Total credited"), totals["total"])]
    summary: list[tuple[str, str | None, str]] = [
        ("", totals["subtotal"], _("Subtotal")),
        ("", totals["tax"], _("Tax")),
        ("total", totals["total"], _("Total credited")),
        (
            "",
            totals.get("reduces_amount_due"),
            _("Taken off the amount due on %(number)s", number=v["invoice"]["number"]),
        ),
        ("", totals.get("credit_to_balance"), _("Added to your credit balance")),
        ("", totals.get("refund_amount"), _("Refunded")),
    ]
    closing = [note["memo"]] if note.get("memo") else []
    doc = _Document(
        view=v,
        title=_("Credit note"),
        number=note["number"],
        facts=facts,
        box=box,
        summary=summary,
        closing=closing,
        payment_instructions=None,
    )
    return _render(doc, gettext=_)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True, kw_only=True)
class _Document:
    """What differs between an invoice and a credit note; the rest is read from ``view``."""

    view: dict[str, Any]
    title: str
    number: str
    facts: list[tuple[str, str | None]]
    box: list[tuple[str, str]]
    summary: list[tuple[str, str | None, str]]
    """(emphasis, amount, label); rows without an amount are left out."""
    closing: list[str] = field(default_factory=list)
    closing_is_payment: bool = False
    """Whether ``closing`` tells how to pay (headed "Payment") or is a note (a credit note's memo)."""
    payment_instructions: str | None = None


@dataclass(frozen=True)
class _Text:
    text: str
    size: float = 9.0
    style: str = ""
    color: tuple[int, int, int] = INK


def _render(doc: _Document, *, gettext: Gettext) -> bytes:
    _ = gettext
    view = doc.view
    seller = view["seller"]
    brand = _rgb(seller.get("brand_color") or DEFAULT_BRAND)
    footer = str(seller.get("invoice_footer") or "").strip()
    pdf = _new_pdf(
        paper=str(view.get("paper") or "A4"),
        running=f"{doc.title} {doc.number}",
        footer=footer,
        needs_japanese=_needs_japanese(_all_text(view, doc)),
    )
    pdf.set_title(f"{doc.title} {doc.number}")
    if seller.get("legal_name"):
        pdf.set_author(str(seller["legal_name"]))
    pdf.set_creator("billing")
    pdf.set_lang(str(view.get("locale") or "en").replace("_", "-"))
    width = pdf.w - 2 * MARGIN_X

    # Seller (left) and the document's facts (right).
    left = width * 0.55
    seller_block = [_Text(str(seller.get("legal_name") or ""), 11.5, "B")]
    seller_block += [_Text(str(line), 8.5) for line in seller.get("address_lines") or []]
    seller_block += [_Text(str(t), 8.5, color=MUTED) for t in seller.get("tax_ids") or []]
    contact = " · ".join(str(c) for c in (seller.get("support_email"), seller.get("support_phone")) if c)
    if contact:
        seller_block.append(_Text(contact, 8.5, color=MUTED))
    top = pdf.get_y()
    bottom_left = _block(pdf, MARGIN_X, top, left - 4, seller_block)
    right_x = MARGIN_X + left
    right_w = width - left
    pdf.set_text_color(*brand)
    pdf.set_font(FONT, "B", 20)
    pdf.set_xy(right_x, top - 1.5)
    pdf.cell(right_w, _lh(20), doc.title, align="R")
    y = top + _lh(20) + 1
    for i, (label, value) in enumerate(doc.facts):
        if value:
            y = _fact(pdf, right_x, y, right_w, label=label, value=str(value), bold=i == 0)
    y = max(bottom_left, y) + 4
    pdf.set_draw_color(*brand)
    pdf.set_line_width(0.6)
    pdf.line(MARGIN_X, y, MARGIN_X + width, y)
    y += 6

    # Billed to (left) and the amount box (right).
    customer = view["customer"]
    billed = [_Text(_("Billed to").upper(), 7.5, "B", MUTED), _Text(str(customer.get("name") or ""), 10, "B")]
    billed += [_Text(str(line), 9) for line in customer.get("address_lines") or []]
    billed += [_Text(str(t), 8.5, color=MUTED) for t in customer.get("tax_ids") or []]
    billed += [_Text(str(e), 8.5, color=MUTED) for e in customer.get("emails") or []]
    bottom_left = _block(pdf, MARGIN_X, y, left - 4, billed)
    bottom_right = _amount_box(pdf, right_x, y, right_w, rows=doc.box, brand=brand)
    pdf.set_y(max(bottom_left, bottom_right) + 8)

    _lines_table(pdf, view["lines"], width=width, gettext=_)
    _summary(pdf, view, doc, width=width, brand=brand, gettext=_)

    if view.get("legal_mentions"):
        _paragraphs(pdf, [_Text(str(m), 8.5, color=MUTED) for m in view["legal_mentions"]], width=width)
    closing = [_Text(str(text), 9) for text in doc.closing]
    if doc.payment_instructions:
        closing.append(_Text(str(doc.payment_instructions), 9))
    if closing:
        heading = _("Payment") if doc.payment_instructions or doc.closing_is_payment else _("Note")
        _paragraphs(pdf, [_Text(heading.upper(), 7.5, "B", MUTED), *closing], width=width)
    return bytes(pdf.output())


class _Columns:
    """The line table: description, quantity, unit price, amount (numbers right-aligned)."""

    def __init__(self, width: float) -> None:
        self.qty = 20.0
        self.unit = 32.0
        self.amount = AMOUNT_W
        self.description = width - self.qty - self.unit - self.amount
        self.pad = 1.6


def _lines_table(pdf: FPDF, lines: Sequence[Mapping[str, Any]], *, width: float, gettext: Gettext) -> None:
    _ = gettext
    cols = _Columns(width)
    heads = (_("Description"), _("Qty"), _("Unit price"), _("Amount"))
    _table_header(pdf, cols, heads)
    for line in lines:
        description = [_Text(str(line.get("description") or ""), 9)]
        if line.get("period"):
            description.append(_Text(str(line["period"]), 7.5, color=MUTED))
        description += [_Text(str(d), 7.5, color=MUTED) for d in line.get("details") or []]
        if line.get("discount"):
            description.append(_Text(_("Discount %(amount)s", amount=line["discount"]), 7.5, color=MUTED))
        description += [_Text(str(t), 7.5, color=MUTED) for t in line.get("taxes") or []]
        text_w = cols.description - 2 * cols.pad
        height = _measure(pdf, text_w, description) + 2 * cols.pad
        if pdf.get_y() + height > pdf.page_break_trigger:
            available = pdf.page_break_trigger - pdf.t_margin - 12
            if height <= available:  # a line never starts on one page and ends on the next
                pdf.add_page()
                _table_header(pdf, cols, heads)
        y = pdf.get_y()
        # Numbers first: a line taller than a page (only then) flows its text onto the next one.
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*INK)
        x = MARGIN_X + cols.description
        for value, w in (
            (line.get("quantity"), cols.qty),
            (line.get("unit_price"), cols.unit),
            (line.get("amount"), cols.amount),
        ):
            pdf.set_xy(x, y + cols.pad)
            pdf.cell(w - cols.pad, _lh(9), str(value or ""), align="R")
            x += w
        bottom = _block(pdf, MARGIN_X + cols.pad, y + cols.pad, text_w, description) + cols.pad
        pdf.set_draw_color(*HAIRLINE)
        pdf.set_line_width(0.2)
        pdf.line(MARGIN_X, bottom, MARGIN_X + width, bottom)
        pdf.set_y(bottom)


def _table_header(pdf: FPDF, cols: _Columns, heads: Sequence[str]) -> None:
    y = pdf.get_y()
    pdf.set_font(FONT, "B", 7.5)
    pdf.set_text_color(*MUTED)
    x = MARGIN_X
    widths = (cols.description, cols.qty, cols.unit, cols.amount)
    for i, (head, w) in enumerate(zip(heads, widths, strict=True)):
        pdf.set_xy(x + (cols.pad if i == 0 else 0), y)
        pdf.cell(w - cols.pad, _lh(7.5) + 1.5, head.upper(), align="L" if i == 0 else "R")
        x += w
    bottom = y + _lh(7.5) + 2
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(MARGIN_X, bottom, MARGIN_X + sum(widths), bottom)
    pdf.set_y(bottom)


def _summary(
    pdf: FPDF,
    view: Mapping[str, Any],
    doc: _Document,
    *,
    width: float,
    brand: tuple[int, int, int],
    gettext: Gettext,
) -> None:
    """Taxes by rate (left) and totals (right), kept together on one page."""
    _ = gettext
    taxes = list(view.get("taxes") or [])
    totals_w = 74.0
    tax_w = width - totals_w - 8
    totals = [
        (kind, str(amount), label, 11.0 if kind == "due" else 9.0, "B" if kind in ("total", "due") else "")
        for kind, amount, label in doc.summary
        if amount
    ]
    totals_h = sum(
        _measure(pdf, totals_w - AMOUNT_W, [_Text(label, size, style)])
        + 2.4
        + (1.2 if kind == "total" else 0)
        for kind, _a, label, size, style in totals
    )
    tax_cols = (tax_w - 16.0 - 30.0 - 26.0, 16.0, 30.0, 26.0)
    tax_rows: list[tuple[list[_Text], str, str, str]] = []
    for tax in taxes:
        name = str(tax.get("name") or "")
        if tax.get("inclusive"):
            name = f"{name} {_('(included)')}"
        tax_rows.append(
            (
                [_Text(name, 8.5)],
                str(tax.get("percentage") or ""),
                str(tax.get("taxable_amount") or ""),
                str(tax.get("amount") or ""),
            )
        )
    tax_h = (
        _lh(7.5) + 3 + sum(_measure(pdf, tax_cols[0] - 1.5, r[0]) + 2.4 for r in tax_rows) if tax_rows else 0
    )
    y = pdf.get_y() + 6
    if y + max(tax_h, totals_h) > pdf.page_break_trigger:
        pdf.add_page()
        y = pdf.get_y()
    if tax_rows:
        heads = (_("Tax"), _("Rate"), _("Taxable amount"), _("Tax"))
        pdf.set_font(FONT, "B", 7.5)
        pdf.set_text_color(*MUTED)
        x = MARGIN_X
        for i, (head, w) in enumerate(zip(heads, tax_cols, strict=True)):
            pdf.set_xy(x, y)
            pdf.cell(w - (0 if i == 0 else 1.5), _lh(7.5) + 1.5, head.upper(), align="L" if i == 0 else "R")
            x += w
        ty = y + _lh(7.5) + 2
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.3)
        pdf.line(MARGIN_X, ty, MARGIN_X + tax_w, ty)
        for name_block, rate, base, amount in tax_rows:
            top = ty + 1.2
            bottom = _block(pdf, MARGIN_X, top, tax_cols[0] - 1.5, name_block) + 1.2
            pdf.set_font(FONT, "", 8.5)
            pdf.set_text_color(*INK)
            x = MARGIN_X + tax_cols[0]
            for value, w in zip((rate, base, amount), tax_cols[1:], strict=True):
                pdf.set_xy(x, top)
                pdf.cell(w - 1.5, _lh(8.5), value, align="R")
                x += w
            pdf.set_draw_color(*HAIRLINE)
            pdf.set_line_width(0.2)
            pdf.line(MARGIN_X, bottom, MARGIN_X + tax_w, bottom)
            ty = bottom
    x = MARGIN_X + width - totals_w
    ty = y
    for kind, amount, label, size, style in totals:
        if kind == "total":
            pdf.set_draw_color(*brand)
            pdf.set_line_width(0.5)
            pdf.line(x, ty + 0.6, x + totals_w, ty + 0.6)
            ty += 1.2
        color = brand if kind == "due" else INK
        bottom = _block(pdf, x, ty + 1.2, totals_w - AMOUNT_W, [_Text(label, size, style, color)])
        pdf.set_font(FONT, style, size)
        pdf.set_text_color(*color)
        pdf.set_xy(x + totals_w - AMOUNT_W, ty + 1.2)
        pdf.cell(AMOUNT_W - 1.5, _lh(size), amount, align="R")
        ty = bottom + 1.2
    pdf.set_y(max(ty, y + tax_h) + 4)


def _paragraphs(pdf: FPDF, paragraphs: Sequence[_Text], *, width: float) -> None:
    """Text after the totals, kept on one page when it fits on one."""
    height = _measure(pdf, width, paragraphs) + 1.5 * len(paragraphs)
    room = pdf.page_break_trigger - pdf.t_margin
    if pdf.get_y() + 2 + height > pdf.page_break_trigger and height < room:
        pdf.add_page()
    else:
        pdf.set_y(pdf.get_y() + 2)
    for p in paragraphs:
        pdf.set_font(FONT, p.style, p.size)
        pdf.set_text_color(*p.color)
        pdf.set_x(MARGIN_X)
        pdf.multi_cell(width, _lh(p.size), p.text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(pdf.get_y() + 1.5)


def _fact(pdf: FPDF, x: float, y: float, w: float, *, label: str, value: str, bold: bool) -> float:
    """``label ........ value`` on one line of the facts column (right-aligned value); the next y."""
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.set_xy(x, y)
    pdf.cell(w * 0.38, _lh(8.5) + 0.8, label, align="L")
    pdf.set_font(FONT, "B" if bold else "", 8.5)
    pdf.set_text_color(*INK)
    pdf.set_xy(x + w * 0.38, y)
    pdf.multi_cell(w * 0.62, _lh(8.5) + 0.8, value, align="R", new_x="LEFT", new_y="NEXT")
    return pdf.get_y()


def _amount_box(
    pdf: FPDF, x: float, y: float, w: float, *, rows: Sequence[tuple[str, str]], brand: tuple[int, int, int]
) -> float:
    """The amount the customer looks for first, in a tinted box; its bottom."""
    label, amount = rows[0]
    height = 4 + _lh(8) + _lh(16) + sum(_lh(8.5) for _l, _v in rows[1:]) + 4
    pdf.set_fill_color(*TINT)
    pdf.rect(x, y, w, height, style="F")
    pdf.set_fill_color(*brand)
    pdf.rect(x, y, 1.2, height, style="F")
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.set_xy(x + 5, y + 4)
    pdf.cell(w - 9, _lh(8), label.upper(), align="L")
    pdf.set_font(FONT, "B", 16)
    pdf.set_text_color(*brand)
    pdf.set_xy(x + 5, y + 4 + _lh(8))
    pdf.cell(w - 9, _lh(16), amount, align="L")
    cy = y + 4 + _lh(8) + _lh(16)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    for _l, value in rows[1:]:
        pdf.set_xy(x + 5, cy)
        pdf.cell(w - 9, _lh(8.5), value, align="L")
        cy += _lh(8.5)
    return y + height


def _block(pdf: FPDF, x: float, y: float, w: float, texts: Iterable[_Text]) -> float:
    """Stacked paragraphs at (x, y), each wrapped to ``w``; the y under the last one."""
    pdf.set_xy(x, y)
    for t in texts:
        if not t.text:
            continue
        pdf.set_font(FONT, t.style, t.size)
        pdf.set_text_color(*t.color)
        pdf.set_x(x)
        pdf.multi_cell(w, _lh(t.size), t.text, align="L", new_x="LEFT", new_y="NEXT")
    return pdf.get_y()


def _measure(pdf: FPDF, w: float, texts: Iterable[_Text]) -> float:
    height = 0.0
    for t in texts:
        if not t.text:
            continue
        pdf.set_font(FONT, t.style, t.size)
        result = pdf.multi_cell(w, _lh(t.size), t.text, align="L", dry_run=True, output="HEIGHT")
        height += float(result)  # type: ignore[arg-type]
    return height


def _lh(size_pt: float) -> float:
    """Line height (mm) of a font size (pt)."""
    return size_pt * MM_PER_PT * 1.32


def _rgb(color: str) -> tuple[int, int, int]:
    text = color.lstrip("#")
    if len(text) != 6:
        text = DEFAULT_BRAND.lstrip("#")
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return _rgb(DEFAULT_BRAND)


# --------------------------------------------------------------------------- the FPDF document


def _new_pdf(*, paper: str, running: str, footer: str, needs_japanese: bool) -> FPDF:
    from fpdf import FPDF

    class Sheet(FPDF):
        footer_height = 0.0

        # fpdf2 2.8.9 marks the font "set on the page" when a line that starts in a fallback font
        # set it inside that line's q/BT ... ET/Q block only (py-pdf/fpdf2#1772): the next line then
        # shows its text with no font (a Japanese address line followed by an email printed
        # nothing). Forgetting the mark after each call makes every call set its font again.
        def cell(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().cell(*args, **kwargs)
            finally:
                self.current_font_is_set_on_page = False

        def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().multi_cell(*args, **kwargs)
            finally:
                self.current_font_is_set_on_page = False

        def start(self) -> None:
            """The first page; the bottom margin leaves room for the footer text."""
            self.add_page()
            if footer:
                self.set_font(FONT, "", 7)
                self.footer_height = float(
                    self.multi_cell(
                        self.w - 2 * MARGIN_X, _lh(7), footer, align="C", dry_run=True, output="HEIGHT"
                    )
                )
            self.set_auto_page_break(True, margin=FOOTER_BOTTOM + self.footer_height + 8)

        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font(FONT, "", 7.5)
            self.set_text_color(*MUTED)
            self.set_xy(MARGIN_X, MARGIN_TOP - 6)
            self.cell(self.w - 2 * MARGIN_X, _lh(7.5), running, align="R")
            self.set_xy(MARGIN_X, MARGIN_TOP)

        def footer(self) -> None:
            width = self.w - 2 * MARGIN_X
            if footer:
                self.set_font(FONT, "", 7)
                self.set_text_color(*MUTED)
                self.set_xy(MARGIN_X, self.h - FOOTER_BOTTOM - self.footer_height - 1.5)
                self.multi_cell(width, _lh(7), footer, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_font(FONT, "", 7.5)
            self.set_text_color(*MUTED)
            self.set_xy(MARGIN_X, self.h - FOOTER_BOTTOM)
            self.cell(width / 2, _lh(7.5), running, align="L")
            self.set_xy(MARGIN_X + width / 2, self.h - FOOTER_BOTTOM)
            self.cell(width / 2, _lh(7.5), f"{self.page_no()}/{{nb}}", align="R")

    pdf = Sheet(orientation="P", unit="mm", format=PAPER.get(paper.lower(), "A4"))
    for (family, style), name in FONT_FILES.items():
        if family != FONT_JP or needs_japanese:
            pdf.add_font(family, style, str(FONTS_DIR / name))
    pdf.set_fallback_fonts([FONT_SYMBOLS, *([FONT_JP] if needs_japanese else [])], exact_match=False)
    pdf.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
    pdf.start()
    return pdf


def _all_text(view: Mapping[str, Any], doc: _Document) -> Iterable[str]:
    """Every string the document may print (to know whether the Japanese font is needed)."""
    yield doc.title
    yield doc.number
    for label, value in doc.facts:
        yield label
        yield value or ""
    for label, amount in doc.box:
        yield label
        yield amount
    for _kind, total, text in doc.summary:
        yield text
        yield total or ""
    yield from doc.closing
    yield doc.payment_instructions or ""
    yield from _strings(view)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _needs_japanese(texts: Iterable[str]) -> bool:
    covered = _coverage()
    return any(ord(c) not in covered for text in texts for c in text if c not in "\n\r\t")


@lru_cache(maxsize=1)
def _coverage() -> frozenset[int]:
    """The code points of the Latin and symbol fonts (loading the Japanese one costs ~0.1 s: only
    for documents that need it)."""
    from fontTools.ttLib import TTFont

    found: set[int] = set()
    for key in ((FONT, ""), (FONT_SYMBOLS, "")):
        with TTFont(str(FONTS_DIR / FONT_FILES[key]), lazy=True) as font:
            found.update(font.getBestCmap())
    return frozenset(found)
