"""The customer portal: sessions (created through the API), the pages a customer opens with the
session's link, and the changes they make there (billing details, payment method).

* **Sessions** (``create_portal_session``): like Stripe's billing portal sessions, short-lived and
  scoped to one customer. The link's token is unguessable (256 bits); only its SHA-256 is stored,
  under a TTL; every request checks the expiry itself (TTL deletion is lazy). An expired link gets a
  410 page, an unknown one a 404 page, never data.
* **Scoping**: every read starts from the session's customer: its invoices and credit notes are
  queried in its own index partitions, an id in a portal URL is looked up and checked against the
  session's customer (another customer's id is a 404 page), a cursor of another list is refused.
* **Changes** go through the services every other path uses (``customers.update_customer`` with all
  its rules, ``payment_methods.set_default_payment_method``), audited with the session as actor
  (source ``portal``). Forms carry the session's CSRF token and the customer version they were read
  from: a double submit changes nothing twice.
* **Payment method**: Checkout in setup mode through the provider adapter; the saved card becomes
  the default on the customer's return or on the ``checkout.session.completed`` webhook, whichever
  comes first (``apply_setup_checkout``: once per Checkout Session, and never over a newer card).

Pages are rendered with the document templates' environment (``documents.render``), in the
customer's language (``views.page_locale``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from billing import clock, i18n
from billing.errors import BillingError, Conflict, ValidationFailed
from billing.formatting import zone_named
from billing.models.account import AccountSettings
from billing.models.customers import ChangeSource, Customer
from billing.models.portal import PortalSession, SetupCheckout
from billing.observability import logger, metrics
from billing.payments.provider import PaymentProvider
from billing.portal import sessions, views
from billing.repositories import keys
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.dynamo import decode_cursor, encode_cursor
from billing.repositories.invoices import InvoiceRepository
from billing.repositories.portal import PortalRepository
from billing.services import customers as customer_service
from billing.services import documents

if TYPE_CHECKING:
    from billing.services.billing_runs import Billing
    from billing.services.dunning import Dunning
    from billing.services.usage import CustomerUsage


SOURCE: ChangeSource = "portal"
LIVE_SUBSCRIPTIONS = frozenset({"trialing", "active", "past_due"})
MAX_DRAFT_SKIPS = 5
"""Queries one invoice page makes at most to fill itself past draft invoices (never shown)."""
_CURSOR_KEYS = {"gsi1": {"pk", "sk", "gsi1pk", "gsi1sk"}, "gsi2": {"pk", "sk", "gsi2pk", "gsi2sk"}}
_ID = re.compile(r"^[a-z]{2}_[A-Za-z0-9_]{1,200}$")
"""The shape of an id in a portal link or query (``in_…``, ``cn_…``, ``cs_…``); anything else is not
looked up."""


# --------------------------------------------------------------------------- sessions (API)


def create_portal_session(
    portal: PortalRepository,
    customers: CustomerRepository,
    customer_ref: str,
    *,
    base_url: str,
    lifetime: timedelta,
    actor: str,
    return_url: str | None = None,
    locale: str | None = None,
) -> tuple[PortalSession, str]:
    """A new session for one customer and its link. Unknown customer: 404 ``customer_not_found``; a
    deleted one: 409 ``customer_deleted`` (its invoices stay, but nobody signs in for it)."""
    customer = customer_service.get_customer(customers, customer_ref)
    if customer.deleted:
        raise Conflict(
            f"customer {customer.id} is deleted: no portal session",
            code="customer_deleted",
            param="customer_id",
        )
    checked_url = sessions.check_return_url(return_url) if return_url is not None else None
    checked_locale = sessions.check_locale(locale) if locale is not None else None
    token = sessions.new_token()
    now = clock.now()
    session = PortalSession(
        id=sessions.new_session_id(),
        customer_id=customer.id,
        created_at=now,
        expires_at=now + lifetime,
        return_url=checked_url,
        locale=checked_locale,
        created_by=actor,
        csrf_token=sessions.new_csrf_token(),
    )
    portal.create_session(session, token_hash=sessions.token_hash(token))
    logger.info("portal session created", portal_session_id=session.id, customer_id=customer.id)
    metrics.add_metric(name="PortalSessionsCreated", unit="Count", value=1)
    return session, sessions.portal_url(base_url, token)


# --------------------------------------------------------------------------- pages: plumbing


@dataclass
class PortalDeps:
    """What the pages read and write, built once per container by the function."""

    portal: PortalRepository
    customers: CustomerRepository
    invoices: InvoiceRepository
    credit_notes: CreditNoteRepository
    seller: Callable[[], AccountSettings]
    billing: Callable[[], Billing] | None = None
    """Subscriptions, catalog and usage: the current period's usage and the upcoming invoice."""
    provider: Callable[[], PaymentProvider] | None = None
    """The payment provider, built only when the card form is used."""
    card_form: Callable[[], bool] = lambda: False
    """Whether a provider is configured: the card form is offered (deciding it reads nothing)."""
    templates_dir: str | None = None
    public_url: str | None = None


