"""/p/{token}/...: the customer portal (no API key; the session's token in the path is the secret).

Each route reads the request into a ``PortalRequest``, calls one function of
``billing.services.portal`` and sends its page, redirect or refusal with the portal's headers: a
strict CSP (no script at all; forms post to the page's own origin, and the card form on to the
payment provider's Checkout), no-store, noindex, and ``Referrer-Policy: same-origin`` so that the
browser sends the real ``Origin`` with the forms (``no-referrer`` would make it ``null``) while no
other site ever gets the link. Pages without data (unknown or expired link) use the invoice page's
headers unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.portal import PortalRepository
from billing.services import portal as service
from billing.settings import get_settings
from customer_pages_routes.common import HTML, headers, pages

router = Router()


@cache
def deps() -> service.PortalDeps:
    """Built on the first request (never at import)."""
    settings = get_settings()
    table = settings.require("billing_table")
    return service.PortalDeps(
        portal=PortalRepository(table_name=table),
        customers=CustomerRepository(table_name=table),
        invoices=InvoiceRepository(table_name=table),
        credit_notes=CreditNoteRepository(table_name=table),
        seller=lambda: pages().seller(),
        billing=_billing,
        provider=_provider,
        card_form=_card_form,
        templates_dir=settings.templates_dir,
        public_url=settings.public_url,
    )


@cache
def _billing() -> Any:
    from billing.services.billing_runs import billing_from_settings

    return billing_from_settings(get_settings(), queue=False, usage=True)


def _provider() -> Any:
    """The payment provider, built when the card form is used (never to show a page); an SSM read that
    fails now is a "try again" page."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from billing.errors import ProviderUnavailable
    from billing.payments import get_payment_provider

    try:
        return get_payment_provider()
    except GetParameterError as exc:
        raise ProviderUnavailable("the Stripe key could not be read", code="provider_unavailable") from exc


def _card_form() -> bool:
    """Whether a Stripe key is configured (the card form is offered); nothing is read to know it."""
    return bool(os.environ.get("STRIPE_API_KEY") or os.environ.get("STRIPE_API_KEY_PARAM"))


def page_headers() -> dict[str, str]:
    """The customer pages' headers (``common.headers``: CSP with the card form's Checkout origin in
    ``form-action``), with ``Referrer-Policy: same-origin`` so that the forms' POSTs carry the page's
    real ``Origin`` (``no-referrer`` makes it ``null``)."""
    return {**headers(), "Referrer-Policy": "same-origin"}


def _request(token: str) -> service.PortalRequest:
    event = router.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    domain = event.request_context.domain_name
    base_url = get_settings().public_url or f"https://{domain}"
    form: dict[str, list[str]] = {}
    if event.http_method == "POST" and event.body:
        try:
            form = parse_qs(event.decoded_body or "", keep_blank_values=True, max_num_fields=100)
        except ValueError:  # more fields than any portal form has: not our form (refused as such)
            form = {}
    return service.PortalRequest(
        token=token,
        base_url=base_url,
        host=domain,
        origin=headers.get("origin"),
        referer=headers.get("referer"),
        query=dict(event.query_string_parameters or {}),
        form=form,
    )


def _send(result: service.PortalResponse) -> Response[str]:
    sent = dict(headers()) if result.plain else page_headers()
    if result.location is not None:
        sent["Location"] = result.location
    return Response(status_code=result.status, content_type=HTML, body=result.html, headers=sent)


def _handle(page: Callable[..., service.PortalResponse], token: str, *args: Any) -> Response[str]:
    return _send(page(deps(), _request(token), *args))


@router.get("/p/<token>", include_in_schema=False)
def overview(token: str) -> Response[str]:
    return _handle(service.overview, token)


@router.get("/p/<token>/invoices", include_in_schema=False)
def invoices(token: str) -> Response[str]:
    return _handle(service.invoices_page, token)


@router.get("/p/<token>/invoices/<invoice_id>", include_in_schema=False)
def invoice(token: str, invoice_id: str) -> Response[str]:
    return _handle(service.open_invoice, token, invoice_id, "page")


@router.get("/p/<token>/invoices/<invoice_id>/pdf", include_in_schema=False)
def invoice_pdf(token: str, invoice_id: str) -> Response[str]:
    return _handle(service.open_invoice, token, invoice_id, "pdf")


@router.get("/p/<token>/credit-notes", include_in_schema=False)
def credit_notes(token: str) -> Response[str]:
    return _handle(service.credit_notes_page, token)


@router.get("/p/<token>/credit-notes/<credit_note_id>/pdf", include_in_schema=False)
def credit_note_pdf(token: str, credit_note_id: str) -> Response[str]:
    return _handle(service.open_credit_note, token, credit_note_id)


@router.get("/p/<token>/billing-details", include_in_schema=False)
def billing_details(token: str) -> Response[str]:
    return _handle(service.billing_details_form, token)


@router.post("/p/<token>/billing-details", include_in_schema=False)
def save_billing_details(token: str) -> Response[str]:
    return _handle(service.save_billing_details, token)


@router.post("/p/<token>/payment-method", include_in_schema=False)
def replace_payment_method(token: str) -> Response[str]:
    return _handle(service.start_payment_method_update, token)


@router.get("/p/<token>/payment-method/done", include_in_schema=False)
def payment_method_done(token: str) -> Response[str]:
    return _handle(service.finish_payment_method_update, token)
