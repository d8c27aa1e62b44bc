"""The stand-in's hosted Checkout page (``/c/pay/{id}``), like Stripe Checkout in test mode.

Payment mode: what is bought and the amount in the currency's major units, the test cards as choices
or a card-number field taking Stripe's test numbers, Pay, and Back (the session's ``cancel_url``). A
declined card shows the decline on the page and the session stays open for another card; a card
that needs 3-D Secure shows the test challenge (complete or fail it). Setup mode saves a card the
same way. A completed or expired session says so. Plain HTML, no script.
"""

from __future__ import annotations

import html
from typing import Any

from local.stripe_standin.cards import CHECKOUT_CHOICES

Response = tuple[int, dict[str, str], bytes]
_HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
_STYLE = (
    "body{font-family:-apple-system,'Helvetica Neue',Arial,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0}"
    "main{max-width:440px;margin:40px auto;background:#fff;border-radius:8px;padding:28px;"
    "box-shadow:0 2px 8px rgba(0,0,0,.08)}"
    ".test{display:inline-block;background:#ffde92;color:#8f5b00;font-size:12px;font-weight:600;"
    "border-radius:4px;padding:2px 6px}"
    "h1{font-size:16px;font-weight:500;color:#697386;margin:16px 0 4px}"
    ".amount{font-size:32px;font-weight:600;margin:0 0 20px}"
    ".error{background:#fdecea;color:#a41c1c;border-radius:4px;padding:10px 12px;margin-bottom:16px}"
    ".done{background:#e6f6ec;color:#1d6b3a;border-radius:4px;padding:10px 12px}"
    "fieldset{border:1px solid #e3e8ee;border-radius:6px;padding:8px 12px;margin:0 0 12px}"
    "label{display:block;padding:4px 0}"
    "input[type=text]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #cfd7df;border-radius:4px}"
    "button{width:100%;background:#635bff;color:#fff;border:0;border-radius:6px;padding:12px;font-size:16px;"
    "margin-top:12px;cursor:pointer}"
    "button.secondary{background:#fff;color:#a41c1c;border:1px solid #a41c1c}"
    "a.back{display:inline-block;margin-top:16px;color:#635bff}.muted{color:#697386;font-size:12px}"
)


def _document(title: str, body: str, *, status: int = 200) -> Response:
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body><main>"
        f'<span class="test">TEST MODE</span> <span class="muted">Stripe stand-in</span>{body}</main></body></html>'
    )
    return status, dict(_HTML), page.encode()


def not_found() -> Response:
    return _document(
        "Checkout", "<h1>No such Checkout Session</h1><p>This payment link is not valid.</p>", status=404
    )


def _amount(session: dict[str, Any]) -> str:
    from billing.money import format_money

    return format_money(int(session["amount_total"]), str(session["currency"]), "en")


def _back(session: dict[str, Any]) -> str:
    url = session.get("cancel_url")
    return f'<a class="back" href="{html.escape(str(url))}">&larr; Back</a>' if url else ""


def page(session: dict[str, Any], display: dict[str, Any], *, error: str | None = None) -> Response:
    setup = session.get("mode") == "setup"
    what = ", ".join(display.get("product_names") or []) or (
        "Save a card for future payments" if setup else "Payment"
    )
    head = f"<h1>{html.escape(what)}</h1>"
    if not setup:
        head += f'<p class="amount">{html.escape(_amount(session))}</p>'
    status = session.get("status")
    if status == "complete":
        done = "Your card is saved." if setup else "This payment is complete. Thank you."
        link = session.get("success_url")
        more = f'<a class="back" href="{html.escape(str(link))}">Continue</a>' if link else ""
        return _document("Checkout", f'{head}<p class="done">{done}</p>{more}')
    if status == "expired":
        return _document(
            "Checkout", f'{head}<p class="error">This Checkout Session has expired.</p>{_back(session)}'
        )
    notice = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    if display.get("intent_status") == "requires_action":
        challenge = (
            "<p>Your bank asks you to authenticate this payment (3-D Secure test page).</p>"
            '<form method="post"><button name="authenticate" value="complete">Complete authentication'
            '</button><button class="secondary" name="authenticate" value="fail">Fail authentication'
            "</button></form>"
        )
        return _document("3-D Secure", f"{head}{notice}{challenge}{_back(session)}")
    choices = "".join(
        f'<label><input type="radio" name="payment_method" value="{html.escape(pm)}"'
        f"{' checked' if index == 0 else ''}> {html.escape(label)}</label>"
        for index, (pm, label) in enumerate(CHECKOUT_CHOICES)
    )
    pay = "Save card" if setup else f"Pay {_amount(session)}"
    form = (
        '<form method="post"><fieldset><legend>Test card</legend>'
        f"{choices}</fieldset>"
        '<label>or a test card number <input type="text" name="card_number" inputmode="numeric" '
        'autocomplete="off" placeholder="4242 4242 4242 4242"></label>'
        f"<button>{html.escape(pay)}</button></form>"
    )
    return _document("Checkout", f"{head}{notice}{form}{_back(session)}")