@dataclass(frozen=True)
class PortalRequest:
    token: str
    base_url: str
    """The absolute URL the pages are served from (the public URL, else the request's host)."""
    host: str | None = None
    origin: str | None = None
    referer: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PortalResponse:
    status: int
    html: str = ""
    location: str | None = None
    plain: bool = False
    """A page without data (expired, unknown): the invoice page's strictest headers."""


@dataclass(frozen=True)
class _Context:
    session: PortalSession
    customer: Customer
    seller: AccountSettings
    locale: str
    gettext: i18n.Gettext
    base: str
    now: datetime

    @property
    def zone(self) -> Any:
        return zone_named(self.customer.time_zone)

    def frame(self) -> dict[str, Any]:
        return views.frame(
            seller=self.seller,
            customer=self.customer,
            locale=self.locale,
            base=self.base,
            csrf_token=self.session.csrf_token,
            return_url=self.session.return_url,
            _=self.gettext,
        )


class _Refused(Exception):
    def __init__(self, response: PortalResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _message(
    deps: PortalDeps,
    status: int,
    *,
    seller: AccountSettings | None,
    locale: str,
    kind: str,
    back_url: str | None = None,
) -> PortalResponse:
    _ = i18n.gettext_for(locale)
    name = (seller.legal_name if seller else None) or ""
    pages = {
        "expired": (
            _("Link expired"),
            _("This link has expired. Ask %(seller)s for a new one.", seller=name)
            if name
            else _("This link has expired. Ask for a new one."),
        ),
        "not_found": (_("Page not found"), _("This link is not valid. Check that you copied all of it.")),
        "forbidden": (
            _("This form has expired"),
            _("The form could not be sent. Go back, reload the page and try again."),
        ),
        "unavailable": (
            _("Please try again"),
            _("This could not be done right now. Go back and try again in a few minutes."),
        ),
    }
    title, message = pages[kind]
    context = views.message_page(title=title, message=message, locale=locale, seller=seller, _=_)
    context["back"] = (
        {"url": back_url, "label": _("Back to %(seller)s", seller=name) if name else _("Back")}
        if back_url
        else None
    )
    html = documents.render("portal_message.html.j2", templates_dir=deps.templates_dir, **context)
    return PortalResponse(status=status, html=html, plain=True)


def not_found_page(deps: PortalDeps) -> PortalResponse:
    """The page of an unknown link, in the seller's default language (nothing else is known)."""
    seller = deps.seller()
    return _message(deps, 404, seller=None, locale=seller.default_locale, kind="not_found")


def _open(deps: PortalDeps, request: PortalRequest) -> _Context:
    """The session of the link, its customer and the page's language; refuses with the 404 (unknown
    link, deleted customer) or 410 (expired) page."""
    session = (
        deps.portal.get_session(sessions.token_hash(request.token))
        if sessions.is_token(request.token)
        else None
    )
    if session is None:
        raise _Refused(not_found_page(deps))
    customer = deps.customers.get(session.customer_id)
    seller = deps.seller()
    now = clock.now()
    if customer is None or customer.deleted:
        logger.info("portal session of a deleted customer", portal_session_id=session.id)
        raise _Refused(_message(deps, 404, seller=None, locale=seller.default_locale, kind="not_found"))
    locale = views.page_locale(customer, seller, session.locale)
    if session.expired(now):
        logger.info("portal session expired", portal_session_id=session.id)
        raise _Refused(
            _message(deps, 410, seller=seller, locale=locale, kind="expired", back_url=session.return_url)
        )
    return _Context(
        session=session,
        customer=customer,
        seller=seller,
        locale=locale,
        gettext=i18n.gettext_for(locale),
        base=f"/p/{request.token}",
        now=now,
    )


def _checked_form(deps: PortalDeps, request: PortalRequest, ctx: _Context) -> None:
    """A POST of the portal's own form: the session's CSRF token, and no other site's Origin/Referer."""
    given = next(iter(request.form.get("csrf_token") or ()), None)
    same_site = sessions.same_site(
        origin=request.origin, referer=request.referer, host=request.host, public_url=deps.public_url
    )
    if not sessions.csrf_matches(ctx.session.csrf_token, given) or not same_site:
        logger.warning(
            "portal form refused",
            portal_session_id=ctx.session.id,
            same_site=same_site,
            token_given=given is not None,
        )
        metrics.add_metric(name="PortalFormsRefused", unit="Count", value=1)
        raise _Refused(_message(deps, 403, seller=ctx.seller, locale=ctx.locale, kind="forbidden"))


def _render(
    deps: PortalDeps, template: str, ctx: _Context, *, current: str, status: int = 200, **context: Any
) -> PortalResponse:
    """A page of the portal (``current``: its place in the navigation, relative to the session)."""
    frame = ctx.frame()
    html = documents.render(
        template, templates_dir=deps.templates_dir, **frame, current=f"{ctx.base}{current}", **context
    )
    return PortalResponse(status=status, html=html)


def _redirect(location: str) -> PortalResponse:
    return PortalResponse(status=303, location=location)


def _page(fn: Callable[..., PortalResponse]) -> Callable[..., PortalResponse]:
    """Turn a refusal anywhere in ``fn`` into its page, and a failure of a dependency (the payment
    provider) into a "try again" page rather than an API error."""

    def wrapper(deps: PortalDeps, request: PortalRequest, *args: Any) -> PortalResponse:
        try:
            return fn(deps, request, *args)
        except _Refused as refused:
            return refused.response
        except BillingError as exc:
            logger.warning("portal page failed", page=fn.__name__, code=exc.code, error=exc.message)
            seller = deps.seller()
            return _message(deps, 503, seller=seller, locale=seller.default_locale, kind="unavailable")

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _cursor(request: PortalRequest, index: str, partition: str) -> dict[str, Any] | None:
    """The ``?after=`` cursor of this customer's list; a malformed one, or one of another list (another
    customer's), is dropped: the first page is shown instead."""
    try:
        cursor = decode_cursor(request.query.get("after") or None, allowed_keys=_CURSOR_KEYS[index])
    except ValidationFailed:
        return None
    if cursor is None or cursor.get(f"{index}pk") != partition or set(cursor) != _CURSOR_KEYS[index]:
        return None
    # The item the list stopped at: its own key and its index key must name the same id.
    item_id = str(cursor[f"{index}sk"]).rpartition("#")[2]
    if (
        not _ID.match(item_id)
        or cursor["pk"].rpartition("#")[2] != item_id
        or len(str(cursor[f"{index}sk"])) > 100
    ):
        return None
    return cursor


# --------------------------------------------------------------------------- pages


@_page
def overview(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """Billing details, payment method, this period's usage and the upcoming invoice, the latest
    invoices and credit notes."""
    ctx = _open(deps, request)
    _ = ctx.gettext
    invoices, more_invoices = _issued_invoices(deps, ctx.customer.id, limit=views.OVERVIEW_ROWS, cursor=None)
    notes, notes_cursor = deps.credit_notes.list_for_customer(
        ctx.customer.id, limit=views.OVERVIEW_ROWS, cursor=None
    )
    usage, preview = _current_period(deps, ctx.customer)
    logger.info(
        "portal viewed", portal_session_id=ctx.session.id, customer_id=ctx.customer.id, page="overview"
    )
    return _render(
        deps,
        "portal_overview.html.j2",
        ctx,
        current="",
        title=_("Billing"),
        notice=views.notice(request.query.get("notice"), _),
        details=views.billing_details(ctx.customer, locale=ctx.locale, _=_),
        payment_method=views.payment_method(ctx.customer, _),
        can_update_card=deps.provider is not None and deps.card_form(),
        usage=views.usage_rows(usage, locale=ctx.locale, zone=ctx.zone),
        upcoming=views.upcoming(preview, locale=ctx.locale, zone=ctx.zone, _=_),
        invoices=[_invoice_row(ctx, i) for i in invoices],
        more_invoices=more_invoices is not None,
        credit_notes=[_credit_note_row(ctx, n) for n in notes],
        more_credit_notes=notes_cursor is not None,
    )


@_page
def invoices_page(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """The customer's issued invoices, newest first, a page at a time (``?after=`` cursor)."""
    ctx = _open(deps, request)
    _ = ctx.gettext
    cursor = _cursor(request, "gsi1", keys.customer_invoices_partition(ctx.customer.id))
    invoices, last = _issued_invoices(deps, ctx.customer.id, limit=views.PAGE_SIZE, cursor=cursor)
    after = encode_cursor(last)
    return _render(
        deps,
        "portal_invoices.html.j2",
        ctx,
        current="/invoices",
        title=_("Invoices"),
        invoices=[_invoice_row(ctx, i) for i in invoices],
        next_url=f"{ctx.base}/invoices?after={after}" if after else None,
        first_url=f"{ctx.base}/invoices" if request.query.get("after") else None,
    )


@_page
def credit_notes_page(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """The customer's credit notes, newest first, a page at a time."""
    ctx = _open(deps, request)
    _ = ctx.gettext
    cursor = _cursor(request, "gsi2", keys.customer_credit_notes_partition(ctx.customer.id))
    notes, last = deps.credit_notes.list_for_customer(ctx.customer.id, limit=views.PAGE_SIZE, cursor=cursor)
    after = encode_cursor(last)
    return _render(
        deps,
        "portal_credit_notes.html.j2",
        ctx,
        current="/credit-notes",
        title=_("Credit notes"),
        credit_notes=[_credit_note_row(ctx, n) for n in notes],
        next_url=f"{ctx.base}/credit-notes?after={after}" if after else None,
        first_url=f"{ctx.base}/credit-notes" if request.query.get("after") else None,
    )


@_page
def open_invoice(
    deps: PortalDeps, request: PortalRequest, invoice_id: str, document: Literal["page", "pdf"]
) -> PortalResponse:
    """One of the customer's invoices: on to its hosted page (view, pay) or its PDF; another
    customer's invoice (or a draft) is a 404 page."""
    ctx = _open(deps, request)
    invoice = (
        deps.invoices.get(invoice_id) if _ID.match(invoice_id) and invoice_id.startswith("in_") else None
    )
    if (
        invoice is None
        or invoice.customer_id != ctx.customer.id
        or invoice.status == "draft"
        or not invoice.hosted_token
    ):
        if invoice is not None and invoice.customer_id != ctx.customer.id:
            logger.warning("portal asked for another customer's invoice", portal_session_id=ctx.session.id)
        return _message(deps, 404, seller=ctx.seller, locale=ctx.locale, kind="not_found")
    suffix = "/pdf" if document == "pdf" else ""
    return _redirect(f"/i/{invoice.hosted_token}{suffix}")


@_page
def open_credit_note(deps: PortalDeps, request: PortalRequest, credit_note_id: str) -> PortalResponse:
    """One of the customer's credit notes: on to its PDF; another customer's is a 404 page."""
    ctx = _open(deps, request)
    note = (
        deps.credit_notes.get(credit_note_id)
        if _ID.match(credit_note_id) and credit_note_id.startswith("cn_")
        else None
    )
    invoice = (
        deps.invoices.get(note.invoice_id)
        if note is not None and note.customer_id == ctx.customer.id
        else None
    )
    if note is None or invoice is None or invoice.customer_id != ctx.customer.id or not invoice.hosted_token:
        if note is not None and note.customer_id != ctx.customer.id:
            logger.warning(
                "portal asked for another customer's credit note", portal_session_id=ctx.session.id
            )
        return _message(deps, 404, seller=ctx.seller, locale=ctx.locale, kind="not_found")
    return _redirect(f"/i/{invoice.hosted_token}/credit-notes/{note.id}/pdf")


# --------------------------------------------------------------------------- billing details


@_page
def billing_details_form(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    ctx = _open(deps, request)
    return _details_page(deps, ctx, views.details_values(ctx.customer), {})


@_page
def save_billing_details(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """Apply the form through ``customers.update_customer`` (every rule of the API, the tax re-checked,
    audited with this session): saved -> back to the overview; refused -> the form again with the
    reason next to its field (422), nothing written."""
    ctx = _open(deps, request)
    _checked_form(deps, request, ctx)
    values: dict[str, Any] = dict(views.details_values(ctx.customer))
    try:
        values, changes = views.read_details_form(request.form)
        version = int(values["version"]) if str(values.get("version", "")).isdigit() else None
        updated = customer_service.update_customer(
            deps.customers,
            ctx.customer.id,
            changes,
            actor=ctx.session.id,
            source=SOURCE,
            expected_version=version,
            tax_check=_tax_check(deps),
        )
    except (ValidationFailed, Conflict) as exc:
        if exc.code == "customer_deleted":
            return _message(deps, 404, seller=None, locale=ctx.locale, kind="not_found")
        name, message = views.field_error(exc, ctx.gettext)
        logger.info(
            "portal billing details refused", portal_session_id=ctx.session.id, code=exc.code, param=exc.param
        )
        if exc.code == "concurrent_update":
            current = deps.customers.get(ctx.customer.id) or ctx.customer
            values = {**values, "version": str(current.version)}
        return _details_page(deps, ctx, values, {name: message}, status=422)
    if updated.version != ctx.customer.version:
        logger.info("portal billing details saved", portal_session_id=ctx.session.id, customer_id=updated.id)
        metrics.add_metric(name="PortalBillingDetailsSaved", unit="Count", value=1)
    return _redirect(f"{ctx.base}?notice=details_saved")


def _details_page(
    deps: PortalDeps,
    ctx: _Context,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    *,
    status: int = 200,
) -> PortalResponse:
    _ = ctx.gettext
    return _render(
        deps,
        "portal_billing_details.html.j2",
        ctx,
        current="/billing-details",
        status=status,
        title=_("Billing details"),
        form=views.details_form(values, errors, locale=ctx.locale, _=_),
    )


def _tax_check(deps: PortalDeps) -> customer_service.TaxCheck | None:
    """Taxes re-checked on a change of address or tax ids: a taxable customer cannot drop its address
    (its invoices would be held, ``missing_address``), and a change of tax treatment (another
    country or state, a VAT number that makes it reverse charge) is recorded in the audit entry."""
    if deps.billing is None:
        return None
    billing = deps.billing()
    seller_country = billing.seller_country

    def check(before: Customer, after: Customer) -> dict[str, str] | None:
        from billing.services.invoice_drafts import tax_setup_for
        from billing.services.tax_rates import all_tax_rates

        if after.tax_status == "taxable" and after.address is None and before.address is not None:
            raise ValidationFailed(
                "a taxable customer's address decides its taxes",
                code="address_required",
                param="address.country",
            )
        if not seller_country or (before.address == after.address and before.tax_ids == after.tax_ids):
            return None
        rates = all_tax_rates(billing.tax_rates)
        old = tax_setup_for(before, seller_country=seller_country, catalog_rates=rates)
        new = tax_setup_for(after, seller_country=seller_country, catalog_rates=rates)
        if (old.treatment, old.rate_ids) == (new.treatment, new.rate_ids):
            return None
        return {
            "from": _treatment(old.treatment, old.rate_ids),
            "to": _treatment(new.treatment, new.rate_ids),
        }

    return check


def _treatment(name: str, rate_ids: Sequence[str]) -> str:
    """``taxable (de_vat_standard)``: the treatment and the rates every line will carry."""
    return f"{name} ({', '.join(rate_ids)})" if rate_ids else name


# --------------------------------------------------------------------------- payment method


@_page
def start_payment_method_update(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """Checkout in setup mode for this customer: the customer saves a card on the provider's page and
    comes back to ``/payment-method/done`` (or to the overview on cancel)."""
    ctx = _open(deps, request)
    _checked_form(deps, request, ctx)
    if deps.provider is None or not deps.card_form():
        return _redirect(ctx.base)
    provider = deps.provider()
    from billing.services.payment_methods import ensure_provider_customer

    _, provider_customer_id = ensure_provider_customer(deps.customers, provider, ctx.customer.id)
    absolute = f"{request.base_url.rstrip('/')}{ctx.base}"
    link = provider.create_setup_checkout_session(
        provider_customer_id=provider_customer_id,
        success_url=f"{absolute}/payment-method/done?checkout={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{absolute}?notice=card_canceled",
    )
    deps.portal.record_setup_checkout(
        SetupCheckout(
            checkout_session_id=link.session_id,
            customer_id=ctx.customer.id,
            portal_session_id=ctx.session.id,
            started_at=clock.now(),
        )
    )
    logger.info(
        "portal setup checkout started", portal_session_id=ctx.session.id, checkout_session_id=link.session_id
    )
    return _redirect(link.url)


@_page
def finish_payment_method_update(deps: PortalDeps, request: PortalRequest) -> PortalResponse:
    """The customer is back from Checkout: the saved card becomes the default (unless the webhook
    was first), then the overview says so."""
    ctx = _open(deps, request)
    checkout_id = request.query.get("checkout") or ""
    marker = (
        deps.portal.get_setup_checkout(checkout_id)
        if _ID.match(checkout_id) and checkout_id.startswith("cs_")
        else None
    )
    if marker is None or marker.customer_id != ctx.customer.id or deps.provider is None:
        return _redirect(ctx.base)
    outcome = apply_setup_checkout(deps.portal, deps.customers, deps.provider(), checkout_id)
    notice = {"applied": "card_saved", "unchanged": "card_saved", "superseded": "card_superseded"}.get(
        outcome, "card_pending"
    )
    return _redirect(f"{ctx.base}?notice={notice}")


SetupOutcome = Literal["applied", "unchanged", "superseded", "pending", "ignored"]


def apply_setup_checkout(
    portal: PortalRepository,
    customers: CustomerRepository,
    provider: PaymentProvider,
    checkout_session_id: str,
    *,
    dunning: Dunning | None = None,
) -> SetupOutcome:
    """Make the card saved by a portal's Checkout Session (setup mode) the customer's default, once.
    Called on the customer's return (``finish_payment_method_update``) and by the
    ``checkout.session.completed`` webhook, in any order, any number of times:

    * ``ignored``: not a session the portal started, or not for that customer's provider customer;
    * ``pending``: not complete yet (the return came before Checkout finished);
    * ``unchanged``: applied before (the other path came first);
    * ``superseded``: the payment method changed after this session started (a newer card, a late
      webhook): the card stays saved at the provider, the newer one stays the default;
    * ``applied``: the card is the default now.

    ``dunning`` (the webhook's path, the function that owns payments): once the card is the default,
    the customer's invoices waiting in dunning are retried with it at once (a repeat is a no-op while
    the retry runs)."""
    from billing.services.dunning import retry_now_for_customer

    marker = portal.get_setup_checkout(checkout_session_id)
    if marker is None:
        return "ignored"
    outcome = _apply(portal, customers, provider, marker)
    if dunning is not None and outcome in ("applied", "unchanged"):
        current = portal.get_setup_checkout(checkout_session_id)
        if current is not None and current.outcome == "applied":
            retry_now_for_customer(dunning, marker.customer_id)
    return outcome


def _apply(
    portal: PortalRepository, customers: CustomerRepository, provider: PaymentProvider, marker: SetupCheckout
) -> SetupOutcome:
    from billing.services.payment_methods import set_default_payment_method

    if marker.applied_at is not None:  # the other path came first: say what it found
        return "superseded" if marker.outcome == "superseded" else "unchanged"
    found = provider.retrieve_checkout_session(session_id=marker.checkout_session_id)
    customer = customers.get(marker.customer_id)
    card = found.setup_payment_method
    if customer is None or customer.deleted or found.mode != "setup":
        return "ignored"
    if found.provider_customer_id != customer.provider_customer_id:
        logger.warning(
            "setup checkout of another provider customer", checkout_session_id=marker.checkout_session_id
        )
        return "ignored"
    if found.status != "complete" or card is None:
        return "pending"
    changed = customer.payment_method_updated_at
    if customer.default_payment_method != card.id and changed is not None and changed > marker.started_at:
        if not portal.finish_setup_checkout(
            marker.checkout_session_id, outcome="superseded", payment_method=card.id, at=clock.now()
        ):
            return "unchanged"
        logger.info("setup checkout superseded", checkout_session_id=marker.checkout_session_id)
        return "superseded"
    assert customer.provider_customer_id is not None
    info = provider.attach_payment_method(
        provider_customer_id=customer.provider_customer_id, payment_method_id=card.id, make_default=True
    )
    stored = set_default_payment_method(
        customers,
        customer.id,
        info,
        actor=marker.portal_session_id,
        source=SOURCE,
        unless_changed_after=marker.started_at,
    )
    outcome: SetupOutcome = "applied" if stored.default_payment_method == info.id else "superseded"
    if not portal.finish_setup_checkout(
        marker.checkout_session_id, outcome=outcome, payment_method=info.id, at=clock.now()
    ):
        return "unchanged"
    logger.info("setup checkout applied", checkout_session_id=marker.checkout_session_id, outcome=outcome)
    metrics.add_metric(name="PortalPaymentMethodsReplaced", unit="Count", value=1)
    return outcome


# --------------------------------------------------------------------------- reads


def _issued_invoices(
    deps: PortalDeps, customer_id: str, *, limit: int, cursor: dict[str, Any] | None
) -> tuple[list[Any], dict[str, Any] | None]:
    """Up to ``limit`` issued invoices (drafts are never shown), newest first, and where the next page
    starts. Each query reads at most what is still missing, so the cursor never skips one."""
    found: list[Any] = []
    for _ in range(MAX_DRAFT_SKIPS):
        page = deps.invoices.list_for_customer(
            customer_id, limit=limit - len(found), cursor=cursor, issued_only=True
        )
        found += page.invoices
        cursor = page.last_key
        if cursor is None or len(found) >= limit:
            break
    return found, cursor


def _invoice_row(ctx: _Context, invoice: Any) -> dict[str, Any]:
    return views.invoice_row(
        invoice, base=ctx.base, now=ctx.now, locale=ctx.locale, zone=ctx.zone, _=ctx.gettext
    )


def _credit_note_row(ctx: _Context, note: Any) -> dict[str, Any]:
    return views.credit_note_row(note, base=ctx.base, locale=ctx.locale, zone=ctx.zone)


def _current_period(deps: PortalDeps, customer: Customer) -> tuple[CustomerUsage | None, Any]:
    """This period's usage per metric (from the earliest current period start of the customer's live
    subscriptions until now) and the upcoming invoice (``billing_runs.preview_upcoming``). Nothing
    without a live subscription; a failure here never hides the rest of the page."""
    if deps.billing is None:
        return None, None
    from billing.services.billing_runs import preview_upcoming
    from billing.services.usage import get_current_usage

    billing = deps.billing()
    try:
        subs, _ = billing.subscriptions.list_for_customer(customer.id, limit=100, cursor=None)
        starts = [
            item.current_period_start
            for sub in subs
            if sub.status in LIVE_SUBSCRIPTIONS
            for item in sub.items
            if item.ended_at is None
        ]
        if not starts:
            return None, None
        now = clock.now()
        start = min(*starts, now - timedelta(seconds=1))
        usage = None
        if billing.usage is not None:
            usage = get_current_usage(
                store=billing.usage,
                customers=billing.customers,
                metrics=billing.metrics,
                customer_ref=customer.id,
                start=start,
                end=now,
            )
        result = preview_upcoming(billing, customer_id=customer.id)
        return usage, (result.invoices[0] if result.invoices else None)
    except BillingError as exc:
        logger.warning("portal could not preview the period", customer_id=customer.id, code=exc.code)
        return None, None


__all__ = [
    "PortalDeps",
    "PortalRequest",
    "PortalResponse",
    "apply_setup_checkout",
    "billing_details_form",
    "create_portal_session",
    "credit_notes_page",
    "finish_payment_method_update",
    "invoices_page",
    "not_found_page",
    "open_credit_note",
    "open_invoice",
    "overview",
    "save_billing_details",
    "start_payment_method_update",
]
