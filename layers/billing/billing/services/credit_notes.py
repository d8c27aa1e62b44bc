"""Credit notes: reduce a finalized invoice after the fact (an open invoice cannot be edited).

A credit note names what it credits either per invoice line (``amount`` net of tax, or a
``quantity`` of the line) or as one ``amount`` (tax included) spread over the lines in proportion
to what each line cost. Taxes are recomputed with ``compute_totals`` at the percentages the invoice
was finalized with, so the tax credited is exactly the tax of what is credited.

Where the credit goes (as Stripe):

* **open invoice**: it reduces ``amount_remaining``; reaching 0 marks the invoice paid (and no
  longer open). Anything beyond what was still due goes to the customer's credit balance.
* **paid invoice**: all of it goes to the customer's credit balance, which the next invoice uses
  (``credit_applied`` at finalization).

The sum of an invoice's credit notes never exceeds its total (409 ``credit_exceeds_invoice``). The
credit note, the invoice (version checked), the credit balance and the open-invoice count change in
one transaction; its number is ``{invoice_number}-CN-{n:02d}`` from the invoice's own counter.

The same transaction writes a pending ``credit_note_issued`` notification: after the commit it is
enqueued, and the notifier stores the credit note's HTML and PDF and emails the customer (the
finalizer re-enqueues it if the enqueue was lost), as for a finalized invoice.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from billing import clock
from billing.errors import Conflict, NotFound, ValidationFailed
from billing.invoicing.totals import InvoiceTotals, PricedLine, compute_totals
from billing.models.invoices import CREDIT_NOTE_ID_PREFIX, CreditNote, Invoice, InvoiceLine, LineTax
from billing.money import allocate, round_exact
from billing.observability import logger, metrics
from billing.repositories import credit_notes as credit_note_items
from billing.repositories.credit_notes import CreditNoteRepository
from billing.repositories.invoices import (
    InvoiceWriteConflict,
    credit_balance_action,
    open_invoices_action,
    pending_notification_put,
    update_action,
)
from billing.services.invoices import (
    MAX_ATTEMPTS,
    Invoicing,
    backoff,
    enqueue_notification,
    get_invoice,
)
from billing.services.journal import credit_note_event
from billing.services.numbering import format_credit_note_number
from billing.services.outbox import NOTIFICATION_CREDIT_NOTE_ISSUED
from billing.tax import TaxRate as CoreTaxRate

Reason = Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory", "other"]
_UNUSED_COUNTRY = "ZZ"
"""A frozen rate is recomputed from its percentage; its jurisdiction plays no part (ISO user code)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditLine:
    invoice_line_id: str
    amount: int | None = None
    """Net of tax (tax included for a tax-inclusive line), minor units."""
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditNoteRequest:
    invoice: str
    lines: tuple[CreditLine, ...] | None = None
    amount: int | None = None
    """Tax included, minor units, spread over the invoice's lines."""
    reason: Reason = "other"
    memo: str | None = None


def get_credit_note(repo: CreditNoteRepository, credit_note_id: str) -> CreditNote:
    note = repo.get(credit_note_id) if credit_note_id.startswith(CREDIT_NOTE_ID_PREFIX) else None
    if note is None:
        raise NotFound(
            f"no credit note {credit_note_id!r}", code="credit_note_not_found", param="credit_note_id"
        )
    return note


def list_credit_notes(
    deps: Invoicing,
    repo: CreditNoteRepository,
    *,
    invoice: str | None,
    customer: str | None,
    limit: int,
    cursor: dict[str, Any] | None,
) -> tuple[list[CreditNote], dict[str, Any] | None]:
    if invoice is not None:
        found = _invoice(deps, invoice)
        return repo.list_for_invoice(found.id, limit=limit, cursor=cursor)
    if customer is not None:
        owner = deps.customers.resolve(customer)
        if owner is None:
            raise NotFound(f"no customer {customer!r}", code="customer_not_found", param="customer")
        return repo.list_for_customer(owner.id, limit=limit, cursor=cursor)
    raise ValidationFailed(
        "filter credit notes by invoice or customer", code="missing_filter", param="invoice"
    )


