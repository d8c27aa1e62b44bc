"""What every customer page route shares: the service dependencies (built on first use), the
security headers, the token check, form decoding and the ``Page`` → HTTP response mapping."""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from billing.services.hosted import CustomerPages, Page
from billing.settings import get_settings

HTML = "text/html; charset=utf-8"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
MAX_FORM_FIELDS = 20


@cache
def pages() -> CustomerPages:
    """Built on the first request (never at import); the payment provider only when Pay or a
    Checkout return needs it."""
    from billing.gateways.aws import NotificationQueue
    from billing.repositories.account import AccountRepository
    from billing.repositories.checkouts import CheckoutRepository
    from billing.repositories.credit_notes import CreditNoteRepository
    from billing.repositories.customers import CustomerRepository
    from billing.repositories.dunning import DunningRepository
    from billing.repositories.invoice_queries import InvoiceQueryRepository
    from billing.repositories.invoices import InvoiceRepository
    from billing.repositories.payments import PaymentRepository
    from billing.services.account import AccountDefaults, account_reader
    from billing.services.checkout import Checkout

    settings = get_settings()
    table = settings.require("billing_table")
    public_url = settings.public_url or settings.require("api_url")
    notifications = (
        NotificationQueue(url=settings.notifications_queue_url) if settings.notifications_queue_url else None
    )
    invoices = InvoiceRepository(table_name=table)
    payments = PaymentRepository(table_name=table)
    customers = CustomerRepository(table_name=table)

    def checkout() -> Checkout:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        from billing.errors import ProviderUnavailable
        from billing.payments import get_payment_provider
        from billing.services.collection import Collection

        try:
            provider = get_payment_provider()
        except GetParameterError as exc:  # SSM could not be read now: the page says "try again"
            raise ProviderUnavailable(
                "the Stripe key could not be read", code="provider_unavailable"
            ) from exc
        collection = Collection(
            invoices=invoices,
            customers=customers,
            payments=payments,
            provider=provider,
            notifications=notifications,
        )
        return Checkout(
            collection=collection, checkouts=CheckoutRepository(table_name=table), public_url=public_url
        )

    return CustomerPages(
        invoices=invoices,
        payments=payments,
        credit_notes=CreditNoteRepository(table_name=table),
        queries=InvoiceQueryRepository(table_name=table),
        checkout=checkout,
        notifications=notifications,
        seller=account_reader(AccountRepository(table_name=table), AccountDefaults.from_settings(settings)),
        public_url=public_url,
        templates_dir=settings.templates_dir,
        customers=customers,
        dunning=DunningRepository(table_name=table),
    )


@cache
def headers() -> dict[str, str]:
    """No script at all; forms post to the page itself, and the Pay form's redirect goes on to the
    provider's Checkout page (browsers apply ``form-action`` to a form's redirects too)."""
    origin = get_settings().checkout_origin
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
            f"base-uri 'none'; form-action 'self' {origin}; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "private, no-store",
        "X-Robots-Tag": "noindex, nofollow",
    }


def respond(page: Page) -> Response[str]:
    if page.location is not None:
        return Response(status_code=303, body="", headers={**headers(), "Location": page.location})
    return Response(status_code=page.status, content_type=HTML, body=page.html, headers=headers())


def form(router: Router) -> dict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``), first value of each field; anything
    unreadable is an empty form (the service says what is missing)."""
    try:
        body = router.current_event.decoded_body or ""
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # not base64, not UTF-8, too many fields
        return {}
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields
