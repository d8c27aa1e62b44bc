"""The invoice lifecycle from a draft onwards: one-off invoices, pre-send checks, finalization
(number, frozen amounts, customer snapshot), void, uncollectible, paid, and the finalizer schedule.

```
            finalize (checks pass)                 pay / credit notes cover it
  draft ─────────────────────────────▶ open ─────────────────────────────────▶ paid
    │  ▲                                 │ ╲ mark-uncollectible                  ▲
    │  └─ checks fail: hold_reasons,     │  ╲──────────────▶ uncollectible ──────┘ pay
    │     stays draft, no number         │                         │
    └─ total 0 (or credit covers it) ────┼──▶ paid                 │ void
                                         └─ void ──▶ void ◀────────┘
```

Every change is one conditional write on the invoice's ``version`` and ``status`` (a transaction
when other items change with it), retried on a lost race after re-reading: two concurrent
requests never both succeed, and the loser gets the 409 that describes the state it lost to.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from billing import clock
from billing.discounts import AppliedCoupon, parse_coupon
from billing.errors import BillingError, Conflict, NotFound, ProviderUnavailable, ValidationFailed
from billing.invoicing.totals import InvoiceTotals, PricedLine, compute_totals
from billing.models.account import AccountSettings
from billing.models.catalog import TaxRate
from billing.models.customers import Customer
from billing.models.invoices import (
    INVOICE_ID_PREFIX,
    CouponTotal,
    Invoice,
    InvoiceLine,
    LineTax,
    OutOfBandMethod,
    TaxTotal,
)
from billing.money import normalize_currency, to_decimal
from billing.observability import logger, metrics
from billing.repositories.account import AccountRepository
from billing.repositories.catalog import CouponRepository, TaxRateRepository
from billing.repositories.customers import CustomerRepository
from billing.repositories.invoices import (
    InvoiceRepository,
    InvoiceWriteConflict,
    credit_balance_action,
    open_invoices_action,
)
from billing.repositories.payments import PaymentRepository, pending_payment_put
from billing.repositories.transactions import timestamp
from billing.services import invoice_drafts as drafts
from billing.services import journal, numbering, receipts
from billing.services.account import AccountDefaults, AccountReader, account_reader
from billing.services.outbox import (
    NOTIFICATION_INVOICE_FINALIZED,
    NotificationSink,
    send_pending_notification,
)
from billing.services.tax_rates import all_tax_rates, as_tax_rate, ensure_default_tax_rates
from billing.tax import REVERSE_CHARGE_RATE_ID, default_rates
from billing.tax import TaxRate as CoreTaxRate

CollectionMethod = Literal["charge_automatically", "send_invoice"]
MAX_ATTEMPTS = 25
"""Optimistic retries of one state change (a lost race re-reads and tries again)."""
MAX_ONE_OFF_LINES = 100
DEFAULT_DAYS_UNTIL_DUE = 30
"""``send_invoice`` invoices without ``days_until_due`` are due 30 days after finalization."""
VAT_ID_TYPES = frozenset({"eu_vat", "gb_vat", "ch_vat", "no_vat"})
"""Tax ids that make a customer a VAT-registered business (reverse charge needs one on the invoice)."""
PENDING_NOTIFICATION_GRACE = timedelta(minutes=5)
"""The finalizer re-enqueues a committed notification only after this long (the normal path enqueues
right after the commit; waiting avoids a duplicate message in the common case)."""


class PaymentMethodCheck(Protocol):
    def __call__(self, customer: Customer) -> bool: ...


def has_payment_method(customer: Customer) -> bool:
    """Whether the customer can be charged automatically: a default payment method attached through
    ``POST /v1/customers/{id}/payment-methods`` (``billing.services.payment_methods``), or, for
    customers set up before payments existed, a ``payment_method_id`` in its metadata."""
    return bool(customer.default_payment_method or customer.metadata.get("payment_method_id"))


@dataclass(frozen=True, kw_only=True)
class Invoicing:
    """What the invoice services work with (built once per container by the handler)."""

    invoices: InvoiceRepository
    customers: CustomerRepository
    tax_rates: TaxRateRepository
    coupons: CouponRepository
    queue: NotificationSink | None = None
    numbering: numbering.NumberingMode = "per_customer"
    account_prefix: str = "INV"
    payment_method_check: PaymentMethodCheck = field(default=has_payment_method)
    payments_queue: NotificationSink | None = None
    """PaymentAttempts: an open ``charge_automatically`` invoice's collection job is sent here."""
    seller_country: str | None = None
    """To tax at finalization a cycle draft priced while the customer had no address."""
    seller: AccountReader
    """The seller's identity (``billing.services.account``): checked, then frozen on the invoice."""