def create_credit_note(
    deps: Invoicing, repo: CreditNoteRepository, request: CreditNoteRequest, *, actor: str
) -> CreditNote:
    if (request.lines is None) == (request.amount is None):
        raise ValidationFailed("give either lines or amount", code="lines_or_amount_required", param="lines")
    for attempt in range(MAX_ATTEMPTS):
        invoice = _invoice(deps, request.invoice)
        _check_creditable(invoice)
        priced, credited, by_quantity = _priced_lines(invoice, request)
        totals = compute_totals(currency=invoice.currency, lines=priced, tax_rates=_frozen_rates(invoice))
        total = totals.total
        if total <= 0:
            raise ValidationFailed("the credit note credits nothing", code="out_of_range", param="amount")
        available = invoice.total - invoice.credit_notes_total
        if total > available:
            raise Conflict(
                f"crediting {total} would exceed the invoice: {available} of its total {invoice.total} "
                "can still be credited",
                code="credit_exceeds_invoice",
                param="amount" if request.amount is not None else "lines",
            )
        now = clock.now()
        reduces = min(total, invoice.amount_remaining) if invoice.status == "open" else 0
        to_balance = total - reduces
        count = invoice.credit_notes_count + 1
        assert invoice.number is not None
        tax = totals.tax_exclusive + totals.tax_inclusive
        note = CreditNote(
            id=f"{CREDIT_NOTE_ID_PREFIX}{secrets.token_hex(8)}",
            number=format_credit_note_number(invoice.number, count),
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            lines=_credit_lines(priced, credited, by_quantity, totals),
            subtotal=total - tax,
            tax=tax,
            total=total,
            reduces_amount_due=reduces,
            credit_to_balance=to_balance,
            reason=request.reason,
            memo=request.memo,
            created_at=now,
            actor=actor,
            hosted_token=invoice.hosted_token,
        )
        remaining = invoice.amount_remaining - reduces
        settled = invoice.status == "open" and remaining == 0
        new_invoice = invoice.model_copy(
            update={
                "credit_notes_total": invoice.credit_notes_total + total,
                "credit_notes_count": count,
                "amount_remaining": remaining,
                "status": "paid" if settled else invoice.status,
                "paid_at": now if settled else invoice.paid_at,
                "updated_at": now,
                "version": invoice.version + 1,
            }
        )
        actions = [
            update_action(invoice, new_invoice),
            credit_note_items.put_action(note),
            credit_note_event(note),
            # Its document and email: enqueued after the commit, re-enqueued by the finalizer if lost.
            pending_notification_put(NOTIFICATION_CREDIT_NOTE_ISSUED, note.id, now),
        ]
        reasons = ["invoice", "race", "race", "race"]
        if to_balance:
            actions.append(credit_balance_action(invoice.customer_id, invoice.currency, to_balance))
            reasons.append("race")
        if settled:
            actions.append(open_invoices_action(invoice.customer_id, -1))
            reasons.append("customer")
        try:
            deps.invoices.write(actions, reasons=reasons)
        except InvoiceWriteConflict as exc:
            if exc.reason == "customer":
                raise Conflict(
                    f"the open-invoice count of customer {invoice.customer_id} is inconsistent",
                    code="open_invoices_mismatch",
                    param="invoice",
                ) from exc
            backoff(attempt)
            continue
        logger.info(
            "credit note created",
            credit_note_id=note.id,
            number=note.number,
            invoice_id=invoice.id,
            total=total,
            reduces_amount_due=reduces,
            credit_to_balance=to_balance,
            by=actor,
        )
        metrics.add_metric(name="CreditNotesCreated", unit="Count", value=1)
        enqueue_notification(deps, NOTIFICATION_CREDIT_NOTE_ISSUED, note.id)
        return note
    raise Conflict(
        f"invoice {request.invoice} is being changed concurrently; retry",
        code="concurrent_update",
        param="invoice",
    )


