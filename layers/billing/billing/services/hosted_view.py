"""What the hosted invoice page shows, decided from its state (``hosted.HostedPageState``). Pure: no
I/O, so every state of the page is tested without a table.

The page (``hosted_invoice.html.j2``, around the invoice document) has:

* a **status panel** above the document that always agrees with the invoice now (``panel``): its
  ``kind`` is one of

  ===================  =============================================================  =====
  kind                 when                                                           Pay
  ===================  =============================================================  =====
  ``paid``             paid (how: ``settled``; the method of the last payment)        no
  ``void``             voided                                                         no
  ``processing``       a charge of ours is in flight, or a payment is processing      no
  ``autopay``          charge_automatically, a card on file, no attempt failed yet,   no
                       not overdue: the card is charged when the invoice is issued
  ``autopay_failed``   charge_automatically and the last automatic charge failed      yes
                       (the reason, the next retry's date)
  ``uncollectible``    written off by the seller: what remains unpaid                 yes
  ``overdue``          open, something remains, past the due date                     yes
  ``open``             open, something remains                                        yes
  ===================  =============================================================  =====

  "Pay" is the Checkout form (``payable`` from ``checkout.checkout_refusal``, and not for
  ``autopay``/``processing``: the automatic charge does not look for a Checkout Session, so the page
  does not invite a second payment while one is coming). ``breakdown`` lists total, credit applied,
  credit notes, paid and remaining whenever what remains is not the whole total;
* a **notice** of what just happened (back from Checkout, canceled): ``notice``;
* the **payment history** (``history``), the invoice's **documents** (its PDF and its credit notes'),
  and its **questions** with the form to ask one (``questions``, ``question_form``).

Every value is formatted for the invoice's locale here; the templates word them (``_()``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from billing import clock, i18n
from billing.formatting import Formatter
from billing.models.account import AccountSettings
from billing.payments.declines import customer_decline_reason, decline_reason
from billing.services import documents

if TYPE_CHECKING:
    from billing.services.hosted import HostedPageState
    from billing.services.payment_history import ActivityEntry

PanelKind = Literal[
    "paid", "void", "processing", "autopay", "autopay_failed", "uncollectible", "overdue", "open"
]
TONES: dict[PanelKind, str] = {
    "paid": "paid",
    "void": "neutral",
    "processing": "info",
    "autopay": "info",
    "autopay_failed": "alert",
    "uncollectible": "alert",
    "overdue": "alert",
    "open": "info",
}
"""The panel's colour: green (paid), blue (something to do, or nothing yet), red (late or failed),
grey (void)."""
QUESTION_FIELDS = ("email", "name", "message", "nonce")


def page_view(
    state: HostedPageState, *, seller: AccountSettings, page_path: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything ``hosted_invoice.html.j2`` prints: the invoice document's view
    (``documents.invoice_view``) plus the panel, notice, history, documents and questions.

    ``page_path`` is the page's own path (``/i/{token}``, under the public URL's path if it has one):
    links and forms are absolute paths from it, so they work on whichever host serves the page (the
    CSP's ``form-action 'self'``) and also from the page answering a refused question, whose address
    is ``…/questions``."""
    invoice = state.invoice
    moment = now or clock.now()
    view = documents.invoice_view(invoice, seller=seller, hosted=True, now=moment)
    locale = str(view["locale"])
    _ = i18n.gettext_for(locale)
    fmt = documents.formatter(invoice, locale)
    view.update(
        brand_text=text_color_on(str(view["seller"]["brand_color"])),
        pdf_href=f"{page_path}/pdf",
        pay_action=f"{page_path}/pay",
        question_action=f"{page_path}/questions",
        receipt_href=f"{page_path}/receipt" if state.receipt_available else None,
        panel=panel(
            state, fmt=fmt, gettext=_, instructions=view["seller"]["payment_instructions"], now=moment
        ),
        notice=notice(state, fmt=fmt, gettext=_),
        history=history(state.activity, fmt=fmt, page_path=page_path),
        credit_notes=[
            {
                "number": entry.credit_note_number,
                "date": fmt.date(entry.at),
                "amount": fmt.money(entry.amount),
                "pdf_href": f"{page_path}/credit-notes/{entry.reference}/pdf",
            }
            for entry in state.activity
            if entry.kind == "credit_note"
        ],
        questions=[
            {
                "name": query.name,
                "message": query.message,
                "asked": fmt.date(query.created_at),
                "status": query.status,
                "resolved": fmt.date(query.resolved_at),
                "resolution": query.resolution,
            }
            for query in state.queries
        ],
        question_form=question_form(state),
    )
    return view


# --------------------------------------------------------------------------- the status panel


def panel_kind(state: HostedPageState, *, now: datetime) -> PanelKind:
    """Which state the panel shows (see the module docstring)."""
    invoice = state.invoice
    if invoice.status == "paid":
        return "paid"
    if invoice.status == "void":
        return "void"
    if invoice.amount_remaining > 0 and (
        invoice.payment_in_flight
        or any(a.kind == "payment" and a.status == "processing" for a in state.activity)
    ):
        return "processing"
    overdue = invoice.due_date is not None and invoice.due_date < now and invoice.amount_remaining > 0
    if invoice.status == "uncollectible":
        return "uncollectible"
    if invoice.collection_method == "charge_automatically" and invoice.amount_remaining > 0:
        if invoice.last_payment_error:
            return "autopay_failed"
        if state.card_on_file and not overdue:
            return "autopay"
    return "overdue" if overdue else "open"