def invoicing_from_settings(settings: Any) -> Invoicing:
    """The dependencies of the invoice services, from ``billing.settings.Settings``."""
    table = settings.require("billing_table")
    queue: NotificationSink | None = None
    if settings.notifications_queue_url:
        from billing.gateways.aws import NotificationQueue

        queue = NotificationQueue(url=settings.notifications_queue_url)
    payments_queue: NotificationSink | None = None
    if settings.payment_attempts_queue_url:
        from billing.gateways.aws import NotificationQueue

        payments_queue = NotificationQueue(url=settings.payment_attempts_queue_url)
    return Invoicing(
        payments_queue=payments_queue,
        invoices=InvoiceRepository(table_name=table),
        customers=CustomerRepository(table_name=table),
        tax_rates=TaxRateRepository(table_name=table),
        coupons=CouponRepository(table_name=table),
        queue=queue,
        numbering=settings.invoice_numbering,
        account_prefix=settings.invoice_account_prefix,
        seller_country=settings.seller_country,
        seller=account_reader(AccountRepository(table_name=table), AccountDefaults.from_settings(settings)),
    )


# --------------------------------------------------------------------------- reads


def get_invoice(deps: Invoicing, invoice_id: str) -> Invoice:
    invoice = deps.invoices.get(invoice_id) if invoice_id.startswith(INVOICE_ID_PREFIX) else None
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id!r}", code="invoice_not_found", param="invoice_id")
    return invoice


def is_overdue(invoice: Invoice, now: datetime) -> bool:
    """Open, something still to pay, and past its due date."""
    return (
        invoice.status == "open"
        and invoice.amount_remaining > 0
        and invoice.due_date is not None
        and invoice.due_date < now
    )


def list_invoices(
    deps: Invoicing,
    *,
    customer: str | None,
    status: str | None,
    overdue: bool,
    limit: int,
    cursor: dict[str, Any] | None,
) -> tuple[list[Invoice], dict[str, Any] | None]:
    """Newest first; by customer (and status), by status, or all (grouped by status)."""
    due_before = None
    if overdue:
        if status not in (None, "open"):
            raise ValidationFailed(
                "overdue invoices are open: drop status or use status=open",
                code="conflicting_filters",
                param="overdue",
            )
        status, due_before = "open", clock.now()
    if customer is not None:
        found = deps.customers.resolve(customer)
        if found is None:
            raise NotFound(f"no customer {customer!r}", code="customer_not_found", param="customer")
        page = deps.invoices.list_for_customer(
            found.id, limit=limit, cursor=cursor, status=status, due_before=due_before
        )
    elif status is not None:
        page = deps.invoices.list_by_status(status, limit=limit, cursor=cursor, due_before=due_before)
    else:
        page = deps.invoices.list_all(limit=limit, cursor=cursor)
    invoices = page.invoices
    if due_before is not None:  # amount_remaining 0 is not overdue (filters in the query are by date)
        invoices = [i for i in invoices if is_overdue(i, due_before)]
    return invoices, page.last_key


def list_lines(
    invoice: Invoice, *, limit: int, starting_after: str | None
) -> tuple[list[InvoiceLine], str | None]:
    """A page of the invoice's lines in order; returns the id to continue after (or None)."""
    lines = invoice.lines
    start = 0
    if starting_after is not None:
        ids = [line.id for line in lines]
        if starting_after not in ids:
            raise ValidationFailed("cursor is not valid", code="invalid_cursor", param="starting_after")
        start = ids.index(starting_after) + 1
    chunk = lines[start : start + limit]
    more = start + limit < len(lines)
    return chunk, (chunk[-1].id if more and chunk else None)


# --------------------------------------------------------------------------- one-off invoices


@dataclass(frozen=True, slots=True, kw_only=True)
class OneOffLine:
    description: str
    quantity: Decimal
    unit_amount_decimal: Decimal
    """Minor units (may have decimals: ``"0.5"`` is half a cent)."""
    tax_rate_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OneOffInvoice:
    customer: str
    currency: str | None = None
    lines: tuple[OneOffLine, ...]
    coupons: tuple[str, ...] = ()
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = None
    auto_finalize: bool = False


@dataclass(frozen=True, slots=True)
class FinalizeResult:
    invoice: Invoice
    held: bool


