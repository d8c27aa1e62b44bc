"""Cursor pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ListResponse[T](BaseModel):
    object: str = "list"
    data: list[T]
    has_more: bool
    next_cursor: str | None = None


def page[T](items: list[T], last_key: dict[str, Any] | None) -> ListResponse[T]:
    from billing.repositories.dynamo import encode_cursor

    cursor = encode_cursor(last_key)
    return ListResponse[T](data=items, has_more=cursor is not None, next_cursor=cursor)