def _invoice(deps: Invoicing, invoice_id: str) -> Invoice:
    try:
        return get_invoice(deps, invoice_id)
    except NotFound as error:
        error.param = "invoice"
        raise


def _check_creditable(invoice: Invoice) -> None:
    refusals = {
        "draft": ("invoice_is_draft", "is a draft: change it instead, or finalize it first"),
        "void": ("invoice_already_void", "is void"),
        "uncollectible": ("invoice_uncollectible", "is uncollectible: pay or void it instead"),
    }
    if invoice.status in refusals:
        code, why = refusals[invoice.status]
        raise Conflict(
            f"invoice {invoice.id} {why}; only open or paid invoices take credit notes",
            code=code,
            param="invoice",
        )


def _net(line: InvoiceLine) -> int:
    """What the line cost after its discount (before exclusive tax; inclusive tax is inside)."""
    return line.amount - line.discount


def _gross(line: InvoiceLine) -> int:
    exclusive = sum(t.amount for t in line.taxes if not t.inclusive)
    return _net(line) + (0 if line.tax_inclusive else exclusive)


def _priced_lines(
    invoice: Invoice, request: CreditNoteRequest
) -> tuple[list[PricedLine], list[InvoiceLine], list[bool]]:
    """The credit as priced lines (one per invoice line credited), the invoice lines they credit,
    and whether each was credited by quantity."""
    by_id = {line.id: line for line in invoice.lines}
    priced: list[PricedLine] = []
    credited: list[InvoiceLine] = []
    by_quantity: list[bool] = []
    if request.amount is not None:
        if request.amount <= 0:
            raise ValidationFailed("amount must be greater than zero", code="out_of_range", param="amount")
        candidates = [line for line in invoice.lines if _gross(line) > 0]
        if not candidates:
            raise ValidationFailed("the invoice has nothing to credit", code="out_of_range", param="amount")
        shares = allocate(request.amount, [_gross(line) for line in candidates])
        for line, share in zip(candidates, shares, strict=True):
            if share == 0:
                continue
            priced.append(_priced(invoice, line, share, quantity=None, inclusive=True))
            credited.append(line)
            by_quantity.append(False)
        return priced, credited, by_quantity
    assert request.lines is not None
    if not request.lines:
        raise ValidationFailed("give at least one line", code="too_few_items", param="lines")
    seen: set[str] = set()
    for i, wanted in enumerate(request.lines):
        at = f"lines.{i}"
        found = by_id.get(wanted.invoice_line_id)
        if found is None:
            raise ValidationFailed(
                f"invoice {invoice.id} has no line {wanted.invoice_line_id!r}",
                code="unknown_invoice_line",
                param=f"{at}.invoice_line_id",
            )
        line = found
        if line.id in seen:
            raise ValidationFailed(
                "a line is credited twice", code="duplicate_line", param=f"{at}.invoice_line_id"
            )
        seen.add(line.id)
        if (wanted.amount is None) == (wanted.quantity is None):
            raise ValidationFailed(
                "give either amount or quantity", code="amount_or_quantity_required", param=at
            )
        net = _net(line)
        if wanted.amount is not None:
            if wanted.amount <= 0:
                raise ValidationFailed(
                    "amount must be greater than zero", code="out_of_range", param=f"{at}.amount"
                )
            if wanted.amount > net:
                raise ValidationFailed(
                    f"the line cost {net}; {wanted.amount} cannot be credited on it",
                    code="credit_exceeds_line",
                    param=f"{at}.amount",
                )
            amount, quantity = wanted.amount, None
        else:
            assert wanted.quantity is not None
            line_quantity = Decimal(line.quantity)
            if wanted.quantity <= 0:
                raise ValidationFailed(
                    "quantity must be greater than zero", code="out_of_range", param=f"{at}.quantity"
                )
            if line_quantity <= 0 or wanted.quantity > line_quantity:
                raise ValidationFailed(
                    f"the line has a quantity of {line.quantity}",
                    code="credit_exceeds_line",
                    param=f"{at}.quantity",
                )
            # net × credited / billed, rounded once (half-up): the discount is credited pro rata.
            amount = round_exact(Fraction(net) * Fraction(wanted.quantity) / Fraction(line_quantity))
            quantity = wanted.quantity
        if amount <= 0:
            raise ValidationFailed("the line credits nothing", code="out_of_range", param=at)
        priced.append(_priced(invoice, line, amount, quantity=quantity, inclusive=line.tax_inclusive))
        credited.append(line)
        by_quantity.append(quantity is not None)
    return priced, credited, by_quantity