def create_one_off_invoice(deps: Invoicing, request: OneOffInvoice, *, actor: str) -> FinalizeResult:
    """Price the lines (quantity × unit price, rounded once per line), apply coupons and taxes with
    ``compute_totals``, store a draft; finalize it at once when ``auto_finalize`` (held if a check
    fails: the draft is kept with its ``hold_reasons``)."""
    customer = deps.customers.resolve(request.customer)
    if customer is None:
        raise NotFound(f"no customer {request.customer!r}", code="customer_not_found", param="customer")
    if customer.deleted:
        raise Conflict(f"customer {customer.id} is deleted", code="customer_deleted", param="customer")
    if not request.lines:
        raise ValidationFailed("an invoice needs at least one line", code="too_few_items", param="lines")
    if len(request.lines) > MAX_ONE_OFF_LINES:
        raise ValidationFailed(f"at most {MAX_ONE_OFF_LINES} lines", code="too_many_items", param="lines")
    currency = normalize_currency(request.currency or customer.currency)
    rates = _rates_for_lines(deps, request.lines)
    coupons = _coupons(deps, request.coupons)
    priced: list[PricedLine] = []
    line_ids: list[str] = []
    for i, line in enumerate(request.lines):
        quantity = to_decimal(line.quantity, param=f"lines.{i}.quantity")
        if quantity <= 0:
            raise ValidationFailed(
                "quantity must be greater than zero", code="out_of_range", param=f"lines.{i}.quantity"
            )
        unit = to_decimal(line.unit_amount_decimal, param=f"lines.{i}.unit_amount_decimal")
        inclusive = _inclusive(line.tax_rate_ids, rates, param=f"lines.{i}.tax_rates")
        line_id = f"il_{secrets.token_hex(8)}"
        line_ids.append(line_id)
        priced.append(
            PricedLine.priced(
                id=line_id,
                description=line.description,
                currency=currency,
                quantity=quantity,
                amount=quantity * unit,
                tax_rate_ids=line.tax_rate_ids,
                tax_inclusive=inclusive,
            )
        )
    balance = deps.invoices.credit_balance(customer.id, currency)
    totals = compute_totals(
        currency=currency,
        lines=priced,
        coupons=coupons,
        credit_balance=balance,
        tax_rates={rate_id: _core_rate(rate) for rate_id, rate in rates.items()},
    )
    now = clock.now()
    days = request.days_until_due
    if days is None and request.collection_method == "send_invoice":
        days = DEFAULT_DAYS_UNTIL_DUE
    invoice = Invoice(
        id=f"{INVOICE_ID_PREFIX}{secrets.token_hex(8)}",
        customer_id=customer.id,
        status="draft",
        origin="one_off",
        collection_method=request.collection_method,
        currency=currency,
        billing_date=now,
        lines=_invoice_lines(request.lines, priced, totals),
        days_until_due=days,
        created_at=now,
        updated_at=now,
        **_totals_fields(totals),
    )
    deps.invoices.create(invoice)
    logger.info("invoice created", invoice_id=invoice.id, customer_id=customer.id, origin="one_off", by=actor)
    metrics.add_metric(name="OneOffInvoicesCreated", unit="Count", value=1)
    if request.auto_finalize:
        return finalize_invoice(deps, invoice.id, actor=actor)
    return FinalizeResult(invoice, held=False)


def _rates_for_lines(deps: Invoicing, lines: Sequence[OneOffLine]) -> dict[str, TaxRate]:
    wanted = [rate_id for line in lines for rate_id in line.tax_rate_ids]
    found = _rates(deps, wanted)
    for i, line in enumerate(lines):
        if len(set(line.tax_rate_ids)) != len(line.tax_rate_ids):
            raise ValidationFailed(
                "a tax rate is given twice", code="duplicate_tax_rate", param=f"lines.{i}.tax_rates"
            )
        for j, rate_id in enumerate(line.tax_rate_ids):
            rate = found.get(rate_id)
            if rate is None:
                raise ValidationFailed(
                    f"unknown tax rate {rate_id!r}", code="unknown_tax_rate", param=f"lines.{i}.tax_rates.{j}"
                )
            if not rate.active:
                raise ValidationFailed(
                    f"tax rate {rate_id!r} is archived",
                    code="tax_rate_inactive",
                    param=f"lines.{i}.tax_rates.{j}",
                )
    return found


def _rates(deps: Invoicing, rate_ids: Iterable[str]) -> dict[str, TaxRate]:
    """Stored rates by id; a shipped default not seeded yet is taken from ``billing.tax``."""
    wanted = list(dict.fromkeys(rate_ids))
    if not wanted:
        return {}
    if any(rate_id in default_rates() for rate_id in wanted):
        ensure_default_tax_rates(deps.tax_rates)  # shipped defaults are seeded lazily
    return deps.tax_rates.get_many(wanted)


def _core_rate(rate: TaxRate) -> CoreTaxRate:
    return as_tax_rate(rate)


def _inclusive(rate_ids: Sequence[str], rates: Mapping[str, TaxRate], *, param: str) -> bool:
    flags = {rates[r].inclusive for r in rate_ids}
    if len(flags) > 1:
        raise ValidationFailed(
            "a line's tax rates must be all inclusive or all exclusive",
            code="mixed_tax_inclusive",
            param=param,
        )
    return flags.pop() if flags else False


def _coupons(deps: Invoicing, codes: Sequence[str]) -> list[AppliedCoupon]:
    applied: list[AppliedCoupon] = []
    now = clock.now()
    for i, code in enumerate(codes):
        coupon = deps.coupons.get(code)
        if coupon is None:
            raise ValidationFailed(f"unknown coupon {code!r}", code="unknown_coupon", param=f"coupons.{i}")
        if not coupon.redeemable(now):
            raise ValidationFailed(
                f"coupon {code!r} is archived, expired or fully redeemed",
                code="coupon_not_redeemable",
                param=f"coupons.{i}",
            )
        applied.append(AppliedCoupon(coupon=parse_coupon(coupon.definition(), param=f"coupons.{i}")))
    return applied


