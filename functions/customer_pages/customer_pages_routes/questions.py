"""POST /i/{token}/questions: "Question about this invoice?" (a plain form post: email, name,
message, the render's nonce). 303 back to the invoice once stored, or a page saying what to fix
(``billing.services.hosted.question_page``); never a 5xx for what is posted."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.services import hosted as service
from customer_pages_routes.common import TOKEN, form, pages, respond

router = Router()


@router.post("/i/<token>/questions", include_in_schema=False)
def ask(token: str) -> Response[str]:
    if not TOKEN.match(token):
        return respond(service.not_found_page())
    return respond(service.question_page(pages(), token, form(router)))
