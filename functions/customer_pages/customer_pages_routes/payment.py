"""POST /i/{token}/pay: the hosted page's Pay button (a plain form post). 303 to the provider's
Checkout page for what remains, or a page saying why the invoice cannot be paid now
(``billing.services.hosted.pay_page``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.services import hosted as service
from customer_pages_routes.common import TOKEN, pages, respond

router = Router()


@router.post("/i/<token>/pay", include_in_schema=False)
def pay(token: str) -> Response[str]:
    if not TOKEN.match(token):
        return respond(service.not_found_page())
    return respond(service.pay_page(pages(), token))
