"""GET /i/{token}: the hosted invoice page; GET /i/{token}/receipt: its receipt. For the customer
(no API key; the token is the secret).

The page is rendered from the frozen invoice on each view, so it shows the invoice's current state
(paid, void, credit notes). Back from Checkout (``?checkout=success&session_id=cs_…``) the payment is
confirmed with the provider first (``billing.services.checkout.confirm_checkout_return``). An unknown
token gets a plain 404 page, never a hint whether such an invoice exists.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.services import hosted as service
from customer_pages_routes.common import TOKEN, pages, respond

router = Router()


@router.get("/i/<token>", include_in_schema=False)
def hosted_invoice(token: str) -> Response[str]:
    if not TOKEN.match(token):
        return respond(service.not_found_page())
    query = router.current_event.query_string_parameters or {}
    return respond(
        service.hosted_invoice_page(
            pages(),
            token,
            checkout=query.get("checkout"),
            session_id=query.get("session_id"),
            question=query.get("question"),
        )
    )


@router.get("/i/<token>/receipt", include_in_schema=False)
def receipt(token: str) -> Response[str]:
    if not TOKEN.match(token):
        return respond(service.not_found_page())
    return respond(service.receipt_page(pages(), token))