def _priced(
    invoice: Invoice, line: InvoiceLine, amount: int, *, quantity: Decimal | None, inclusive: bool
) -> PricedLine:
    return PricedLine.priced(
        id=line.id,
        description=line.description,
        currency=invoice.currency,
        quantity=quantity if quantity is not None else Decimal(1),
        amount=amount,
        tax_rate_ids=_line_rate_ids(line),
        tax_inclusive=inclusive,
    )


def _line_rate_ids(line: InvoiceLine) -> list[str]:
    return list(dict.fromkeys([*line.tax_rate_ids, *(t.rate_id for t in line.taxes)]))


def _frozen_rates(invoice: Invoice) -> dict[str, CoreTaxRate]:
    """The invoice's rates at the percentages it was finalized with."""
    rates: dict[str, CoreTaxRate] = {}
    for total in invoice.taxes:
        rates[total.rate_id] = CoreTaxRate(
            id=total.rate_id,
            country=_UNUSED_COUNTRY,
            name=total.display_name or total.rate_id,
            percentage=Decimal(total.percentage),
            legal_mention=total.legal_mention,
        )
    for line in invoice.lines:
        for tax in line.taxes:
            rates.setdefault(
                tax.rate_id,
                CoreTaxRate(
                    id=tax.rate_id,
                    country=_UNUSED_COUNTRY,
                    name=tax.rate_id,
                    percentage=Decimal(tax.percentage),
                    legal_mention=tax.legal_mention,
                ),
            )
    return rates


def _credit_lines(
    priced: Sequence[PricedLine],
    credited: Sequence[InvoiceLine],
    by_quantity: Sequence[bool],
    totals: InvoiceTotals,
) -> list[InvoiceLine]:
    out: list[InvoiceLine] = []
    for line, original, counted, total in zip(priced, credited, by_quantity, totals.lines, strict=True):
        quantity = format(line.quantity, "f")
        out.append(
            InvoiceLine(
                id=original.id,
                kind="credit",
                description=original.description,
                quantity=quantity,
                unit_amount_decimal=original.unit_amount_decimal if counted else None,
                amount=total.amount,
                amount_exact=format(total.amount_exact, "f"),
                taxes=[
                    LineTax(
                        rate_id=t.rate_id,
                        percentage=format(t.percentage, "f"),
                        amount=t.amount,
                        inclusive=t.inclusive,
                        legal_mention=t.legal_mention,
                    )
                    for t in total.taxes
                ],
                tax_rate_ids=list(line.tax_rate_ids),
                tax_inclusive=line.tax_inclusive,
                period_start=original.period_start,
                period_end=original.period_end,
                subscription_id=original.subscription_id,
                plan_code=original.plan_code,
                metric_code=original.metric_code,
                breakdown=[
                    {
                        "explanation": f"credit of {total.amount} on invoice line {original.id}"
                        + (" (tax included)" if line.tax_inclusive else ""),
                        "invoice_line_id": original.id,
                    }
                ],
            )
        )
    return out