def panel(
    state: HostedPageState, *, fmt: Formatter, gettext: i18n.Gettext, instructions: str | None, now: datetime
) -> dict[str, Any]:
    invoice = state.invoice
    kind = panel_kind(state, now=now)
    pays = kind in ("open", "overdue", "uncollectible", "autopay_failed")
    received = [
        a for a in state.activity if a.kind in ("payment", "out_of_band_payment") and a.status != "failed"
    ]
    return {
        "kind": kind,
        "tone": TONES[kind],
        "number": invoice.number or invoice.id,
        "amount": fmt.money(invoice.amount_remaining),
        "total": fmt.money(invoice.total),
        "paid_amount": fmt.money(invoice.amount_paid),
        "due": fmt.date(invoice.due_date),
        "paid_on": fmt.date(invoice.paid_at),
        "voided_on": fmt.date(invoice.voided_at),
        "settled": state.settled,
        "method": received[-1].method if received else None,
        "card": state.card_on_file,
        "next_retry": fmt.date(state.next_retry_at) if kind == "autopay_failed" else None,
        "decline_reason": decline_reason(invoice.last_payment_error, gettext)
        if kind == "autopay_failed"
        else None,
        "breakdown": breakdown(state, fmt=fmt),
        "pay": pays and state.payable,
        "instructions": instructions if pays and invoice.amount_remaining > 0 else None,
    }


def breakdown(state: HostedPageState, *, fmt: Formatter) -> list[dict[str, str]]:
    """From the total to what remains, when something was paid or credited (else nothing: the
    headline says it all). ``key``: ``total``, ``credit_applied``, ``credit_notes``, ``paid``,
    ``remaining``; credits and payments are printed as deductions."""
    invoice = state.invoice
    if invoice.status == "void":
        return []
    deductions = [
        ("credit_applied", invoice.credit_applied),
        ("credit_notes", invoice.credit_notes_total),
        ("paid", invoice.amount_paid),
    ]
    shown = [(key, amount) for key, amount in deductions if amount]
    if not shown or (invoice.status == "paid" and len(shown) == 1 and state.settled != "mixed"):
        return []
    rows = [{"key": "total", "amount": fmt.money(invoice.total)}]
    rows += [{"key": key, "amount": fmt.money(-amount)} for key, amount in shown]
    rows.append({"key": "remaining", "amount": fmt.money(invoice.amount_remaining)})
    return rows


# --------------------------------------------------------------------------- what just happened


def notice(state: HostedPageState, *, fmt: Formatter, gettext: i18n.Gettext) -> dict[str, Any] | None:
    """The outcome of a return from Checkout (``kind``: ``paid``, ``partially_paid``, ``unapplied``,
    ``not_paid``, ``expired``, ``pending``) or of leaving it (``canceled``, with the last card
    refused, if any); None otherwise."""
    returned = state.checkout_return
    invoice = state.invoice
    if returned is not None:
        if returned.outcome in ("recorded", "already_recorded"):
            kind = "paid" if invoice.status == "paid" else "partially_paid"
            return {"kind": kind, "remaining": fmt.money(invoice.amount_remaining), "reason": None}
        if returned.outcome == "not_paid":
            code = (returned.decline or {}).get("decline_code") or (returned.decline or {}).get("code")
            return {"kind": "not_paid", "reason": customer_decline_reason(code, gettext) if code else None}
        if returned.outcome in ("unapplied", "expired"):
            return {"kind": returned.outcome, "reason": None}
        if returned.outcome == "unavailable":
            return {"kind": "pending", "reason": None}
        return None
    if state.checkout_canceled:
        last = state.activity[-1] if state.activity else None
        reason = last.decline_reason if last is not None and last.kind == "payment_failed" else None
        return {"kind": "canceled", "reason": reason}
    return None


# --------------------------------------------------------------------------- history and questions


def history(activity: list[ActivityEntry], *, fmt: Formatter, page_path: str) -> list[dict[str, Any]]:
    """The payment history, oldest first: ``kind`` and ``status`` (worded by the template), date,
    amount, method, the refusal's reason, a credit note's number and PDF."""
    return [
        {
            "kind": entry.kind,
            "status": entry.status,
            "date": fmt.date(entry.at),
            "amount": fmt.money(entry.amount),
            "method": entry.method,
            "reason": entry.decline_reason,
            "credit_note_number": entry.credit_note_number,
            "pdf_href": f"{page_path}/credit-notes/{entry.reference}/pdf"
            if entry.kind == "credit_note"
            else None,
        }
        for entry in activity
    ]


def question_form(state: HostedPageState) -> dict[str, Any]:
    """The question form's fields: a refused submission's values and errors, else the customer's
    first billing email (the link was sent there) and empty fields; the nonce of this render."""
    refused = state.question_form
    errors = refused.errors if refused is not None else {}
    fields = {
        "errors": {field: errors.get(field) for field in QUESTION_FIELDS},
        "invalid": bool(errors),
    }
    if refused is not None:
        return {
            "email": refused.email,
            "name": refused.name,
            "message": refused.message,
            "nonce": refused.nonce,
            "sent": False,
            **fields,
        }
    emails = [str(e) for e in state.invoice.customer_snapshot.get("emails") or []]
    return {
        "email": emails[0] if emails else "",
        "name": "",
        "message": "",
        "nonce": state.question_nonce,
        "sent": state.question_sent,
        **fields,
    }


def text_color_on(background: str) -> str:
    """Dark or white text, whichever reads better on ``background`` (``#RRGGBB``; WCAG relative
    luminance): the Pay button takes the seller's brand colour."""
    try:
        red, green, blue = (int(background.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        return "#ffffff"

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # White text contrasts better than near-black (#111827, L ≈ 0.012) below this luminance.
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.062) else "#111827"


__all__ = ["PanelKind", "breakdown", "history", "notice", "page_view", "panel", "panel_kind", "question_form"]
