"""/v1/invoice-queries: customers' questions about their invoices (asked on the hosted page),
listed (by status, invoice, customer; newest first), read and resolved. See docs/invoices.md."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from billing.http.app import current_principal
from billing.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, page
from billing.models.invoice_queries import MAX_RESOLUTION_LENGTH, InvoiceQuery, InvoiceQueryStatus
from billing.repositories.dynamo import decode_cursor
from billing.services import invoice_queries as service
from billing.settings import get_settings

router = Router()
QueryId = Annotated[str, Path(pattern=r"^iq_[0-9a-f]{16}$", description="The query's id (iq_...).")]
_CURSOR_KEYS = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"}


@cache
def deps() -> service.Queries:
    return service.queries_from_settings(get_settings(), notifications=False)


class ResolveInvoiceQueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: StrictStr | None = Field(
        default=None,
        max_length=MAX_RESOLUTION_LENGTH,
        description="How it was answered (kept with the query; the customer sees it on the invoice page).",
    )


class InvoiceQueryOut(BaseModel):
    object: Literal["invoice_query"] = "invoice_query"
    id: str
    invoice: str
    invoice_number: str | None
    customer: str
    email: str = Field(description="The address the customer gave (the support email's Reply-To).")
    name: str | None
    message: str
    status: InvoiceQueryStatus
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="The API key id that resolved it.")
    resolution: str | None

    @classmethod
    def of(cls, query: InvoiceQuery) -> InvoiceQueryOut:
        return cls(
            id=query.id, invoice=query.invoice_id, invoice_number=query.invoice_number,
            customer=query.customer_id, email=query.email, name=query.name, message=query.message,
            status=query.status, created_at=query.created_at, resolved_at=query.resolved_at,
            resolved_by=query.resolved_by, resolution=query.resolution,
        )  # fmt: skip


@router.get(
    "/v1/invoice-queries", tags=["invoice-queries"], summary="List customers' questions about invoices"
)
def list_invoice_queries(
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[InvoiceQueryStatus | None, Query(description="open or resolved.")] = None,
    invoice: Annotated[str | None, Query(max_length=64, description="An invoice id (in_...).")] = None,
    customer: Annotated[
        str | None, Query(max_length=128, description="A customer id or external id.")
    ] = None,
) -> ListResponse[InvoiceQueryOut]:
    cursor = decode_cursor(starting_after, allowed_keys=_CURSOR_KEYS)
    items, last = service.list_invoice_queries(
        deps(), status=status, invoice=invoice, customer=customer, limit=limit, cursor=cursor
    )
    return page([InvoiceQueryOut.of(q) for q in items], last)


@router.get("/v1/invoice-queries/<query_id>", tags=["invoice-queries"], summary="Get an invoice query")
def get_invoice_query(query_id: QueryId) -> InvoiceQueryOut:
    return InvoiceQueryOut.of(service.get_invoice_query(deps(), query_id))


@router.post(
    "/v1/invoice-queries/<query_id>/resolve",
    tags=["invoice-queries"],
    summary="Resolve an invoice query (once: resolving again answers it unchanged)",
)
def resolve_invoice_query(
    query_id: QueryId, body: Annotated[ResolveInvoiceQueryRequest | None, Body()] = None
) -> InvoiceQueryOut:
    actor = current_principal(router).key_id  # type: ignore[arg-type]
    resolution = body.resolution if body is not None else None
    return InvoiceQueryOut.of(
        service.resolve_invoice_query(deps(), query_id, actor=actor, resolution=resolution)
    )