def _invoice_lines(
    requested: Sequence[OneOffLine], priced: Sequence[PricedLine], totals: InvoiceTotals
) -> list[InvoiceLine]:
    out: list[InvoiceLine] = []
    for request, line, total in zip(requested, priced, totals.lines, strict=True):
        out.append(
            InvoiceLine(
                id=line.id,
                kind="one_off",
                description=line.description,
                quantity=_text(line.quantity),
                unit_amount_decimal=_text(request.unit_amount_decimal),
                amount=total.amount,
                amount_exact=_text(total.amount_exact),
                discount=total.discount,
                taxes=[
                    LineTax(
                        rate_id=t.rate_id,
                        percentage=_text(t.percentage),
                        amount=t.amount,
                        inclusive=t.inclusive,
                        legal_mention=t.legal_mention,
                    )
                    for t in total.taxes
                ],
                tax_rate_ids=list(line.tax_rate_ids),
                tax_inclusive=line.tax_inclusive,
                breakdown=[
                    {
                        "explanation": f"{_text(line.quantity)} × {_text(request.unit_amount_decimal)} "
                        f"= {_text(total.amount_exact)}, rounded to {total.amount}",
                    }
                ],
            )
        )
    return out


def _totals_fields(totals: InvoiceTotals) -> dict[str, Any]:
    return {
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "coupons": [
            CouponTotal(coupon_code=c.coupon_id, amount=c.amount) for c in totals.coupons if c.amount
        ],
        "taxes": [
            TaxTotal(
                rate_id=t.rate_id,
                display_name=t.name,
                percentage=_text(t.percentage),
                inclusive=t.inclusive,
                taxable_amount=t.taxable_amount,
                amount=t.amount,
                legal_mention=t.legal_mention,
            )
            for t in totals.taxes
        ],
        "tax": totals.tax_exclusive,
        "total": totals.total,
        "credit_applied": totals.credit_applied,
        "amount_due": totals.amount_due,
        "amount_remaining": totals.amount_due,
        "legal_mentions": list(totals.legal_mentions),
    }


def _text(value: Decimal | int | str) -> str:
    """A decimal as plain text, never in exponent form."""
    return format(Decimal(value), "f")


# --------------------------------------------------------------------------- pre-send checks


def _hold(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def pre_send_checks(
    invoice: Invoice,
    customer: Customer | None,
    *,
    rates: Mapping[str, TaxRate],
    seller: AccountSettings,
    payment_method_check: PaymentMethodCheck = has_payment_method,
) -> list[dict[str, str]]:
    """What would make the invoice go out broken, as ``{code, message}`` (empty: it may be sent)."""
    reasons: list[dict[str, str]] = []
    missing = seller.identity_problems()
    if missing:
        reasons.append(
            _hold(
                "missing_seller_identity",
                f"The seller's {' and '.join(m.replace('_', ' ') for m in missing)} must be on every "
                "invoice: set them with PATCH /v1/account.",
            )
        )
    if customer is None:
        return [*reasons, _hold("customer_not_found", f"Customer {invoice.customer_id} does not exist.")]
    if customer.deleted:
        reasons.append(_hold("customer_deleted", f"Customer {customer.id} is deleted."))
    if not invoice.lines:
        reasons.append(_hold("no_lines", "The invoice has no lines."))
    blank = [str(i + 1) for i, line in enumerate(invoice.lines) if not line.description.strip()]
    if blank:
        reasons.append(_hold("line_without_description", f"Line(s) {', '.join(blank)} have no description."))
    if invoice.currency != customer.currency:
        reasons.append(
            _hold(
                "currency_mismatch",
                f"The invoice is in {invoice.currency}, the customer is billed in {customer.currency}.",
            )
        )
    if invoice.collection_method == "send_invoice" and not customer.emails:
        reasons.append(
            _hold("missing_billing_email", "The invoice is sent by email but the customer has no email.")
        )
    if invoice.collection_method == "charge_automatically" and not payment_method_check(customer):
        reasons.append(
            _hold(
                "missing_payment_method",
                "The invoice is charged automatically but the customer has no payment method.",
            )
        )
    reasons += _tax_checks(invoice, customer, rates)
    problems = totals_problems(invoice)
    if problems:
        reasons.append(_hold("totals_mismatch", "; ".join(problems)))
    if invoice.total < 0:
        reasons.append(
            _hold(
                "negative_total",
                "The total is negative: issue a credit note on an earlier invoice instead.",
            )
        )
    return list({(r["code"], r["message"]): r for r in reasons}.values())


def _tax_checks(invoice: Invoice, customer: Customer, rates: Mapping[str, TaxRate]) -> list[dict[str, str]]:
    reasons: list[dict[str, str]] = []
    used = dict.fromkeys(
        r for line in invoice.lines for r in (*line.tax_rate_ids, *(t.rate_id for t in line.taxes))
    )
    if not used and invoice.origin == "subscription" and customer.tax_status == "taxable":
        if customer.address is None:
            reasons.append(
                _hold(
                    "missing_address", "The customer is taxable but has no address: tax cannot be determined."
                )
            )
        elif any(h.get("code") == "missing_address" for h in invoice.hold_reasons):
            # The draft was priced while the address was missing, so it carries no tax: never send it as is.
            reasons.append(
                _hold(
                    "missing_address",
                    "This draft was priced without tax because the customer had no address; "
                    "it stays held until it is priced again.",
                )
            )
    for rate_id in used:
        rate = rates.get(rate_id)
        if rate_id == REVERSE_CHARGE_RATE_ID or (rate is not None and rate.country == "EU"):
            if not any(t.type in VAT_ID_TYPES for t in customer.tax_ids):
                reasons.append(
                    _hold("missing_tax_id", "Reverse charge applies but the customer has no VAT number.")
                )
            continue
        if rate is None:
            reasons.append(_hold("unknown_tax_rate", f"Tax rate {rate_id} does not exist."))
            continue
        if customer.address is None:
            reasons.append(
                _hold(
                    "missing_address",
                    f"Tax {rate.display_name} depends on where the customer is; the customer has no address.",
                )
            )
        elif rate.state is not None and not customer.address.state:
            reasons.append(
                _hold(
                    "missing_address",
                    f"Tax {rate.display_name} depends on the state; the customer's address has none.",
                )
            )
    return reasons


def totals_problems(invoice: Invoice) -> list[str]:
    """Inconsistencies between the invoice's lines and its totals (a broken draft)."""
    problems: list[str] = []
    lines_sum = sum(line.amount for line in invoice.lines)
    if lines_sum != invoice.subtotal:
        problems.append(f"subtotal {invoice.subtotal} is not the sum of the lines ({lines_sum})")
    discount_sum = sum(line.discount for line in invoice.lines)
    if discount_sum != invoice.discount:
        problems.append(f"discount {invoice.discount} is not the sum of the line discounts ({discount_sum})")
    exclusive = sum(t.amount for t in invoice.taxes if not t.inclusive)
    if exclusive != invoice.tax:
        problems.append(f"tax {invoice.tax} is not the sum of the exclusive taxes ({exclusive})")
    expected = invoice.subtotal - invoice.discount + invoice.tax
    if invoice.total != expected:
        problems.append(f"total {invoice.total} is not subtotal − discount + tax ({expected})")
    return problems


def _rates_of_invoice(deps: Invoicing, invoice: Invoice) -> dict[str, TaxRate]:
    return _rates(
        deps, (r for line in invoice.lines for r in (*line.tax_rate_ids, *(t.rate_id for t in line.taxes)))
    )


# --------------------------------------------------------------------------- finalization


def finalize_invoice(deps: Invoicing, invoice_id: str, *, actor: str) -> FinalizeResult:
    """Check, number and open the draft (paid at once when nothing is due), or hold it.

    Held: the draft keeps ``hold_reasons`` and no number is consumed. Finalized: one transaction
    issues the number (see ``billing.services.numbering``), freezes the amounts and the customer
    snapshot, counts the open invoice, uses the credit balance, stores the hosted token and the
    pending notification; the notification is then enqueued."""
    for attempt in range(MAX_ATTEMPTS):
        invoice = get_invoice(deps, invoice_id)
        if invoice.status != "draft":
            raise Conflict(
                f"invoice {invoice.id} is {invoice.status}, not a draft: it was finalized already",
                code="invoice_not_draft",
                param="invoice_id",
            )
        customer = deps.customers.get(invoice.customer_id)
        current = _taxed_now(deps, invoice, customer)
        seller = deps.seller()
        reasons = pre_send_checks(
            current,
            customer,
            rates=_rates_of_invoice(deps, current),
            seller=seller,
            payment_method_check=deps.payment_method_check,
        )
        if reasons:
            held = _hold_invoice(deps, invoice, reasons, current=current)
            if held is None:
                backoff(attempt)
                continue
            return FinalizeResult(held, held=True)
        assert customer is not None
        now = clock.now()
        balance = deps.invoices.credit_balance(customer.id, invoice.currency)
        credit_applied = min(balance, current.total) if current.total > 0 else 0
        amount_due = current.total - credit_applied
        paid = amount_due == 0
        sequence = numbering.sequence_for(customer, mode=deps.numbering, account_prefix=deps.account_prefix)
        previous = deps.invoices.read_counter(sequence.scope)
        new = current.model_copy(
            update={
                "status": "paid" if paid else "open",
                "number": sequence.format(previous + 1),
                "finalized_at": now,
                "due_date": now + timedelta(days=invoice.days_until_due)
                if invoice.days_until_due is not None
                else None,
                "credit_applied": credit_applied,
                "amount_due": amount_due,
                "amount_remaining": amount_due,
                "paid_at": now if paid else None,
                "hold_reasons": [],
                "customer_snapshot": customer_snapshot(customer),
                "seller_snapshot": seller.snapshot(),
                "hosted_token": secrets.token_urlsafe(24),
                "notification_pending": True,
                "updated_at": now,
                "version": invoice.version + 1,
            }
        )
        try:
            deps.invoices.finalize(
                invoice,
                new,
                counter_scope=sequence.scope,
                previous_number=previous,
                open_delta=0 if paid else 1,
                credit_consumed=credit_applied,
                notification_kind=NOTIFICATION_INVOICE_FINALIZED,
                extra_actions=[
                    journal.invoice_event("invoice_finalized", new, at=now),
                    *([pending_payment_put(new.id, 1, now)] if _collects(new) else []),
                ],
            )
        except InvoiceWriteConflict as exc:
            if exc.reason == "number":
                raise Conflict(
                    f"invoice number {new.number} is already issued; the {sequence.scope} counter is behind",
                    code="invoice_number_taken",
                    param="invoice_id",
                ) from exc
            logger.debug("finalization lost a race; retrying", invoice_id=invoice.id, reason=exc.reason)
            backoff(attempt)
            continue
        logger.info(
            "invoice finalized",
            invoice_id=new.id,
            number=new.number,
            status=new.status,
            total=new.total,
            currency=new.currency,
            by=actor,
        )
        metrics.add_metric(name="InvoicesFinalized", unit="Count", value=1)
        enqueue_notification(deps, NOTIFICATION_INVOICE_FINALIZED, new.id)
        if _collects(new):
            enqueue_payment(deps, new.id, attempt=1)
        return FinalizeResult(deps.invoices.get(new.id) or new, held=False)
    raise Conflict(
        f"invoice {invoice_id} is being changed concurrently; retry",
        code="concurrent_update",
        param="invoice_id",
    )


def _taxed_now(deps: Invoicing, invoice: Invoice, customer: Customer | None) -> Invoice:
    """A cycle draft priced without tax (the customer had no address) taxed as the customer is now,
    once the address is there (or the customer is no longer taxable); otherwise the draft as is."""
    if customer is None or not drafts.priced_without_tax(invoice):
        return invoice
    if customer.tax_status == "taxable" and customer.address is None:
        return invoice
    tax = (
        drafts.tax_setup_for(
            customer, seller_country=deps.seller_country, catalog_rates=all_tax_rates(deps.tax_rates)
        )
        if deps.seller_country
        else drafts.NO_TAX
    )
    taxed = drafts.retax_draft(
        invoice,
        tax,
        credit_balance=deps.invoices.credit_balance(customer.id, invoice.currency),
        now=clock.now(),
    )
    logger.info("draft taxed at finalization", invoice_id=invoice.id, treatment=tax.treatment, tax=taxed.tax)
    return taxed


def _hold_invoice(
    deps: Invoicing, invoice: Invoice, reasons: list[dict[str, str]], *, current: Invoice | None = None
) -> Invoice | None:
    """Store the reasons (and ``current``, the draft taxed since, if it was); None when the invoice
    changed meanwhile (retry)."""
    logger.info("invoice held", invoice_id=invoice.id, reasons=[r["code"] for r in reasons])
    metrics.add_metric(name="InvoicesHeld", unit="Count", value=1)
    base = current or invoice
    if reasons == invoice.hold_reasons and base is invoice:
        return invoice
    new = base.model_copy(
        update={"hold_reasons": reasons, "updated_at": clock.now(), "version": invoice.version + 1}
    )
    try:
        deps.invoices.update(invoice, new)
    except InvoiceWriteConflict:
        return None
    return new


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """What the document prints about the customer, frozen at finalization."""
    return customer.model_dump(
        mode="json",
        include={
            "id", "external_id", "name", "emails", "address", "tax_ids", "tax_status", "currency",
            "time_zone", "locale", "preferred_locales", "invoice_prefix",
        },
    )  # fmt: skip


def backoff(attempt: int) -> None:
    """Sleep a little (jittered, growing) before retrying a lost race."""
    time.sleep(random.uniform(0, min(0.2, 0.004 * 2**attempt)))  # noqa: S311 - jitter, not a secret


# --------------------------------------------------------------------------- after finalization


def _change(
    deps: Invoicing,
    invoice_id: str,
    *,
    check: Callable[[Invoice], None],
    build: Callable[[Invoice, datetime], Invoice],
    event: str,
    actor: str,
) -> Invoice:
    """Re-read, check, write one status change (retrying a lost race); the open-invoice count follows."""
    for attempt in range(MAX_ATTEMPTS):
        current = get_invoice(deps, invoice_id)
        check(current)
        new = build(current, clock.now())
        extra = []
        if current.status == "open" and new.status != "open":
            extra.append(open_invoices_action(current.customer_id, -1))
        if new.status == "void" and current.status != "void":
            # What the customer already put into the invoice (credit balance used, partial payments)
            # goes back to their balance, in the same transaction as the void.
            returned = current.credit_applied + current.amount_paid
            if returned > 0:
                extra.append(credit_balance_action(current.customer_id, current.currency, returned))
        journal_event = journal.status_change_event(current, new)
        if journal_event is not None:
            extra.append(journal_event)
        extra += receipts.receipt_actions(current, new, at=new.updated_at)
        try:
            deps.invoices.update(current, new, extra_actions=extra)
        except InvoiceWriteConflict as exc:
            if exc.reason == "other":
                raise Conflict(
                    f"the open-invoice count of customer {current.customer_id} is inconsistent",
                    code="open_invoices_mismatch",
                    param="invoice_id",
                ) from exc
            backoff(attempt)
            continue
        logger.info(event, invoice_id=new.id, number=new.number, status=new.status, by=actor)
        if receipts.receipt_due(current, new):
            enqueue_notification(deps, receipts.NOTIFICATION_INVOICE_PAID, new.id)
        return new
    raise Conflict(
        f"invoice {invoice_id} is being changed concurrently; retry",
        code="concurrent_update",
        param="invoice_id",
    )


def _refuse_draft(invoice: Invoice, action: str) -> None:
    if invoice.status == "draft":
        raise Conflict(
            f"invoice {invoice.id} is a draft: finalize it before it can be {action}",
            code="invoice_is_draft",
            param="invoice_id",
        )


def _refuse(invoice: Invoice, status: str, code: str, message: str) -> None:
    if invoice.status == status:
        raise Conflict(message.format(id=invoice.id), code=code, param="invoice_id")


def delete_draft(deps: Invoicing, invoice_id: str, *, actor: str) -> Invoice:
    """Delete a one-off draft (never numbered, never sent: nothing refers to it). A cycle draft is
    not deleted: its subscription's period is recorded as billed by it; finalize it, then void it
    or credit it. Returns the invoice as it was."""
    for attempt in range(MAX_ATTEMPTS):
        invoice = get_invoice(deps, invoice_id)
        if invoice.status != "draft":
            raise Conflict(
                f"invoice {invoice.id} is {invoice.status}: only a draft can be deleted (void it instead)",
                code="invoice_not_draft",
                param="invoice_id",
            )
        if invoice.origin != "one_off":
            raise Conflict(
                f"invoice {invoice.id} bills subscription periods: finalize it, then void it or issue a "
                "credit note",
                code="invoice_from_subscription",
                param="invoice_id",
            )
        try:
            deps.invoices.delete_draft(invoice)
        except InvoiceWriteConflict:
            backoff(attempt)
            continue
        logger.info("draft invoice deleted", invoice_id=invoice.id, customer_id=invoice.customer_id, by=actor)
        metrics.add_metric(name="InvoiceDraftsDeleted", unit="Count", value=1)
        return invoice
    raise Conflict(
        f"invoice {invoice_id} is being changed concurrently; retry",
        code="concurrent_update",
        param="invoice_id",
    )


def void_invoice(deps: Invoicing, invoice_id: str, *, actor: str) -> Invoice:
    """Cancel a finalized invoice that should never have been issued (its number stays used)."""

    def check(invoice: Invoice) -> None:
        _refuse_draft(invoice, "voided")
        _refuse(invoice, "paid", "invoice_already_paid", "invoice {id} is paid: issue a credit note instead")
        _refuse(invoice, "void", "invoice_already_void", "invoice {id} is already void")
        if invoice.credit_notes_count:
            raise Conflict(
                f"invoice {invoice.id} has credit notes and cannot be voided",
                code="invoice_has_credit_notes",
                param="invoice_id",
            )

    def build(invoice: Invoice, now: datetime) -> Invoice:
        return invoice.model_copy(
            update={"status": "void", "voided_at": now, "updated_at": now, "version": invoice.version + 1}
        )

    invoice = _change(deps, invoice_id, check=check, build=build, event="invoice voided", actor=actor)
    metrics.add_metric(name="InvoicesVoided", unit="Count", value=1)
    return invoice


def mark_uncollectible(deps: Invoicing, invoice_id: str, *, actor: str) -> Invoice:
    """Write an open invoice off as bad debt (it can still be paid later)."""

    def check(invoice: Invoice) -> None:
        _refuse_draft(invoice, "marked uncollectible")
        _refuse(invoice, "paid", "invoice_already_paid", "invoice {id} is paid")
        _refuse(invoice, "void", "invoice_already_void", "invoice {id} is void")
        _refuse(
            invoice, "uncollectible", "invoice_already_uncollectible", "invoice {id} is already uncollectible"
        )

    def build(invoice: Invoice, now: datetime) -> Invoice:
        return invoice.model_copy(
            update={
                "status": "uncollectible",
                "marked_uncollectible_at": now,
                "updated_at": now,
                "version": invoice.version + 1,
            }
        )

    invoice = _change(
        deps, invoice_id, check=check, build=build, event="invoice marked uncollectible", actor=actor
    )
    metrics.add_metric(name="InvoicesUncollectible", unit="Count", value=1)
    return invoice


def mark_paid(
    deps: Invoicing,
    invoice_id: str,
    *,
    actor: str,
    paid_at: datetime | None = None,
    out_of_band: bool = True,
    method: OutOfBandMethod | None = None,
) -> Invoice:
    """Settle what remains of an open (or uncollectible) invoice in full.

    ``out_of_band``: paid outside the payment provider (``POST /v1/invoices/{id}/pay``), by
    ``method`` (bank transfer, cheque...): the amount settled and the method are kept for the receipt
    (emailed: money was received) and the payment history."""

    def check(invoice: Invoice) -> None:
        _refuse_draft(invoice, "paid")
        _refuse(invoice, "paid", "invoice_already_paid", "invoice {id} is already paid")
        _refuse(invoice, "void", "invoice_already_void", "invoice {id} is void")
        if paid_at is not None and invoice.finalized_at is not None and paid_at < invoice.finalized_at:
            raise ValidationFailed(
                "paid_at is before the invoice was finalized", code="out_of_range", param="paid_at"
            )

    def build(invoice: Invoice, now: datetime) -> Invoice:
        return invoice.model_copy(
            update={
                "status": "paid",
                "amount_paid": invoice.amount_paid + invoice.amount_remaining,
                "amount_remaining": 0,
                "paid_at": paid_at or now,
                "paid_out_of_band": out_of_band,
                "out_of_band_amount": invoice.amount_remaining if out_of_band else 0,
                "out_of_band_method": method if out_of_band else None,
                "updated_at": now,
                "version": invoice.version + 1,
            }
        )

    if paid_at is not None and paid_at > clock.now():
        raise ValidationFailed("paid_at is in the future", code="out_of_range", param="paid_at")
    invoice = _change(deps, invoice_id, check=check, build=build, event="invoice paid", actor=actor)
    metrics.add_metric(name="InvoicesPaid", unit="Count", value=1)
    return invoice


# --------------------------------------------------------------------------- notifications and schedule


def enqueue_notification(
    deps: Invoicing, kind: str, subject_id: str, *, message: Mapping[str, Any] | None = None
) -> bool:
    """Send the notification job, then drop the pending marker. On failure the marker stays and the
    finalizer schedule enqueues it again; the notifier's sent-marker absorbs any duplicate.
    ``subject_id`` is an invoice's id, or a credit note's (``credit_note_issued``)."""
    return send_pending_notification(deps.queue, deps.invoices, kind, subject_id, message=message)


def _collects(invoice: Invoice) -> bool:
    """Whether finalizing ``invoice`` starts an automatic collection (a PaymentAttempts job)."""
    return (
        invoice.status == "open"
        and invoice.collection_method == "charge_automatically"
        and invoice.amount_remaining > 0
    )


def enqueue_payment(deps: Invoicing, invoice_id: str, *, attempt: int) -> bool:
    """Send the collection job of ``attempt``, then drop the pending marker. On failure the marker
    stays and the finalizer schedule enqueues it again; the collector ignores a stale attempt."""
    if deps.payments_queue is None:
        logger.warning("no payment attempts queue configured; collection left pending", invoice_id=invoice_id)
        return False
    try:
        deps.payments_queue.send({"kind": "collect", "invoice_id": invoice_id, "attempt": attempt})
        PaymentRepository(table_name=deps.invoices.table_name).clear_pending(invoice_id)
    except ProviderUnavailable as exc:
        logger.warning(
            "payment attempt not enqueued; the finalizer will retry", invoice_id=invoice_id, error=str(exc)
        )
        metrics.add_metric(name="PaymentEnqueueFailures", unit="Count", value=1)
        return False
    return True


@dataclass
class FinalizerSummary:
    finalized: int = 0
    held: int = 0
    skipped: int = 0
    failed: int = 0
    notifications_requeued: int = 0
    payments_requeued: int = 0
    stopped_early: bool = False


def run_finalizer(
    deps: Invoicing, *, time_left: Callable[[], float], reserve_seconds: float = 10.0
) -> FinalizerSummary:
    """The ``invoice_finalizer`` schedule: finalize the drafts whose ``finalize_after`` has passed
    (oldest first; held ones are checked again each run), then re-enqueue notifications whose enqueue
    was never confirmed. Stops early when the function is about to time out (the next run continues)."""
    summary = FinalizerSummary()
    now = clock.now()
    cursor: dict[str, Any] | None = None
    while True:
        page = deps.invoices.list_by_status(
            "draft", limit=100, cursor=cursor, finalize_after_before=now, newest_first=False
        )
        for draft in page.invoices:
            if time_left() < reserve_seconds:
                summary.stopped_early = True
                return summary
            try:
                result = finalize_invoice(deps, draft.id, actor="system")
            except Conflict as exc:
                if exc.code == "invoice_not_draft":
                    summary.skipped += 1
                    continue
                summary.failed += 1
                logger.warning("draft not finalized", invoice_id=draft.id, code=exc.code)
                continue
            except BillingError as exc:
                summary.failed += 1
                logger.warning("draft not finalized", invoice_id=draft.id, code=exc.code)
                continue
            if result.held:
                summary.held += 1
            else:
                summary.finalized += 1
        cursor = page.last_key
        if not cursor:
            break
    requeue_before = timestamp(now - PENDING_NOTIFICATION_GRACE)
    for pending in deps.invoices.pending_notifications():
        if time_left() < reserve_seconds:
            summary.stopped_early = True
            break
        if pending["since"] > requeue_before:
            continue
        stored = json.loads(pending["message"]) if pending.get("message") else None
        if enqueue_notification(deps, pending["kind"], pending["subject_id"], message=stored):
            summary.notifications_requeued += 1
    for job in PaymentRepository(table_name=deps.invoices.table_name).pending():
        if time_left() < reserve_seconds:
            summary.stopped_early = True
            break
        if job["since"] > requeue_before:
            continue
        if enqueue_payment(deps, job["invoice_id"], attempt=job["attempt"]):
            summary.payments_requeued += 1
    return summary
